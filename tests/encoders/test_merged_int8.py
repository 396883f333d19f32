"""LoRA adapters merged for prediction, then run in int8 (``transfer.inference_quantize``): "auto"
(the default) takes the encoder's own ``quantize`` setting and is fp32 under a time limit, the
fitted and the loaded predictor predict alike, and ``None`` keeps the merged encoder in fp32."""

from __future__ import annotations

import numpy as np
import pytest

from tinycheckpoints import save_tiny_bert
from transmodal.encoders.adapters import adapter_spec, resolve_inference_quantize
from transmodal.encoders.base import build_encoder
from transmodal.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("bert"))


def test_auto_follows_the_encoders_quantize_setting_and_explicit_values_win(tiny_bert):
    int8 = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True, "quantize": "int8"})
    fp32 = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    assert adapter_spec({"strategy": "lora"})["inference_quantize"] is None  # the lora strategy passes its default
    auto = adapter_spec({"inference_quantize": "auto"})
    assert resolve_inference_quantize(int8, auto)["inference_quantize"] == "int8"
    assert resolve_inference_quantize(fp32, auto)["inference_quantize"] is None
    off = adapter_spec({"inference_quantize": None})
    assert resolve_inference_quantize(int8, off)["inference_quantize"] is None
    on = adapter_spec({"inference_quantize": "int8"})
    assert resolve_inference_quantize(fp32, on)["inference_quantize"] == "int8"


def test_an_unknown_inference_quantize_is_a_config_error():
    with pytest.raises(ConfigError, match="inference_quantize"):
        adapter_spec({"inference_quantize": "int4"})


def _fit(table: str, tiny_bert: str, **transfer):
    from tabletools import TINY_HYPERPARAMETERS
    from transmodal.predictor import MultimodalPredictor

    text = {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True, "quantize": "int8"}
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 1, "encoders": {**TINY_HYPERPARAMETERS["encoders"], "text": text},
          "transfer": {"strategy": "lora", "r": 2, "inputs": ["review"], **transfer}}
    return MultimodalPredictor(label="label").fit(table, hyperparameters=hp, seed=0)


@pytest.mark.slow
def test_a_lora_predictor_on_an_int8_base_predicts_merged_in_int8_before_and_after_loading(tiny_bert, table_dir,
                                                                                           tmp_path):
    from transmodal.encoders.adapters import adapter_layers
    from transmodal.predictor import MultimodalPredictor

    table = str(table_dir / "table.csv")
    predictor = _fit(table, tiny_bert, inference_quantize="auto")
    assert predictor.spec_.adapters["review"]["inference_quantize"] == "int8"  # "auto" settled from the encoder
    assert predictor.spec_.encoders["review"]["quantize"] is None  # the adapters trained in fp32
    fitted = predictor.predict_proba(table).to_numpy()
    encoder = predictor.net_.encoder("review")
    assert all(layer.merged for _, layer in adapter_layers(encoder))
    assert "DynamicQuantizedLinear" in repr(encoder._int8_copy.model), "the merged encoder did not run in int8"

    loaded = MultimodalPredictor.load(predictor.save(tmp_path / "model"))
    np.testing.assert_allclose(loaded.predict_proba(table).to_numpy(), fitted, atol=1e-6)

    loaded.net_.encoder("review").merged_quantize = None  # the same merged weights in fp32
    fp32 = loaded.predict_proba(table).to_numpy()
    assert not np.array_equal(fp32, fitted), "int8 and fp32 gave identical outputs: the int8 path did not run"
    np.testing.assert_allclose(fp32, fitted, atol=0.05)


@pytest.mark.slow
def test_inference_quantize_none_keeps_the_merged_encoder_in_fp32(tiny_bert, table_dir, tmp_path):
    from transmodal.predictor import MultimodalPredictor

    table = str(table_dir / "table.csv")
    predictor = _fit(table, tiny_bert, inference_quantize=None)
    assert predictor.spec_.adapters["review"]["inference_quantize"] is None
    loaded = MultimodalPredictor.load(predictor.save(tmp_path / "model"))
    np.testing.assert_allclose(loaded.predict_proba(table).to_numpy(), predictor.predict_proba(table).to_numpy(),
                               atol=1e-5)
    assert "_int8_copy" not in vars(loaded.net_.encoder("review"))


class _OneInput:
    """The part of a network a transfer strategy reads: input names and their encoders."""

    def __init__(self, encoder) -> None:
        self.input_names, self._encoder = ["review"], encoder

    def encoder(self, name):
        return self._encoder


