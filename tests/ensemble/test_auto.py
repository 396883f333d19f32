"""AutoPredictor end to end (acceptance f): every member kind saved and loaded with identical
predictions, no pickle in the folder, a tampered member file refused, the time limit kept with a
valid model saved, the leaderboard's columns and weights."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from ensembletools import TINY_NEURAL, tiny_frame

from transmodal.ensemble.auto import AutoPredictor
from transmodal.ensemble.leaderboard import COLUMNS
from transmodal.errors import ConfigError, ModelLoadError
from transmodal.persistence import PICKLE_SUFFIXES


@pytest.fixture(scope="module")
def fitted():
    """A medium-preset ensemble (tfidf_linear, tfidf_nbsvm, lightgbm, a tiny neural member, embed_linear)
    on 120 rows: bagged."""
    frame = tiny_frame(160)
    auto = AutoPredictor(label="label").fit(frame.iloc[:120], presets="medium", time_limit=900,  # ends in ~30 s
                                            hyperparameters=TINY_NEURAL)
    return auto, frame.iloc[120:].reset_index(drop=True)


@pytest.fixture(scope="module")
def every_kind(fitted, tmp_path_factory):
    """The fitted ensemble with equal weights (so every member kind is saved), saved and loaded."""
    auto, test = fitted
    auto.weights_ = {name: 1 / len(auto.members_) for name in auto.members_}
    folder = auto.save(tmp_path_factory.mktemp("ensemble") / "model")
    return auto, test, folder


@pytest.mark.slow
def test_save_load_identical_predictions_with_every_member_kind(every_kind):
    auto, test, folder = every_kind
    loaded = AutoPredictor.load(folder)
    assert {m.kind for m in loaded.members_.values()} == {"tfidf_linear", "lightgbm", "neural"}
    assert np.array_equal(loaded.predict_proba(test).to_numpy(), auto.predict_proba(test).to_numpy())
    assert loaded.predict(test).tolist() == auto.predict(test).tolist()
    assert loaded.evaluate(test) == auto.evaluate(test)
    assert loaded.blend_ == auto.blend_ == "geometric"  # medium's blend, kept with the weights
    assert np.allclose(loaded.embed(test), auto.embed(test))
    for name, member in auto.members_.items():
        assert np.array_equal(loaded.members_[name].predict(test), member.predict(test))


@pytest.mark.slow
def test_folder_holds_no_pickle_and_a_tampered_member_file_is_refused(every_kind, tmp_path):
    import shutil

    _, _, folder = every_kind
    names = sorted(p.name for p in folder.iterdir())
    assert any(n.startswith("member.lightgbm.fold") and n.endswith(".txt") for n in names)
    assert "member.tfidf_linear.json" in names and "member.neural_frozen.json" in names
    assert "leaderboard.csv" in names and "neural_frozen" in (folder / "report.html").read_text()
    for path in folder.iterdir():
        assert not path.name.endswith(PICKLE_SUFFIXES)
        assert path.read_bytes()[:1] != b"\x80"  # no pickle protocol header
    for victim, change in [("member.lightgbm.fold0.txt", lambda t: t.replace("tree", "Tree", 1)),
                           ("member.tfidf_linear.json", lambda t: t.replace("calm", "clam", 1))]:
        copy = tmp_path / victim
        shutil.copytree(folder, copy)
        path = copy / victim
        path.write_text(change(path.read_text()))
        with pytest.raises(ModelLoadError, match="changed after saving"):
            AutoPredictor.load(copy)


@pytest.mark.slow
@pytest.mark.slow
def test_the_folder_keeps_the_fits_log_and_every_members_epochs(every_kind, tmp_path):
    auto, _, folder = every_kind
    log = (folder / "fit.log").read_text(encoding="utf-8")
    assert all(f"member {row['member']}: " in log for row in auto.results_)  # one line per member
    epochs = pd.read_csv(folder / "metrics.csv")
    neural = auto.members_["neural_frozen"].models
    assert len(epochs[epochs["member"] == "neural_frozen"]) == sum(len(m.history_["epochs"]) for m in neural) > 0
    classical = [n for n, m in auto.members_.items() if m.kind != "neural"]
    assert sorted(epochs[epochs["member"].isin(classical)]["member"]) == sorted(classical)  # one pass each
    resaved = AutoPredictor.load(folder).save(tmp_path / "again")  # a loaded model has no log of a fit
    assert (resaved / "metrics.csv").is_file() and not (resaved / "fit.log").exists()


def test_a_fast_fit_folder_holds_fit_log_and_metrics_csv(tmp_path):
    frame = tiny_frame(60)
    folder = AutoPredictor(label="label").fit(frame, presets="fast", time_limit=120).save(tmp_path / "m")
    log = (folder / "fit.log").read_text(encoding="utf-8")
    assert "member tfidf_linear: ok" in log
    epochs = pd.read_csv(folder / "metrics.csv")
    assert "tfidf_linear" in set(epochs["member"]) and epochs["val_score"].notna().all()


def test_leaderboard_columns_and_weights(fitted):
    auto, test = fitted
    board = auto.leaderboard(test)
    assert list(board.columns) == COLUMNS
    assert board["member"].tolist()[0] == "ensemble"
    assert set(board["member"][1:]) == {"tfidf_linear", "tfidf_nbsvm", "lightgbm", "neural_frozen", "embed_linear"}
    assert np.isclose(board["weight"][1:].sum(), 1.0) and board["weight"][0] == pytest.approx(1.0)
    assert board["score"].notna().all() and (board["fit_seconds"] > 0).all()
    ensemble_auc = auto.evaluate(test)["roc_auc"]
    assert board["score"][0] == pytest.approx(ensemble_auc)
    assert auto.leaderboard()["score"].isna().all()  # no data: no score


def test_neural_members_skip_the_predictor_report(fitted):
    auto, _ = fitted  # the report's passes over the tuning rows would spend the ensemble's budget
    assert all(model.report_ is None for model in auto.members_["neural_frozen"].models)


@pytest.mark.slow
def test_time_limit_is_kept_and_a_valid_model_saved(tmp_path):
    frame = tiny_frame(300)
    slow = {"embed_linear": TINY_NEURAL["embed_linear"], "tfidf_linear": {"C": 1.0}, "tfidf_nbsvm": {"C": 1.0},
            "neural_frozen": {"hyperparameters": {"max_epochs": 500, "patience": 500, "batch_size": 8,
                                                  "hidden_dim": 16, "encoders": {"text": "builtin_text"}}}}
    limit = 40.0  # the neural member (min_seconds 20) runs, and would train for minutes without a limit
    begin = time.monotonic()
    auto = AutoPredictor(label="label").fit(frame, presets="medium", time_limit=limit, hyperparameters=slow)
    seconds = time.monotonic() - begin
    assert seconds <= limit * 1.1
    folder = auto.save(tmp_path / "model")
    loaded = AutoPredictor.load(folder)
    assert loaded.predict(frame).isin(["no", "yes"]).all()
    statuses = {row["member"]: row["status"] for row in auto.results_}
    assert statuses["tfidf_linear"].startswith("ok") and not statuses["neural_frozen"].startswith("skipped")


@pytest.mark.slow
@pytest.mark.parametrize("classes,regression", [(3, False), (2, True)])
def test_multiclass_and_regression(classes, regression):
    frame = tiny_frame(2600, classes=classes, regression=regression)  # above bag_max_rows: a holdout split
    train, test = frame.iloc[:2500], frame.iloc[2500:]
    auto = AutoPredictor(label="label").fit(train, presets="fast", time_limit=60,
                                            hyperparameters={"lightgbm": {"svd_components": 8}})
    assert not auto.bagged_
    metrics = auto.evaluate(test)
    if regression:
        assert auto.eval_metric_ == "rmse" and metrics["r2"] > 0.5
        assert isinstance(auto.predict(test).iloc[0], float)
    else:
        assert auto.eval_metric_ == "log_loss" and metrics["accuracy"] > 0.6
        assert list(auto.predict_proba(test).columns) == ["maybe", "no", "yes"]


def test_several_labels_and_bad_presets_are_refused():
    frame = tiny_frame(20)
    with pytest.raises(ConfigError, match="one label"):
        AutoPredictor(label=["label", "color"]).fit(frame, presets="fast")
    with pytest.raises(ConfigError, match="not a preset"):
        AutoPredictor(label="label").fit(frame, presets="fastest")
    with pytest.raises(ConfigError, match="time_limit"):
        AutoPredictor(label="label").fit(frame, presets="fast", time_limit=-1)


def test_a_predictor_load_of_an_ensemble_folder_says_which_class_loads_it(tmp_path):
    from transmodal.predictor import MultimodalPredictor

    frame = tiny_frame(60)
    folder = AutoPredictor(label="label").fit(frame, presets="fast", time_limit=30,
                                              hyperparameters={"lightgbm": {"svd_components": 4}}).save(tmp_path / "m")
    with pytest.raises(ModelLoadError, match="AutoPredictor.load"):
        MultimodalPredictor.load(folder)


@pytest.mark.slow
def test_classical_members_read_image_and_audio_columns_through_frozen_embeddings(tmp_path):
    from tabletools import SAMPLE_RATE, write_table

    frame = write_table(tmp_path / "data", n=60, absolute=True)
    encoders = {"image": {"name": "cnn", "width": 8, "output_dim": 16},
                "audio": {"name": "cnn", "width": 8, "n_mels": 16, "output_dim": 16, "sample_rate": SAMPLE_RATE}}
    options = {"tfidf_linear": {"embeddings": encoders}, "lightgbm": {"embeddings": encoders, "svd_components": 4}}
    auto = AutoPredictor(label="label").fit(frame, presets="fast", time_limit=120, hyperparameters=options)
    for member in auto.members_.values():
        assert member.embeddings.transform(frame.head(5)).shape == (5, 32)  # image 16 + audio 16
    auto.weights_ = {name: 0.5 for name in auto.members_}
    loaded = AutoPredictor.load(auto.save(tmp_path / "model"))
    assert np.allclose(loaded.predict_proba(frame).to_numpy(), auto.predict_proba(frame).to_numpy(), atol=1e-6)


def test_a_time_limit_too_short_for_any_member_still_gives_a_model():
    frame = tiny_frame(80)
    auto = AutoPredictor(label="label").fit(frame, presets="medium", time_limit=0.2, hyperparameters=TINY_NEURAL)
    assert sum(auto.weights_.values()) == pytest.approx(1.0) and auto.members_
    statuses = {row["member"]: row["status"] for row in auto.results_}
    assert statuses["neural_frozen"].startswith("skipped")
    assert auto.predict(frame).isin(["no", "yes"]).all()


def test_bad_rows_are_refused_unless_skipped():
    from transmodal.errors import DataError

    frame = tiny_frame(60)
    frame.loc[3, "label"] = None
    with pytest.raises(DataError, match="on_bad_rows"):
        AutoPredictor(label="label").fit(frame, presets="fast", time_limit=30)
    auto = AutoPredictor(label="label").fit(frame, presets="fast", time_limit=30,
                                            hyperparameters={"on_bad_rows": "skip", "lightgbm": {"svd_components": 4}})
    assert [b.row for b in auto.bad_rows_] == [3]


@pytest.mark.slow
def test_a_stacking_preset_weights_a_binary_label_by_stacked_weights_and_a_multiclass_one_greedily(monkeypatch):
    import dataclasses

    from transmodal.ensemble import presets
    from transmodal.ensemble.selection import greedy_weights, stacked_weights
    from transmodal.metrics.base import METRICS

    fast = presets.load_preset("fast")
    stacking = dataclasses.replace(fast, blend="geometric", selection="stacking", stacking_c=0.05)
    monkeypatch.setattr(presets, "load_preset", lambda name: stacking)
    frame = tiny_frame(160)
    auto = AutoPredictor(label="label").fit(frame, presets="fast", time_limit=60)
    names = list(auto.weights_)
    expected = stacked_weights([auto.selection_predictions_[n] for n in names], auto.selection_targets_, 0.05)
    assert np.allclose([auto.weights_[n] for n in names], expected) and np.isclose(sum(auto.weights_.values()), 1)
    multi = AutoPredictor(label="label").fit(tiny_frame(160, classes=3), presets="fast", time_limit=60)
    names = list(multi.weights_)
    metric = METRICS.get("log_loss")
    score = lambda p: metric.score(metric(multi.selection_targets_, p, multi.task_))  # noqa: E731
    greedy, _ = greedy_weights([multi.selection_predictions_[n] for n in names], score, stacking.selection_rounds,
                               "geometric")
    assert np.allclose([multi.weights_[n] for n in names], greedy)
