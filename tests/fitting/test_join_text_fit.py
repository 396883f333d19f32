"""A fit with ``join_text``: the joined input is in the saved spec, a loaded predictor predicts the
same from the original columns (a row with an empty Title too), and a bad column name stops the fit
before anything heavy runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transmodal.errors import ConfigError
from transmodal.predictor import MultimodalPredictor

TINY = {"max_epochs": 2, "batch_size": 16, "hidden_dim": 16, "progress_bar": False,
        "encoders": {"text": {"name": "builtin_text", "output_dim": 16}}}


def _frame(n: int = 100) -> pd.DataFrame:
    """Title (two missing) and Review Text each carry the label most of the time; a number beside them."""
    rng = np.random.default_rng(0)
    words = ["calm quiet soft gentle", "loud bright sharp strong"]
    y = rng.integers(2, size=n)
    shown = lambda: [int(v) if rng.random() < 0.8 else 1 - int(v) for v in y]  # noqa: E731
    frame = pd.DataFrame({"Title": [f"title {words[v].split()[0]}" for v in shown()],
                          "Review Text": [f"{words[v]} item {i}" for i, v in enumerate(shown())],
                          "size": y + rng.normal(0, 0.7, n), "label": np.where(y == 1, "yes", "no")})
    frame.loc[[3, 7], "Title"] = np.nan
    return frame


@pytest.mark.slow
def test_a_fit_reads_the_joined_text_and_a_loaded_predictor_predicts_the_same(tmp_path):
    frame = _frame()
    predictor = MultimodalPredictor("label").fit(frame, hyperparameters={**TINY, "join_text": "all"},
                                                 column_types={"Title": "text"})  # the report runs too
    texts = [(s.name, s.modality, s.columns) for s in predictor.inputs_ if s.modality == "text"]
    assert texts == [("Title+Review Text", "text", ["Title", "Review Text"])]
    assert predictor.column_types_["Title"] == "text"  # the table (and a request) still has its columns
    loaded = MultimodalPredictor.load(predictor.save(tmp_path / "model"))
    assert [s.columns for s in loaded.inputs_] == [s.columns for s in predictor.inputs_]
    new = _frame(30).drop(columns=["label"])
    new.loc[0, "Title"] = None  # an empty Title: the row reads "Review Text: ..."
    np.testing.assert_allclose(loaded.predict_proba(new).to_numpy(), predictor.predict_proba(new).to_numpy(),
                               atol=1e-6)
    assert loaded.dataset(new.iloc[:1]).item(loaded.inputs_[0], 0) == f"Review Text: {new.loc[0, 'Review Text']}"
    # the joined text decides: another Title changes the prediction of the row, as it would of its own input
    other = new.assign(Title="title completely different words")
    assert not np.allclose(loaded.predict_proba(other).to_numpy(), loaded.predict_proba(new).to_numpy())


def test_a_bad_join_text_column_fails_before_the_fit_with_the_column_named(monkeypatch):
    from transmodal.fitting import pipeline

    monkeypatch.setattr(pipeline, "run_fit", lambda *a, **k: pytest.fail("the fit ran"))
    with pytest.raises(ConfigError, match=r"join_text names the column 'Titel'.*did you mean 'Title'"):
        MultimodalPredictor("label").fit(_frame(), hyperparameters={**TINY, "join_text": ["Titel", "Review Text"]},
                                         column_types={"Title": "text"})
