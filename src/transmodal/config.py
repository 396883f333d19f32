"""Configuration dataclasses, their JSON/YAML round trip and ``key=value`` overrides.

A :class:`FitConfig` is what ``hyperparameters=`` and ``--config``/``--set`` fill. Every field is
JSON-serialisable, so a saved model folder carries the exact configuration it was trained with.
Presets are data (YAML files under ``transmodal/presets``), not code.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from transmodal.errors import ConfigError, did_you_mean, spelled, spelled_value


S = TypeVar("S")


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the type ``hint`` (unions, dict/list/tuple origins, Any; an int is a
    valid float, a bool is not a number)."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is not None:
        return isinstance(value, origin)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "") if typing.get_origin(hint) or not hasattr(hint, "__name__") \
        else hint.__name__


def check_fields(config: Any, section: str = "") -> None:
    """Check every field of a dataclass instance against its annotation.

    Raises:
        ConfigError: naming the key, the expected type and the value given.
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not _matches(value, hints[f.name]):
            raise ConfigError(f"{section}{f.name} must be {_type_name(hints[f.name])}, got {value!r} "
                              f"({type(value).__name__})")


def section_from_dict(cls: type[S], values: dict[str, Any] | None, section: str) -> S:
    """Build the dataclass ``cls`` from a (partial) dict and check its field types.

    Raises:
        ConfigError: an unknown key (the valid ones are listed) or a value of the wrong type.
    """
    values = dict(values or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known, key=str)
    if unknown:
        raise ConfigError(unknown_keys_message(unknown, known, section))
    instance = cls(**values)
    check_fields(instance, f"{section}." if section else "")
    return instance


def unknown_keys_message(unknown: list, known: set[str], section: str = "") -> str:
    """``unknown hyperparameter 'fusoin' (did you mean 'fusion'?); known: [...]``, naming the keys as
    the caller wrote them (``--set`` keys, dotted, from the command line)."""
    prefix = f"{section}." if section else ""
    what = spelled(f"{section} setting(s)" if section else "hyperparameter(s)", "--set/--config key(s)")
    named = ", ".join(f"{prefix + str(key)!r}{did_you_mean(prefix + str(key), [prefix + k for k in known])}"
                      for key in unknown)
    return f"unknown {what} {named}; known: {', '.join(prefix + k for k in sorted(known))}"


