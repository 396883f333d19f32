"""``tfidf_linear``: the regularisation chosen on each split's validation rows, and the naive-Bayes
log-count-ratio scaling (NB-SVM) folded into the saved weights."""

from __future__ import annotations

import numpy as np
import pytest

from ensembletools import tiny_frame

from transmodal.ensemble.members.base import MEMBERS, MemberContext
from transmodal.ensemble.members.tfidf_linear import log_count_ratio
from transmodal.heads.task import TaskSpec

COLUMNS = {"review": "text", "size": "numeric", "color": "categorical"}


def _context(problem_type: str = "binary") -> MemberContext:
    classes = ["no", "yes"] if problem_type == "binary" else ["maybe", "no", "yes"]
    return MemberContext("label", TaskSpec("label", problem_type, classes), COLUMNS,
                         "roc_auc" if problem_type == "binary" else "log_loss")


def _member(n: int, **options):
    frame = tiny_frame(n)
    member = MEMBERS.get("tfidf_linear")(_context(), options)
    member.prepare(frame)
    return member, member.features(frame), (frame["label"] == "yes").to_numpy().astype(int)


def test_the_linear_member_keeps_the_grid_value_that_scores_best_on_the_validation_rows():
    from sklearn.metrics import roc_auc_score

    member, x, y = _member(200, C=[0.001, 0.1, 10.0])
    chosen = member.fit_model(x[:140], y[:140], x[140:], y[140:], None)
    scores = {c: roc_auc_score(y[140:], member.model_scores(member._fit_one(x[:140], y[:140], c), x[140:])[:, 1])
              for c in (0.001, 0.1, 10.0)}
    assert chosen["value"][0] == pytest.approx(max(scores, key=scores.get))
    member.models = [chosen, {**chosen, "value": np.array([10.0], dtype=np.float32)},
                     {**chosen, "value": np.array([10.0], dtype=np.float32)}]
    refit = member.refit_model(x, y, None)
    assert refit["value"][0] == pytest.approx(10.0)  # the median of the splits' choices



def test_a_regression_label_chooses_ridge_alpha_from_its_grid_on_the_validation_rows():
    """``alpha`` is the grid of regression labels (``C`` is not read): a huge alpha predicts the
    mean (R^2 about 0), so a learnable target keeps the small one; the refit keeps the splits' median."""
    from sklearn.metrics import r2_score

    frame = tiny_frame(200)
    y = (frame["size"].fillna(0).to_numpy() + 2.0 * (frame["label"] == "yes")).astype(float)
    y = (y - y.mean()) / y.std()  # the ensemble's standardised target
    context = MemberContext("label", TaskSpec("label", "regression"), COLUMNS, "r2")
    member = MEMBERS.get("tfidf_linear")(context, {"alpha": [1e6, 0.5], "C": [123.0]})
    member.prepare(frame.drop(columns="label"))
    x = member.features(frame)
    chosen = member.fit_model(x[:140], y[:140], x[140:], y[140:], None)
    assert chosen["value"][0] == pytest.approx(0.5)
    assert r2_score(y[140:], member.model_scores(chosen, x[140:])) > 0.5
    member.models = [chosen, {**chosen, "value": np.array([1e6], dtype=np.float32)},
                     {**chosen, "value": np.array([1e6], dtype=np.float32)}]
    assert member.refit_model(x, y, None)["value"][0] == pytest.approx(1e6)


def test_log_count_ratios_scale_the_features_and_fold_into_the_weights():
    from sklearn.linear_model import LogisticRegression

    member, x, y = _member(160, log_count_ratio=True, C=1.0)
    model = member.fit_model(x[:120], y[:120], x[120:], y[120:], None)
    ratio = log_count_ratio(x[:120], y[:120])
    assert ratio.shape == (x.shape[1],)
    yes_word = member.text.vectorizers["review/word"].vocabulary_["loud"]  # a word of the "yes" rows
    assert ratio[yes_word] > 1.0
    reference = LogisticRegression(C=1.0, max_iter=300).fit(x[:120].multiply(ratio).tocsr(), y[:120])
    expected = reference.predict_proba(x[120:].multiply(ratio).tocsr())
    np.testing.assert_allclose(member.model_scores(model, x[120:]), expected, atol=1e-5)


