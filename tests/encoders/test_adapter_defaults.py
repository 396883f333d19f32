"""The adapters' settings when not given (:mod:`transmodal.encoders.adapter_defaults`): the saved
adapter spec and the ``transfer`` section agree, and the spec's values are those of before."""

from __future__ import annotations

import dataclasses

from transmodal.encoders.adapter_defaults import AdapterDefaults, resolved_lora_alpha
from transmodal.encoders.adapters import adapter_spec
from transmodal.transfer.settings import TransferSettings


def test_the_adapter_spec_fills_in_the_transfer_sections_defaults():
    spec, section = adapter_spec({}), TransferSettings()
    for field in dataclasses.fields(AdapterDefaults):
        assert spec[field.name] == getattr(section, field.name) == getattr(AdapterDefaults, field.name)
    assert spec == {"method": "lora", "r": 8, "lora_alpha": 16.0, "lora_dropout": 0.0, "train_norms": True,
                    "inference_quantize": None}  # saved specs unchanged
    assert adapter_spec({"r": 4})["lora_alpha"] == 8.0 and section.lora_alpha is None  # 2 r when not given


def test_lora_alpha_is_2_r_when_not_given_or_none_and_as_given_otherwise():
    assert resolved_lora_alpha(4, None) == 8.0 and resolved_lora_alpha(4, 3) == 3.0
    assert adapter_spec({"r": 4, "lora_alpha": None})["lora_alpha"] == 8.0  # the section's None: not given
    assert adapter_spec({"r": 4, "lora_alpha": 3})["lora_alpha"] == 3.0
    assert adapter_spec(dataclasses.asdict(TransferSettings.from_dict({"r": 2})))["lora_alpha"] == 4.0
