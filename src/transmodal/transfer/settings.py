"""The ``transfer`` section of the hyperparameters, typed: every key a strategy, the joint training
or the domain adaptation reads. Validated when a fit starts (an unknown key or a wrong type is a
ConfigError naming it and listing the valid ones); the fit itself reads the section as given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transmodal.config import section_from_dict
from transmodal.encoders.adapter_defaults import AdapterDefaults


@dataclass(frozen=True)
class TransferSettings:
    """``hyperparameters["transfer"]``."""

    strategy: str | None = None  # a name from transfer.base.STRATEGIES
    inputs: list | None = None  # limit the strategy to these inputs' encoders
    layer_decay: float | None = None  # finetune/l2sp: encoder learning-rate factor per layer group
    freeze_epochs: int = 0  # finetune: epochs before the encoders train
    method: str = AdapterDefaults.method  # lora: "lora" or "ia3"
    r: int = AdapterDefaults.r  # lora: rank
    lora_alpha: float | None = None  # lora: scaling numerator (None: 2 r, adapter_defaults.resolved_lora_alpha)
    lora_dropout: float = AdapterDefaults.lora_dropout
    top_layers: int | None = None  # lora: adapters only in the top N transformer layers of each adapted encoder
    # (peft's layers_to_transform); a BERT-like text encoder then runs its frozen lower layers once per row
    # during the fit (transmodal.encoders.layer_cache). None: every layer
    train_norms: bool = AdapterDefaults.train_norms  # lora: also train normalisation layers of built-in nets
    inference_quantize: str | None = "auto"  # lora: "int8" runs the merged encoder in int8 when predicting
    # (faster on a CPU), its head refitted on int8 features after training; "auto" (default): as the encoder was
    # set before the adapters went in (int8 for the default MiniLM on a CPU), fp32 in a fit with a time limit;
    # None: fp32
    calibrate_epochs: int = 3  # lora with int8 inference: epochs of fusion and heads refitted on the int8
    # features of the merged encoders after training (the tuning rows choose the epoch); 0: the head as trained
    alpha: float = 0.01  # l2sp: pull towards the starting weights
    layers: int = 1  # partial: top layer groups that train
    train_fusion: bool | None = None  # linear_probe: also train the fusion
    temperature: float = 2.0  # distill
    distill_weight: float = 1.0  # distill
    lambda_: float = 1.0  # joint training: target loss weight ("lambda" in the section)
    adapt: str | None = None  # domain adaptation: a name from transfer.domain.ADAPTATIONS
    adapt_on: str = "fused"  # "fused" or "features"
    adapt_weight: float = 1.0
    adapt_options: dict[str, Any] = field(default_factory=dict)
    entropy_weight: float = 0.0
    pseudo_label_threshold: float | None = None
    pseudo_label_weight: float = 1.0

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "TransferSettings":
        """Check the section.

        Raises:
            ConfigError: an unknown key or a value of the wrong type.
        """
        values = {("lambda_" if k == "lambda" else k): v for k, v in (values or {}).items()}
        return section_from_dict(cls, values, "transfer")
