"""Search spaces: which :class:`~transmodal.config.FitConfig` keys a study varies, over what values.

A space is YAML data: one entry per key, a FitConfig key or, with dots, a key inside one of its
sections (``transfer.r``, ``multitask.weighting``, ``encoders.text.max_length``)::

    learning_rate: {low: 1.0e-4, high: 3.0e-3, log: true}   # float (int when low and high are ints)
    hidden_dim: {choices: [64, 128, 256]}                    # categorical (a plain list is the same)
    dropout: {low: 0.0, high: 0.5, step: 0.1}
    transfer.strategy: lora                                  # fixed in every trial

The packaged spaces live in ``search_spaces/<name>.yaml`` (``default`` when none is named). Every
key is checked before the first trial: each bound and each choice must make a valid config.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from transmodal.config import FitConfig
from transmodal.errors import ConfigError, did_you_mean

SPACES_DIR = Path(__file__).resolve().parent / "search_spaces"
SECTIONS = ("encoders", "fusion_options", "transfer", "multitask", "transfer_from")  # dict-valued FitConfig keys
SCALARS = (bool, int, float, str, type(None))  # what Optuna stores as a categorical choice


def packaged_spaces() -> list[str]:
    """Names of the search spaces shipped with transmodal."""
    return sorted(p.stem for p in SPACES_DIR.glob("*.yaml"))


@dataclass(frozen=True)
class Dimension:
    """One key of a search space.

    Attributes:
        key: A FitConfig key, dotted into a section (``transfer.r``).
        kind: ``float``, ``int``, ``categorical`` or ``fixed``.
        low, high: Bounds (float and int), both included.
        log: Sample on a log scale.
        step: Grid step (None: continuous for floats, 1 for ints).
        choices: The values of a categorical key.
        value: The value of a fixed key.
    """

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()
    value: Any = None

    def suggest(self, trial) -> Any:
        """The trial's value for this key (Optuna's ``suggest_*``)."""
        if self.kind == "fixed":
            return self.value
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        """Whether a trial of this key could take ``value`` (a choice, or within the bounds and on the
        step's grid); a fixed key contains nothing to suggest."""
        if self.kind == "categorical":
            return any(type(value) is type(c) and value == c for c in self.choices)
        if self.kind == "fixed" or isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        if not self.low <= value <= self.high:
            return False
        step = self.step or (1 if self.kind == "int" else None)
        return step is None or abs((value - self.low) / step - round((value - self.low) / step)) < 1e-9

    def extremes(self) -> list[Any]:
        """The values that must each make a valid config: the bounds, every choice, the fixed value."""
        if self.kind == "fixed":
            return [self.value]
        if self.kind == "categorical":
            return list(self.choices)
        return [self.low, self.high]


def dimension_from(key: str, spec: Any, source: str) -> Dimension:
    """Parse one entry of a space.

    Raises:
        ConfigError: naming the source, the key and what is wrong with its entry.
    """
    where = f"search space {source}: key {key!r}"
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, dict):
        return Dimension(key, "fixed", value=spec)
    unknown = sorted(set(spec) - {"low", "high", "log", "step", "choices", "value", "type"})
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; valid: low, high, log, step, choices, value, type")
    if "value" in spec:
        return Dimension(key, "fixed", value=spec["value"])
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices or not all(isinstance(c, SCALARS) for c in choices):
            raise ConfigError(f"{where}: choices must be a non-empty list of numbers, strings, booleans or null, "
                              f"got {choices!r}")
        return Dimension(key, "categorical", choices=tuple(choices))
    return _range(key, spec, where)


