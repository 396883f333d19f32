"""The fit pipeline: stages in one order, the network built once, the user's config never written,
and loading without any fit stage."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.config import FitConfig
from transmodal.errors import ConfigError
from transmodal.fitting import pipeline
from transmodal.fitting.state import STAGES, Extension
from transmodal.predictor import MultimodalPredictor

HP = {**TINY_HYPERPARAMETERS, "max_epochs": 1}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    frame = write_table(folder, n=48)
    frame["image"] = [str(folder / p) for p in frame["image"]]
    data = frame[["image", "size", "label"]]
    MultimodalPredictor(label="label").fit(data, hyperparameters=HP, seed=0).save(folder / "source")
    return folder, data


class Recorder(Extension):
    """Records which stage ran with which network object."""

    calls: list = []

    @classmethod
    def wanted(cls, request):
        return True

    def _note(self, stage, state):
        Recorder.calls.append((stage, None if state.net is None else id(state.net)))

    def prepare_tables(self, state): self._note("prepare_tables", state)
    def prepare_targets(self, state): self._note("prepare_targets", state)
    def initialise(self, state): self._note("initialise", state)
    def load_weights(self, state): self._note("load_weights", state)
    def adapt(self, state): self._note("adapt", state)
    def attach(self, state): self._note("attach", state)
    def finish(self, state): self._note("finish", state)


@pytest.mark.slow
def test_stages_run_in_order_on_one_network(source, monkeypatch):
    folder, data = source
    Recorder.calls = []
    monkeypatch.setattr(pipeline, "EXTENSIONS", (Recorder, *pipeline.EXTENSIONS))
    hp = {**HP, "transfer": {"strategy": "lora", "r": 2}, "align_weight": 0.2}
    predictor = MultimodalPredictor(label="label").fit(data, init_from=str(folder / "source"), hyperparameters=hp,
                                                       feature_memo=True)
    stages = [stage for stage, _ in Recorder.calls]
    assert stages == [s for s in STAGES if s not in ("read", "build", "train")]
    built = {net for stage, net in Recorder.calls if net is not None}
    assert built == {id(predictor.net_)}  # built once; every later stage saw the same network


def test_the_users_config_is_never_written(source, tmp_path):
    folder, data = source
    source_rows = data.rename(columns={"label": "kind"})
    hp = {**HP, "transfer": {"strategy": "finetune", "lambda": 0.5}, "multitask": {}}
    given = FitConfig.from_dict(hp).to_dict()
    predictor = MultimodalPredictor(label="label").fit(data, init_from=str(folder / "source"), hyperparameters=hp,
                                                       source_data=source_rows, source_label="kind")
    assert predictor.config_.to_dict() == given  # no layer_decay, no task weights, no init_from written back
    with pytest.raises(dataclasses.FrozenInstanceError):
        predictor.config_.fusion = "late"
    predictor.save(tmp_path / "m")
    loaded = MultimodalPredictor.load(tmp_path / "m")
    assert loaded.config_.to_dict() == given
    assert loaded.history_["transfer"]["init_from"] == str(folder / "source")


def test_loading_runs_no_fit_stage(source, tmp_path, monkeypatch):
    folder, data = source
    hp = {**HP, "transfer": {"strategy": "lora", "r": 2}}
    predictor = MultimodalPredictor(label="label").fit(data, init_from=str(folder / "source"), hyperparameters=hp)
    predictor.save(tmp_path / "m")
    assert predictor.spec_.base["path"] == str((folder / "source").resolve())

    def no_fit(*args, **kwargs):
        raise AssertionError("a fit stage ran during load")

    monkeypatch.setattr(pipeline, "run_fit", no_fit)
    for name in ("chosen_extensions", "build", "train_network"):
        monkeypatch.setattr(pipeline, name, no_fit)
    loaded = MultimodalPredictor.load(tmp_path / "m")  # adapters and base weights come from the spec
    assert any("lora_" in n for n, _ in loaded.net_.encoder("image").named_parameters())
    np.testing.assert_allclose(loaded.predict_proba(data).to_numpy(), predictor.predict_proba(data).to_numpy(),
                               atol=1e-5)


def test_unknown_fit_options_list_the_known_ones(source):
    _, data = source
    with pytest.raises(ConfigError, match="init_from"):
        MultimodalPredictor(label="label").fit(data, hyperparameters=HP, nonsense=1)


def test_report_false_skips_the_report_passes(source, tmp_path, monkeypatch):
    _, data = source
    from transmodal.report import summary

    def no_pass(*args, **kwargs):
        raise AssertionError("a report pass ran")

    monkeypatch.setattr(summary, "modality_importance", no_pass)
    monkeypatch.setattr(summary, "evaluate_tasks", no_pass)
    predictor = MultimodalPredictor(label="label").fit(data, hyperparameters=HP, report=False)
    assert predictor.report_ is None
    predictor.save(tmp_path / "m")  # a folder without report.html still saves and loads
    assert not (tmp_path / "m" / "report.html").exists()
    MultimodalPredictor.load(tmp_path / "m")
    with pytest.raises(ConfigError, match="report must be True or False"):
        MultimodalPredictor(label="label").fit(data, hyperparameters=HP, report="no")


@pytest.mark.slow
def test_a_version_1_folder_still_loads(source, tmp_path):
    """Before the model spec, the architecture and the adapters lived in the saved fit config."""
    import json

    from transmodal.persistence import write_manifest

    folder, data = source
    hp = {**HP, "transfer": {"strategy": "lora", "r": 2}}
    predictor = MultimodalPredictor(label="label").fit(data, init_from=str(folder / "source"), hyperparameters=hp)
    saved = predictor.save(tmp_path / "m")
    config = json.loads((saved / "config.json").read_text())
    architecture, adapters, base = config.pop("architecture"), config.pop("adapters"), config.pop("base")
    config["fit_config"].update(architecture)
    config["fit_config"]["transfer"].update({"adapters": adapters, "base": base})
    config["version"] = 1
    (saved / "config.json").write_text(json.dumps(config))
    write_manifest(saved)
    loaded = MultimodalPredictor.load(saved)
    assert loaded.spec_.adapters == adapters and loaded.spec_.base == base
    np.testing.assert_allclose(loaded.predict_proba(data).to_numpy(), predictor.predict_proba(data).to_numpy(),
                               atol=1e-6)
