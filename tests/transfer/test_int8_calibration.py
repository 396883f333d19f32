"""A LoRA predictor that predicts through int8 merged encoders refits its fusion and heads on int8
features after training (``transfer.calibrate_epochs``), so the head sees at fit what it sees when
predicting; the encoders (base and adapters) are left as trained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tinycheckpoints import save_tiny_bert


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("bert"))


def _fit(table: str, tune: str, tiny_bert: str, **transfer):
    from tabletools import TINY_HYPERPARAMETERS
    from transmodal.predictor import MultimodalPredictor

    text = {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True}
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 2, "encoders": {**TINY_HYPERPARAMETERS["encoders"], "text": text},
          "transfer": {"strategy": "lora", "r": 2, "inputs": ["review"], **transfer}}
    return MultimodalPredictor(label="label", eval_metric="log_loss").fit(table, tuning_data=tune,
                                                                          hyperparameters=hp, seed=0)


def _tables(table_dir) -> tuple[str, str]:
    """The shared tiny table and a tuning table of 40% of its rows (paths relative to the same folder)."""
    tune = table_dir / "tune_int8_calibration.csv"
    pd.read_csv(table_dir / "table.csv").sample(frac=0.4, random_state=1).to_csv(tune, index=False)
    return str(table_dir / "table.csv"), str(tune)


def _state(predictor, part: str, name: str | None = None) -> dict[str, torch.Tensor]:
    """The saved weights of ``part`` (``encoders``, ``heads``), of one input's encoder when ``name``."""
    from transmodal.fusion.base import module_key

    prefix = f"{part}.{module_key(name)}." if name else f"{part}."
    return {k: v for k, v in predictor.saved_state().items() if k.startswith(prefix)}


@pytest.mark.slow
def test_calibration_refits_only_fusion_and_heads_on_the_int8_features_predict_uses(tiny_bert, table_dir, tmp_path,
                                                                                  monkeypatch):
    from sklearn.metrics import log_loss

    from transmodal.embedding_store import open_store

    monkeypatch.setenv("TRANSMODAL_CACHE", str(tmp_path / "store"))

    table, tune = _tables(table_dir)
    plain = _fit(table, tune, tiny_bert, inference_quantize="int8", calibrate_epochs=0)
    calibrated = _fit(table, tune, tiny_bert, inference_quantize="int8", calibrate_epochs=3)
    assert "int8_calibration" not in plain.history_
    assert open_store().info().encoders == {}, "merged (trained) encoders' features went to the embedding store"
    record = calibrated.history_["int8_calibration"]
    assert record["epochs"] == 3 and record["kept"] in ("calibrated", "as trained")

    # the encoders are as trained: identical adapter and tabular weights with or without calibration
    for name in ("review", "tabular"):
        ours, theirs = _state(calibrated, "encoders", name), _state(plain, "encoders", name)
        assert ours and all(torch.equal(ours[k], theirs[k]) for k in ours), name
    encoder = calibrated.net_.encoder("review")
    assert not encoder.frozen and any(p.requires_grad for n, p in encoder.named_parameters() if "lora_" in n)

    # the kept head's tuning score is the one predicting the tuning rows gives (the same int8 features)
    y = pd.read_csv(tune)["label"].astype(str).to_numpy()
    loss = {name: log_loss(y, p.predict_proba(tune).to_numpy(), labels=[str(c) for c in p.classes_])
            for name, p in (("plain", plain), ("calibrated", calibrated))}
    kept = record["tuning_score_calibrated"] if record["kept"] == "calibrated" else record["tuning_score_as_trained"]
    assert -kept == pytest.approx(loss["calibrated"], abs=1e-4)
    assert -record["tuning_score_as_trained"] == pytest.approx(loss["plain"], abs=1e-4)
    assert loss["calibrated"] <= loss["plain"] + 1e-6  # never worse on the tuning rows than the head as trained
    if record["kept"] == "calibrated":
        assert not all(torch.equal(a, b) for a, b in zip(_state(calibrated, "heads").values(),
                                                          _state(plain, "heads").values()))


@pytest.mark.slow
def test_a_calibrated_predictor_predicts_the_same_after_saving_and_loading(tiny_bert, table_dir, tmp_path):
    from transmodal.predictor import MultimodalPredictor

    table, tune = _tables(table_dir)
    predictor = _fit(table, tune, tiny_bert, inference_quantize="int8", calibrate_epochs=2)
    loaded = MultimodalPredictor.load(predictor.save(tmp_path / "model"))
    np.testing.assert_allclose(loaded.predict_proba(table).to_numpy(), predictor.predict_proba(table).to_numpy(),
                               atol=1e-6)


def test_calibrate_epochs_is_a_typed_transfer_setting():
    from transmodal.errors import ConfigError
    from transmodal.transfer.settings import TransferSettings

    assert TransferSettings.from_dict({"strategy": "lora"}).calibrate_epochs == 3
    with pytest.raises(ConfigError, match="calibrate_epochs"):
        TransferSettings.from_dict({"strategy": "lora", "calibrate_epochs": "many"})