@pytest.mark.parametrize("given, quantize, time_limit, expected", [
    ({}, "int8", None, "int8"),  # the default is "auto": int8 on an int8 base (the packaged MiniLM on a CPU)
    ({}, None, None, None),  # ... fp32 on an fp32 base
    ({}, "int8", 60.0, None),  # ... fp32 in a fit with a time limit
    ({"inference_quantize": "auto"}, "int8", 60.0, None),
    ({"inference_quantize": None}, "int8", None, None),  # an explicit None wins
    ({"inference_quantize": "int8"}, "int8", 60.0, "int8"),  # as does an explicit int8
    ({}, "int8_per_token", None, "int8_per_token"),  # "auto" keeps the base's per-token scales
    ({"inference_quantize": "int8_per_token"}, None, None, "int8_per_token"),
])
def test_inference_quantize_defaults_to_auto_which_is_fp32_under_a_time_limit(tiny_bert, given, quantize, time_limit,
                                                                                expected):
    from transmodal.transfer.base import StrategyContext
    from transmodal.transfer.lora import lora

    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True, "quantize": quantize})
    ctx = StrategyContext(net=_OneInput(encoder), tasks=[], train=None, time_limit=time_limit)
    lora(ctx, {"strategy": "lora", "r": 2, **given})
    assert ctx.adapters["review"]["inference_quantize"] == expected


def _adapted(tiny_bert: str):
    """A tiny BERT encoder with LoRA adapters whose B factors are not zero (as after training)."""
    import torch

    from transmodal.encoders.adapters import adapter_layers, inject

    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    inject(encoder, adapter_spec({"r": 2}))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _, layer in adapter_layers(encoder):
            layer.lora_B["default"].weight.normal_(0, 0.1, generator=generator)
    return encoder.eval()


def test_the_merge_adds_what_peft_would_add_and_saving_still_gives_the_base_weights(tiny_bert):
    import torch

    from transmodal.encoders.adapters import adapter_layers, merge_for_inference, unmerged_state

    encoder = _adapted(tiny_bert)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    expected = {f"{name}.base_layer.weight": before[f"{name}.base_layer.weight"] + layer.get_delta_weight("default")
                for name, layer in adapter_layers(encoder)}
    assert merge_for_inference(encoder) == len(expected) > 0
    assert all(layer.merged and layer.merged_adapters == ["default"] for _, layer in adapter_layers(encoder))
    state = encoder.state_dict()
    for key, value in expected.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=1e-6)
    for key, value in unmerged_state(encoder, state).items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=1e-6)
    assert merge_for_inference(encoder) == 0  # merged once


def test_the_int8_copy_of_a_merged_encoder_quantises_its_base_layers_only_and_predicts_as_before(tiny_bert):
    import torch
    from torch import nn
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    from transmodal.encoders.adapters import merge_for_inference
    from transmodal.encoders.quantization import quantize_int8

    encoder = _adapted(tiny_bert)
    merge_for_inference(encoder)
    copy = quantize_int8(encoder.model)
    modules = dict(copy.named_modules())
    base = [m for name, m in modules.items() if name.endswith("base_layer")]
    factors = [m for name, m in modules.items() if name.endswith(("lora_A.default", "lora_B.default"))]
    assert base and all(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in base)
    assert len(factors) == 2 * len(base) and all(type(m) is nn.Linear for m in factors)  # left in fp32, unused
    every_linear = quantize_dynamic(encoder.model, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    inputs = encoder.prepare(["a small test of the copy", "and another one"])
    with torch.no_grad():
        assert torch.equal(copy(**inputs).last_hidden_state, every_linear(**inputs).last_hidden_state)


def test_a_merged_encoder_runs_per_token_int8_when_its_adapter_says_so(tiny_bert):
    from torch import nn

    from transmodal.encoders.adapters import merge_for_inference, quantized_after_merge
    from transmodal.encoders.quantization import model_for_forward

    class Net(nn.Module):
        def __init__(self, encoder) -> None:
            super().__init__()
            self.review = encoder

        def encoder(self, name):
            return self.review

    encoder = _adapted(tiny_bert)
    adapters = {"review": {"inference_quantize": "int8_per_token"}}
    merge_for_inference(Net(encoder), adapters)
    assert encoder.merged_quantize == "int8_per_token" and quantized_after_merge(adapters)
    assert "PerTokenInt8Linear" in repr(model_for_forward(encoder, encoder.model))
