"""Studies on a tiny table: reproducible for a seed, the best trial kept and saved with trials.csv."""

from __future__ import annotations

import pandas as pd
import pytest

from transmodal import MultimodalPredictor
from transmodal.errors import ConfigError, TransmodalError
from tunetools import SPACE, TRIAL_HYPERPARAMETERS, numbers_table

pytestmark = pytest.mark.slow

STABLE = ("number", "state", "score", "epochs", "best_epoch", "params.learning_rate", "params.dropout")


def study(seed: int, n_trials: int = 3, **tune) -> MultimodalPredictor:
    return MultimodalPredictor(label="label").fit(
        numbers_table(), hyperparameters=TRIAL_HYPERPARAMETERS, seed=seed,
        tune={"n_trials": n_trials, "search_space": SPACE, "pruner": "none", **tune})


def stable(predictor: MultimodalPredictor) -> list[dict]:
    return [{k: row[k] for k in STABLE} for row in predictor.report_["tuning"]["trials"]]


@pytest.fixture(scope="module")
def seed0() -> MultimodalPredictor:
    return study(0)


def test_a_study_is_reproducible_for_a_seed(seed0):
    again = study(0)
    assert stable(seed0) == stable(again)
    assert seed0.history_["tuning"]["best_params"] == again.history_["tuning"]["best_params"]
    other = study(1, n_trials=2)
    assert stable(other)[0]["params.learning_rate"] == stable(seed0)[0]["params.learning_rate"]  # the base trial
    assert stable(other)[1]["params.learning_rate"] != stable(seed0)[1]["params.learning_rate"]
    assert len({r["params.learning_rate"] for r in stable(seed0)}) == 3  # three different draws


def test_the_best_trial_is_the_kept_model_and_trials_go_to_the_folder(seed0, tmp_path):
    predictor = seed0
    summary = predictor.history_["tuning"]
    rows = predictor.report_["tuning"]["trials"]
    best = max((r for r in rows if r["state"] == "complete"), key=lambda r: r["score"])
    assert summary["best_trial"] == best["number"] and summary["refit"] is False
    assert predictor.config_.learning_rate == pytest.approx(best["params.learning_rate"])
    assert predictor.config_.dropout == pytest.approx(best["params.dropout"])
    assert predictor.history_["best_score"] == pytest.approx(best["score"])  # the trial's own fit, not a new one
    folder = predictor.save(tmp_path / "model")
    trials = pd.read_csv(folder / "trials.csv")
    assert list(trials["number"]) == [0, 1, 2] and set(trials["state"]) == {"complete"}
    assert {"score", "seconds", "params.learning_rate", "params.dropout"} <= set(trials.columns)
    assert "Hyperparameter search" in (folder / "report.html").read_text(encoding="utf-8")
    loaded = MultimodalPredictor.load(folder)
    assert loaded.config_.learning_rate == pytest.approx(best["params.learning_rate"])
    assert loaded.history_["tuning"]["best_trial"] == best["number"]


def test_failing_trials_are_recorded_and_the_study_goes_on():
    # an unknown loss name passes the space check (any text is a loss choice) but fails in the fit
    predictor = study(0, n_trials=3, search_space={"learning_rate": SPACE["learning_rate"],
                                                   "loss": ["auto", "no_such_loss"]})
    rows = predictor.report_["tuning"]["trials"]
    assert len(rows) == 3 and {r["state"] for r in rows} == {"complete", "fail"}
    assert all("no_such_loss" in r["error"] for r in rows if r["state"] == "fail")
    assert predictor.history_["tuning"]["best_params"]["loss"] == "auto"


def test_a_study_where_every_trial_fails_says_why():
    with pytest.raises(TransmodalError, match="no trial of the study completed; first error.*no_such_loss"):
        study(0, n_trials=1, search_space={"loss": ["no_such_loss"]})


def test_an_invalid_space_key_fails_before_any_trial():
    with pytest.raises(ConfigError, match="'learnin_rate'"):
        study(0, search_space={"learnin_rate": {"low": 0.01, "high": 0.1}})


def test_a_stored_study_refuses_another_search_space(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study(0, n_trials=1, storage=storage)
    with pytest.raises(ConfigError, match="search_space"):
        study(0, n_trials=2, storage=storage, search_space={"dropout": SPACE["dropout"]})


def test_frozen_encoder_features_are_encoded_once_for_the_whole_study(tmp_path, monkeypatch):
    from tinycheckpoints import BERT_WORDS, save_tiny_bert

    monkeypatch.setenv("TRANSMODAL_CACHE", str(tmp_path / "store"))
    table = numbers_table()
    table["review"] = [" ".join(BERT_WORDS[(i + j) % len(BERT_WORDS)] for j in range(i % 7 + 1)) for i in range(len(table))]
    hyperparameters = {**TRIAL_HYPERPARAMETERS, "encoders": {
        **TRIAL_HYPERPARAMETERS["encoders"],
        "text": {"name": "hf_text", "checkpoint": save_tiny_bert(tmp_path / "bert"), "frozen": True}}}
    predictor = MultimodalPredictor(label="label").fit(
        table, hyperparameters=hyperparameters, seed=0, column_types={"review": "text"},
        tune={"n_trials": 3, "search_space": SPACE, "pruner": "none"})
    encoded = [row["encoded_cells"] for row in predictor.report_["tuning"]["trials"]]
    assert encoded[0] > 0 and encoded[1:] == [0, 0]  # the first trial fills the store, the others read it