def test_log_count_ratio_is_skipped_for_a_label_that_is_not_binary():
    kind = MEMBERS.get("tfidf_linear")
    assert kind.skip_reason(_context("multiclass"), {"log_count_ratio": True}) == (
        "skipped: log_count_ratio needs a binary label")
    assert kind.skip_reason(_context("multiclass"), {}) is None
    assert kind.skip_reason(_context("binary"), {"log_count_ratio": True}) is None


@pytest.mark.slow
def test_without_tfidf_the_member_reads_standardised_embeddings_numbers_and_categories(tmp_path):
    from transmodal.ensemble.auto import AutoPredictor

    frame = tiny_frame(120)
    encoder = {"text": {"name": "builtin_text", "output_dim": 8}}
    member = MEMBERS.get("tfidf_linear")(_context(), {"tfidf": False, "embeddings": encoder})
    member.prepare(frame)
    x = member.features(frame).toarray()
    assert x.shape == (120, 2 + 2 + 8)  # one-hot colours (2 in a binary tiny frame), size and its missing flag, embedding
    embedded = member.embeddings.transform(frame, scaled=True)
    np.testing.assert_allclose(embedded.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(embedded.std(axis=0), 1.0, atol=1e-3)
    np.testing.assert_allclose(x[:, -8:], embedded, atol=1e-6)

    options = {"tfidf_linear": {"tfidf": False, "embeddings": encoder, "C": [0.01, 0.1]},
               "lightgbm": {"svd_components": 4}}
    auto = AutoPredictor(label="label").fit(frame.iloc[:100], presets="fast", time_limit=120, hyperparameters=options)
    auto.weights_ = {name: 1 / len(auto.members_) for name in auto.members_}
    loaded = AutoPredictor.load(auto.save(tmp_path / "model"))
    test = frame.iloc[100:]
    np.testing.assert_array_equal(loaded.members_["tfidf_linear"].predict(test),
                                  auto.members_["tfidf_linear"].predict(test))
    assert loaded.members_["tfidf_linear"].text.columns == []


def test_log_numbers_add_the_signed_log_of_each_number_standardised_and_survive_save_and_load():
    """``log_numbers``: one more column per number, ``sign(x) * log1p(|x|)`` standardised on the
    fitted rows (missing: 0), after the standardised values and their missing flags; the saved
    member rebuilds the same features and predictions."""
    frame = tiny_frame(120)
    frame["size"] = np.where(np.arange(120) % 2, 1.0, -1.0) * np.exp(np.arange(120) % 9)  # long-tailed, signed
    frame.loc[3, "size"] = np.nan
    context = MemberContext("label", TaskSpec("label", "regression"), COLUMNS, "r2")
    plain = MEMBERS.get("tfidf_linear")(context, {})
    member = MEMBERS.get("tfidf_linear")(context, {"log_numbers": True})
    for m in (plain, member):
        m.prepare(frame)
    x, x_plain = member.features(frame).toarray(), plain.features(frame).toarray()
    assert x.shape[1] == x_plain.shape[1] + 1
    values = frame["size"].to_numpy()
    logged = np.sign(values) * np.log1p(np.abs(values))
    known = ~np.isnan(logged)
    expected = np.where(known, (logged - np.nanmean(logged)) / np.nanstd(logged), 0.0)
    column = x_plain.shape[1] - member.embeddings.transform(frame).shape[1]  # numbers come before embeddings
    np.testing.assert_allclose(x[:, column], expected, atol=1e-5)
    np.testing.assert_allclose(np.delete(x, column, axis=1), x_plain, atol=0)

    y = np.nan_to_num(logged)
    member.models = [member.fit_model(x[:90], y[:90], x[90:], y[90:], None)]
    loaded = type(member).load(context, {"log_numbers": True}, member.save())
    np.testing.assert_array_equal(loaded.predict(frame), member.predict(frame))
    assert loaded.log_numbers.signed_log and loaded.log_numbers.columns == ["size"]
