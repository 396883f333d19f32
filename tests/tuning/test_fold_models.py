"""The chosen configuration's fold models as one model (``tune.final_fit="fold_models"``): an
``AutoPredictor`` with one bagged neural member, saved, loaded and predicted as any ensemble."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from transmodal import AutoPredictor, MultimodalPredictor
from transmodal.errors import ConfigError
from transmodal.tuning.settings import TuneSettings
from tunetools import SPACE, TRIAL_HYPERPARAMETERS, numbers_table, write_numbers

HYPERPARAMETERS = {**TRIAL_HYPERPARAMETERS, "max_epochs": 6, "patience": 2}
FOLD_TUNE = {"n_trials": 3, "search_space": SPACE, "cv_folds": 3, "pruner": "none"}


def tuned(tune: dict, n: int = 90) -> AutoPredictor:
    return AutoPredictor("label", eval_metric="roc_auc").tune(numbers_table(n), hyperparameters=HYPERPARAMETERS,
                                                              seed=0, tune=tune)


@pytest.fixture(scope="module")
def bagged() -> AutoPredictor:
    return tuned(FOLD_TUNE)


def test_the_final_fit_default_is_the_entry_points():
    settings = TuneSettings.from_dict({"cv_folds": 3})
    assert settings.final_fit is None
    assert settings.with_final_fit("all_rows").final_fit == "all_rows"
    assert TuneSettings.from_dict({"final_fit": "holdout"}).with_final_fit("fold_models").final_fit == "holdout"


def test_a_single_network_predictor_refuses_fold_models_before_any_fit():
    with pytest.raises(ConfigError, match=r"final_fit='fold_models' keeps the chosen configuration's 2 fold "
                                          r"networks.*AutoPredictor\(label\)\.tune"):
        MultimodalPredictor(label="label").fit(numbers_table(20), hyperparameters=TRIAL_HYPERPARAMETERS,
                                               tune={"cv_folds": 2, "final_fit": "fold_models"})
    with pytest.raises(ConfigError, match="fold models need tune.cv_folds >= 2"):
        MultimodalPredictor(label="label").fit_fold_models(numbers_table(20), tune={"cv_folds": 1})
    with pytest.raises(ConfigError, match="fold models need .*; got cv_folds=3, final_fit='all_rows'"):
        MultimodalPredictor(label="label").fit_fold_models(numbers_table(20), tune={"final_fit": "all_rows"})


def test_an_ensemble_of_fold_models_learns_one_label():
    with pytest.raises(ConfigError, match="learns one label"):
        AutoPredictor(["label", "x2"]).tune(numbers_table(20), tune={"cv_folds": 2})


@pytest.mark.slow
def test_the_model_is_the_chosen_trials_fold_models_averaged(bagged):
    from transmodal.data.readers import read_table
    from transmodal.tuning.folds import fold_tables

    summary = bagged.tuning_
    best = next(r for r in bagged.trials_ if r["number"] == summary["best_trial"])
    folds = bagged.members_["neural"].models
    assert summary["final_fit"] == "fold_models" and summary["refit"] is False  # this process ran the trial
    assert list(bagged.weights_.values()) == [1.0] and len(folds) == 3
    assert bagged.tuning_score_ == pytest.approx(summary["best_score"])
    # each fold model is the fit of the chosen configuration on its fold's rows, its epoch chosen on the
    # fold's own tuning rows: its score is the trial's fold score, and a plain fit of the same rows equals it
    assert " ".join(f"{p.history_['best_score']:.4f}" for p in folds) == best["fold_scores"]
    assert " ".join(str(p.history_["best_epoch"] + 1) for p in folds) == best["fold_epochs"]
    new_rows = numbers_table(30, seed=9)
    for predictor, (train, tune) in zip(folds, fold_tables(read_table(numbers_table(90)), "label", "binary", 3, 0)):
        plain = MultimodalPredictor(label="label", eval_metric="roc_auc").fit(
            train.frame, tuning_data=tune.frame, hyperparameters={**HYPERPARAMETERS, **summary["best_params"]}, seed=0)
        np.testing.assert_allclose(predictor.predict_proba(new_rows).to_numpy(),
                                   plain.predict_proba(new_rows).to_numpy(), atol=1e-6)
    # the model predicts the mean of its fold models
    mean = np.mean([p.predict_proba(new_rows).to_numpy() for p in folds], axis=0)
    np.testing.assert_allclose(bagged.predict_proba(new_rows).to_numpy(), mean, atol=1e-7)
    assert bagged.predict(new_rows).tolist() == list(np.asarray(bagged.task_.classes)[mean.argmax(axis=1)])


@pytest.mark.slow
def test_fold_models_save_load_and_predict_identically_from_the_command_line(bagged, tmp_path, capsys):
    from transmodal.cli import main

    folder = bagged.save(tmp_path / "model")
    files = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "manifest.json", "trials.csv"} <= files
    assert not any(name.endswith((".pkl", ".pt", ".bin")) for name in files)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))["ensemble"]
    assert config["tuning"]["final_fit"] == "fold_models" and config["weights"] == {"neural": 1.0}
    assert len(pd.read_csv(folder / "trials.csv")) == FOLD_TUNE["n_trials"]
    assert "trial" in (folder / "fit.log").read_text(encoding="utf-8")  # the search's status lines
    epochs = pd.read_csv(folder / "metrics.csv")  # every fold model's epochs
    models = bagged.members_["neural"].models
    assert epochs["model"].tolist() == [i for i, m in enumerate(models) for _ in m.history_["epochs"]]
    new_rows = numbers_table(30, seed=9)
    loaded = AutoPredictor.load(folder)
    np.testing.assert_array_equal(loaded.predict_proba(new_rows).to_numpy(), bagged.predict_proba(new_rows).to_numpy())
    assert loaded.tuning_["best_trial"] == bagged.tuning_["best_trial"]
    with pytest.raises(Exception, match="AutoPredictor.load"):
        MultimodalPredictor.load(folder)  # an ensemble folder names its loader
    new_rows.to_csv(tmp_path / "new.csv", index=False)
    main(["predict", str(folder), str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv"), "--proba"])
    printed = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(printed[["label_proba_no", "label_proba_yes"]].to_numpy(), bagged.predict_proba(new_rows).to_numpy(), atol=1e-6)


@pytest.mark.slow
def test_fold_models_of_a_trial_run_elsewhere_are_fitted_again_identically(tmp_path):
    tune = {**FOLD_TUNE, "n_trials": 2, "storage": f"sqlite:///{tmp_path / 'study.db'}"}
    first = tuned(tune)
    resumed = tuned(tune)  # the study is complete: no trial runs, the best trial's folds are fitted again
    assert first.tuning_["refit"] is False and resumed.tuning_["refit"] is True
    assert resumed.tuning_["trials"] == 2 and resumed.tuning_["best_trial"] == first.tuning_["best_trial"]
    new_rows = numbers_table(30, seed=9)
    np.testing.assert_allclose(resumed.predict_proba(new_rows).to_numpy(), first.predict_proba(new_rows).to_numpy(),
                               atol=1e-6)


@pytest.mark.slow
def test_transmodal_tune_with_folds_saves_the_fold_models_by_default(tmp_path, capsys):
    from transmodal.cli import main
    from transmodal.cli.models import is_ensemble_folder

    table = write_numbers(tmp_path)
    main(["tune", str(table), "--label", "label", "--trials", "2", "--cv-folds", "2", "--pruner", "none",
          "--search-space", str(tmp_path / "space.yaml"), "--set", "max_epochs=2", "--out", str(tmp_path / "m")])
    assert "its 2 fold models averaged (an ensemble folder)" in capsys.readouterr().out
    assert is_ensemble_folder(tmp_path / "m") and len(pd.read_csv(tmp_path / "m" / "trials.csv")) == 2
    model = AutoPredictor.load(tmp_path / "m")
    assert len(model.members_["neural"].models) == 2
    main(["evaluate", str(tmp_path / "m"), str(table), "--json"])
    assert "roc_auc" in json.loads(capsys.readouterr().out)