@dataclass(frozen=True)
class FitConfig:
    """Everything that controls how a predictor is built and trained. Frozen: a fit reads it and
    never writes into it (what a fit learns goes to the saved model spec,
    :class:`transmodal.saved.spec.ModelSpec`).

    Encoders are chosen per column or per modality in ``encoders``: a key is a column name or one of
    ``text``, ``image``, ``audio``, ``tabular``; a value is an encoder name (``"cnn"``) or a dict
    ``{"name": ..., <encoder settings>}`` such as ``{"name": "hf_text", "checkpoint": "bert-base",
    "frozen": False}``. Column keys win over modality keys.
    """

    encoders: dict[str, Any] = field(default_factory=dict)  # column or modality -> encoder spec
    fusion: str = "concat"  # a name from the fusion registry
    fusion_options: dict[str, Any] = field(default_factory=dict)  # extra fusion constructor kwargs
    hidden_dim: int = 256  # width of the fused representation
    # in the fusion and the heads. 0.3: the default fit over every frozen MiniLM layer (2,304 features per
    # text column) overfits at 0.1; 3-fold CV of the clothing training rows, AUROC 0.9481 vs 0.9434
    # (benchmarks/RESULTS.md, "Default fit vs TF-IDF")
    dropout: float = 0.3
    modality_dropout: float = 0.0  # probability of hiding each present modality while training
    unimodal_loss_weight: float = 0.0  # each input alone through fusion and heads, as an extra loss
    max_epochs: int = 20
    batch_size: int = 64
    # for new parts (built-in encoders, fusion, heads). 3e-4 (1e-3 before): the default fit's head on every frozen
    # MiniLM layer; 3-fold CV of the clothing training rows: binary AUROC +0.003 (2 seeds), Rating accuracy
    # -0.004 and macro-F1 +0.008 (3 seeds) (benchmarks/RESULTS.md, "Default fit vs TF-IDF"). Presets pin 1e-3
    learning_rate: float = 3e-4
    encoder_learning_rate: float = 2e-5  # for pretrained encoders that are fine-tuned
    weight_decay: float = 1e-2
    warmup_ratio: float = 0.05  # fraction of all steps with a linear warm-up
    gradient_clip: float | None = 1.0
    patience: int = 5  # early stopping: epochs without improvement of the tuning metric
    holdout_fraction: float = 0.15  # automatic tuning split without tuning data; 0: none, keep the last epoch
    select_epoch: bool = True  # keep the best tuning epoch; False: train the whole budget, keep the last
    # the tuning-row metric that picks the kept epoch and stops early (reports still use the eval metric):
    # "auto": the predictor's eval_metric when one is given, else the tuning loss (log_loss) for a binary
    # label and the default eval metric otherwise (accuracy, rmse, f1_macro_multilabel; see
    # metrics.base.DEFAULT_EPOCH_METRIC); "eval_metric": always the eval metric (the only rule before);
    # or a metric name
    select_epoch_by: str = "auto"
    loss: str | dict[str, str] = "auto"  # "auto", a loss name, or task -> loss name (see losses.base)
    class_weight: str | None = None  # None or "balanced"
    sampler: str | None = None  # None or "balanced"
    group_by_length: bool = False  # batch training rows of similar text length (less padding)
    focal_gamma: float = 2.0
    huber_delta: float = 1.0  # huber loss: quadratic within this many target standard deviations
    label_smoothing: float = 0.0
    num_workers: int = 0
    accelerator: str = "auto"  # Lightning's: "auto" (a GPU when present, else the CPU), "cpu", "gpu", "mps"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    progress_bar: bool = True
    embedding_cache: bool = True  # encode rows of frozen encoders once per fit
    embedding_store: bool = True  # keep frozen encoders' features on disk for later fits and predictions
    # distinct cells per call of a frozen encoder (length-sorted batches). 16: the default MiniLM encodes
    # 6,000 reviews at 191 texts/s in batches of 16 against 146 in batches of 64 (per-token int8; a
    # batch's activations stay in the cache; benchmarks/RESULTS.md, "int8 scaled per token")
    encode_batch_size: int = 16
    # text columns read as ONE text input ("Title: ... | Review Text: ..."), so one encoder (e.g. LoRA-tuned)
    # attends over them together: None (each text column its own input), "all" (every text column), "short"
    # (every one but the column with the most characters per row) or a list of text column names
    # (transmodal.data.joined_text; the joined columns are kept in the saved model spec's inputs)
    join_text: str | list[str] | None = None
    transfer: dict[str, Any] = field(default_factory=dict)  # see transmodal.transfer
    multitask: dict[str, Any] = field(default_factory=dict)  # see transmodal.multitask
    align_weight: float = 0.0  # auxiliary cross-modal alignment loss weight
    transfer_from: dict[str, Any] = field(default_factory=dict)  # knowledge-transfer network
    on_bad_rows: str = "raise"  # "raise" or "skip"

    def __post_init__(self) -> None:
        check_fields(self)
        self._check_ranges()

    def _check_ranges(self) -> None:
        """Check that every number is in its range and every choice is a valid one.

        Raises:
            ConfigError: naming the key, the value and the valid range or choices.
        """
        for key, low, high, low_open, high_open in _RANGES:
            value = getattr(self, key)
            if value is None:
                continue
            inside = math.isfinite(value) and (value > low if low_open else value >= low) and (high is None or (
                value < high if high_open else value <= high))
            if not inside:
                lower = f"{'(' if low_open else '['}{low}"
                upper = f"{high}{')' if high_open else ']'}" if high is not None else "inf)"
                raise ConfigError(f"{key}={value!r} is out of range; valid: {lower}, {upper}")
        if not _METRIC_NAME.fullmatch(self.select_epoch_by):
            raise ConfigError(f"select_epoch_by={self.select_epoch_by!r} is not a metric name; valid: 'auto', "
                              "'eval_metric' or a metric such as 'log_loss', 'roc_auc', 'accuracy', 'rmse'")
        self._check_join_text()
        for key, choices in _CHOICES.items():
            value = getattr(self, key)
            if value not in choices:
                raise ConfigError(f"{key}={spelled_value(value)} is not a valid choice"
                                  f"{did_you_mean(value, [c for c in choices if c])}; valid: "
                                  f"{', '.join(spelled_value(c) for c in choices)}")

    def _check_join_text(self) -> None:
        """``join_text``: None, one of :data:`JOIN_TEXT_FORMS` or a list of at least two distinct column
        names (whether they are text columns is checked against the table when a fit reads it).

        Raises:
            ConfigError: naming the value and the valid forms.
        """
        join = self.join_text
        if join is None:
            return
        if isinstance(join, str):
            if join not in JOIN_TEXT_FORMS:
                raise ConfigError(f"join_text={join!r} is not a valid choice{did_you_mean(join, JOIN_TEXT_FORMS)}; "
                                  f"valid: {', '.join(map(repr, JOIN_TEXT_FORMS))} or a list of text column names")
            return
        if len(join) < 2 or len(set(map(str, join))) != len(join) or not all(isinstance(c, str) for c in join):
            raise ConfigError(f"join_text must list at least two different text column names, got {join!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "FitConfig":
        """Build a config from a (possibly partial) dict.

        Raises:
            ConfigError: an unknown key (the valid ones are listed) or a value of the wrong type.
        """
        return section_from_dict(cls, values, "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return dataclasses.asdict(self)


# FitConfig ranges: (key, low, high or None, low excluded, high excluded)
_RANGES = (
    ("hidden_dim", 1, None, False, False),
    ("dropout", 0.0, 1.0, False, True),
    ("modality_dropout", 0.0, 1.0, False, True),
    ("unimodal_loss_weight", 0.0, None, False, False),
    ("max_epochs", 1, None, False, False),
    ("batch_size", 1, None, False, False),
    ("learning_rate", 0.0, None, True, False),
    ("encoder_learning_rate", 0.0, None, True, False),
    ("weight_decay", 0.0, None, False, False),
    ("warmup_ratio", 0.0, 1.0, False, False),
    ("gradient_clip", 0.0, None, True, False),
    ("patience", 0, None, False, False),
    ("holdout_fraction", 0.0, 1.0, False, True),
    ("focal_gamma", 0.0, None, False, False),
    ("huber_delta", 0.0, None, True, False),
    ("label_smoothing", 0.0, 1.0, False, True),
    ("num_workers", 0, None, False, False),
    ("encode_batch_size", 1, None, False, False),
    ("num_nodes", 1, None, False, False),
    ("align_weight", 0.0, None, False, False),
)
_METRIC_NAME = re.compile(r"[a-z][a-z0-9_]*")  # the registry checks the name when a fit starts
JOIN_TEXT_FORMS = ("all", "short")  # join_text as a word; the table's columns: transmodal.data.joined_text
_CHOICES = {"on_bad_rows": ("raise", "skip"), "class_weight": (None, "balanced"), "sampler": (None, "balanced")}


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"a.b=value"`` into ``(["a", "b"], parsed value)``; the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"cannot parse the value in {text!r}: {err}") from err
    if isinstance(value, str) and _EXPONENT_NUMBER.match(value.strip()):
        value = float(value)  # YAML 1.1 reads 3e-4 (no dot) as a string
    return key.strip().split("."), value


_EXPONENT_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return ``values`` with each ``key.sub=value`` override applied (nested dicts are created)."""
    result = json.loads(json.dumps(values))
    for text in overrides:
        keys, value = parse_override(text)
        node = result
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"cannot set {text!r}: {key!r} is not a section")
        node[keys[-1]] = value
    return result


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML config file into a dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML/JSON: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of hyperparameters")
    return data


def save_json(data: Any, path: str | Path) -> None:
    """Write ``data`` as indented JSON atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str), encoding="utf-8")
    tmp.replace(path)