def _range(key: str, spec: dict[str, Any], where: str) -> Dimension:
    """A float or int dimension from ``low``/``high`` (``type`` forces one)."""
    for bound in ("low", "high"):
        value = spec.get(bound)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = " (YAML reads 1e-4 as text: write 1.0e-4)" if isinstance(value, str) else ""
            raise ConfigError(f"{where}: {bound} must be a number, got {value!r}{hint}; give low and high, "
                              "or choices, or value")
    low, high, log, step = spec["low"], spec["high"], bool(spec.get("log", False)), spec.get("step")
    kind = spec.get("type") or ("int" if isinstance(low, int) and isinstance(high, int) else "float")
    if kind not in ("int", "float"):
        raise ConfigError(f"{where}: type must be int or float, got {kind!r}")
    if not low <= high or (log and low <= 0):
        raise ConfigError(f"{where}: needs low <= high{' and low > 0 (log scale)' if log else ''}, "
                          f"got low={low!r}, high={high!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0 or log):
        raise ConfigError(f"{where}: step must be a number > 0 and cannot go with log, got {step!r}")
    return Dimension(key, kind, low=low, high=high, log=log, step=step)


def with_values(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``base`` (a FitConfig as a dict) with each dotted key of ``values`` set; a copy.

    An encoder given by name (``encoders: {text: hf_text}``) becomes ``{"name": "hf_text"}`` when a
    key reaches into it.
    """
    result = json.loads(json.dumps(base, default=str))
    for key, value in values.items():
        parts = key.split(".")
        node = result
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if isinstance(child, str) and i == 1 and parts[0] == "encoders":
                child = {"name": child}
            if child is None:
                child = {}
            if not isinstance(child, dict):
                raise ConfigError(f"search space key {key!r}: {'.'.join(parts[:i + 1])} is {child!r}, not a section")
            node[part] = child
            node = child
        node[parts[-1]] = value
    return result


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions of a study, in the order given, and where they came from."""

    dimensions: tuple[Dimension, ...]
    source: str

    @classmethod
    def load(cls, choice: str | dict[str, Any]) -> "SearchSpace":
        """A packaged space by name, a YAML file by path, or a space given as a dict.

        Raises:
            ConfigError: an unknown name or missing file (the packaged names are listed), bad YAML,
                or a malformed entry (naming its key).
        """
        if isinstance(choice, dict):
            return cls.from_data(choice, "given")
        path = SPACES_DIR / f"{choice}.yaml"
        if not path.is_file():
            path = Path(choice)
        if not path.is_file():
            raise ConfigError(f"search space {choice!r} is neither a packaged space ({', '.join(packaged_spaces())}) "
                              "nor a YAML file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise ConfigError(f"search space {path} is not valid YAML: {err}") from err
        return cls.from_data(data, str(path))

    @classmethod
    def from_data(cls, data: Any, source: str) -> "SearchSpace":
        """Parse a mapping of key -> entry (see the module docstring)."""
        if not isinstance(data, dict) or not data:
            raise ConfigError(f"search space {source} must be a non-empty mapping of FitConfig keys, got {data!r}")
        return cls(tuple(dimension_from(str(k), v, source) for k, v in data.items()), source)

    def check(self, base: dict[str, Any]) -> None:
        """Fail before any trial when a key is no FitConfig key or a bound or choice is invalid.

        Args:
            base: The fit's own hyperparameters as a dict (FitConfig.to_dict()).

        Raises:
            ConfigError: naming the space and the key.
        """
        known = [f.name for f in dataclasses.fields(FitConfig)]
        for dim in self.dimensions:
            top = dim.key.split(".")[0]
            where = f"search space {self.source}: key {dim.key!r}"
            if top not in known:
                raise ConfigError(f"{where} is not a FitConfig key{did_you_mean(top, known)}; known: "
                                  f"{', '.join(sorted(known))} (dots reach into the sections {', '.join(SECTIONS)})")
            if "." in dim.key and top not in SECTIONS:
                raise ConfigError(f"{where}: {top} is not a section; only {', '.join(SECTIONS)} have sub-keys")
            for value in dim.extremes():
                try:
                    check_config(with_values(base, {**self.fixed(), dim.key: value}))
                except ConfigError as err:
                    raise ConfigError(f"{where} = {value!r} makes an invalid config: {err}") from err

    def fixed(self) -> dict[str, Any]:
        """The keys every trial sets to the same value."""
        return {d.key: d.value for d in self.dimensions if d.kind == "fixed"}

    def base_values(self, base: dict[str, Any]) -> dict[str, Any]:
        """The values ``base`` gives the space's varied keys, for the keys whose value a trial can take
        (the base trial, ``tune.base_trial``); keys ``base`` leaves outside the space are left out."""
        values = {}
        for dim in self.dimensions:
            node: Any = base
            for part in dim.key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if dim.contains(node):
                values[dim.key] = node
        return values

    def suggest(self, trial, base: dict[str, Any]) -> dict[str, Any]:
        """The trial's hyperparameters: ``base`` with each key set to the trial's value."""
        return with_values(base, {d.key: d.suggest(trial) for d in self.dimensions})

    def to_dict(self) -> dict[str, Any]:
        """The space as data (what a study records, to refuse resuming with another space)."""
        entries = {d.key: {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(d).items()
                           if k != "key" and v not in (None, (), False)} for d in self.dimensions}
        return json.loads(json.dumps(entries, default=str))


def check_config(values: dict[str, Any]) -> FitConfig:
    """A FitConfig from ``values`` with its fusion name and its ``transfer`` and ``multitask``
    sections checked too."""
    from transmodal.multitask.settings import MultitaskSettings
    from transmodal.transfer.settings import TransferSettings

    from transmodal.fusion.base import FUSIONS

    config = FitConfig.from_dict(values)
    if config.fusion not in FUSIONS:
        raise ConfigError(f"unknown fusion {config.fusion!r}; known: {', '.join(FUSIONS.names())}")
    TransferSettings.from_dict(config.transfer)
    MultitaskSettings.from_config(config.multitask)
    return config
