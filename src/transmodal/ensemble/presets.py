"""Presets: which ensemble members a fit tries, in order, and with what share of the time budget.

A preset is data, a YAML file in ``transmodal/presets`` (``fast.yaml``, ``medium.yaml``,
``best.yaml``), read into the frozen dataclasses below and checked when read. ``hyperparameters``
given to :meth:`AutoPredictor.fit` override a member's options: ``{member name: {option: value}}``
(on the command line ``--set lightgbm.num_boost_round=200``).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from transmodal.config import section_from_dict
from transmodal.data.schema import MODALITIES
from transmodal.errors import ConfigError, did_you_mean, spelled
from transmodal.heads.task import PROBLEM_TYPES as TASK_PROBLEM_TYPES

# what ``only_for`` may name: the task kinds an ensemble learns (not multilabel)
PROBLEM_TYPES = tuple(p for p in TASK_PROBLEM_TYPES if p != "multilabel")
PRESET_FOLDER = "presets"  # inside the transmodal package (package data, not a module)


@dataclass(frozen=True)
class MemberPlan:
    """One member a preset tries.

    Attributes:
        name: The member's name (unique in the preset; shown in the leaderboard).
        kind: A name of :data:`transmodal.ensemble.members.base.MEMBERS`.
        budget: Share of the fit's time limit this member may use (0 < budget <= 1).
        min_seconds: The member is skipped when less time than this is left.
        options: The kind's options (see each member file).
        only_with: Modalities (``image``, ``audio``, ...): when given, the member runs only on a
            table with a column of one of them, and is skipped before the budget is shared out
            otherwise (e.g. a model of frozen image embeddings on a table without images).
        only_for: Problem types (``binary``, ``multiclass``, ``regression``): when given, the
            member runs only for a label of one of them, and is skipped before the budget is
            shared out otherwise (e.g. a member whose options matter for regression only).
    """

    name: str
    kind: str
    budget: float = 0.5
    min_seconds: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)
    only_with: list[str] = field(default_factory=list)
    only_for: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0 < self.budget <= 1:
            raise ConfigError(f"member {self.name!r}: budget must be in (0, 1], got {self.budget}")
        wrong = [m for m in self.only_with if m not in MODALITIES]
        if wrong:
            raise ConfigError(f"member {self.name!r}: only_with names {wrong[0]!r}, which is not a modality; "
                              f"modalities are {', '.join(MODALITIES)}")
        wrong = [p for p in self.only_for if p not in PROBLEM_TYPES]
        if wrong:
            raise ConfigError(f"member {self.name!r}: only_for names {wrong[0]!r}, which is not a problem type; "
                              f"problem types are {', '.join(PROBLEM_TYPES)}")

    def skip_reason(self, column_types: dict[str, str], problem_type: str | None = None) -> str | None:
        """Why the member does not run on a table of these ``{column: modality}`` (``only_with``)
        for a label of ``problem_type`` (``only_for``; None: not checked), or None."""
        if self.only_with and not set(self.only_with) & set(column_types.values()):
            return f"skipped: only_with {'/'.join(self.only_with)}, and the table has no such column"
        if self.only_for and problem_type is not None and problem_type not in self.only_for:
            return f"skipped: only_for {'/'.join(self.only_for)}, and the label is {problem_type}"
        return None


@dataclass(frozen=True)
class Preset:
    """A quality level: members to try and how the ensemble is formed.

    Attributes:
        name: ``fast``, ``medium`` or ``best`` (the YAML file's stem).
        description: One line for ``--help`` and ``info``.
        time_limit: Seconds for the whole fit when ``fit`` is given none.
        holdout_fraction: Tuning rows held out (large tables) for the ensemble weights.
        bag_folds: Folds of k-fold bagging on small tables.
        bag_max_rows: Tables with at most this many rows are bagged (every member: out-of-fold
            predictions on every row, so the weights are not fitted on a handful of rows).
        selection_rounds: Steps of greedy forward selection.
        blend: How the members' scores are averaged (:mod:`transmodal.ensemble.selection`):
            ``mean`` (class probabilities) or ``geometric`` (log-probabilities, renormalised).
        selection: How the weights are fitted on the selection rows: ``greedy`` (forward selection
            with replacement) or ``stacking`` (a logistic regression on the members' logits with
            inverse L2 strength ``stacking_c``, :func:`~transmodal.ensemble.selection.stacked_weights`;
            binary labels with ``blend: geometric`` only, other labels use ``greedy``).
        stacking_c: See ``selection``.
        refit_full: After its split models, a member whose kind can be refitted (the classical
            ones) gets one model fitted on every row, which replaces them for prediction; its
            tuning score and weight stay those of the split models (AutoGluon's ``refit_full``).
        members: The members, in the order they are fitted.
    """

    name: str
    description: str = ""
    time_limit: float = 600.0
    holdout_fraction: float = 0.2
    bag_folds: int = 5
    bag_max_rows: int = 2000
    selection_rounds: int = 50
    refit_full: bool = False
    blend: str = "mean"
    selection: str = "greedy"
    stacking_c: float = 0.01
    members: tuple[MemberPlan, ...] = ()

    def __post_init__(self) -> None:
        if not self.members:
            raise ConfigError(f"preset {self.name!r} lists no members")
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise ConfigError(f"preset {self.name!r}: member names must be unique, got {names}")
        if not 0 < self.holdout_fraction < 1 or self.bag_folds < 2 or self.selection_rounds < 1:
            raise ConfigError(f"preset {self.name!r}: holdout_fraction in (0, 1), bag_folds >= 2 and "
                              "selection_rounds >= 1 are required")
        from transmodal.ensemble.selection import BLENDS, SELECTIONS

        if self.blend not in BLENDS:
            raise ConfigError(f"preset {self.name!r}: blend must be one of {', '.join(BLENDS)}, got {self.blend!r}")
        if self.selection not in SELECTIONS:
            raise ConfigError(f"preset {self.name!r}: selection must be one of {', '.join(SELECTIONS)}, "
                              f"got {self.selection!r}")
        if self.selection == "stacking" and (self.blend != "geometric" or not self.stacking_c > 0):
            raise ConfigError(f"preset {self.name!r}: selection: stacking needs blend: geometric and stacking_c > 0")

    def with_overrides(self, overrides: dict[str, Any] | None) -> "Preset":
        """A copy whose members' options are updated from ``{member name: {option: value}}``.

        Raises:
            ConfigError: an override names no member of this preset.
        """
        overrides = dict(overrides or {})
        names = [m.name for m in self.members]
        unknown = [k for k in overrides if k not in names]
        if unknown:
            raise ConfigError(f"{spelled('hyperparameters', '--set')} names {unknown[0]!r}, which is not a member of "
                              f"preset {self.name!r}{did_you_mean(str(unknown[0]), names)}; members are {names}")
        members = []
        for plan in self.members:
            options = copy.deepcopy(plan.options)
            _merge(options, overrides.get(plan.name) or {})
            members.append(dataclasses.replace(plan, options=options))
        return dataclasses.replace(self, members=tuple(members))


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """Merge nested dict ``extra`` into ``target`` in place (dicts merge, other values replace)."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _folder():
    return resources.files("transmodal").joinpath(PRESET_FOLDER)


def preset_names() -> list[str]:
    """The names of the packaged presets (YAML file stems), sorted."""
    return sorted(p.name.removesuffix(".yaml") for p in _folder().iterdir()
                  if p.name.endswith(".yaml"))


def load_preset(name: str) -> Preset:
    """Read the packaged preset ``name``.

    Raises:
        ConfigError: no such preset (the valid names are listed), or the file is malformed.
    """
    names = preset_names()
    if name not in names:
        raise ConfigError(f"{spelled('presets=', '--presets ')}{name!r} is not a preset{did_you_mean(name, names)}; "
                          f"presets are {', '.join(names)}")
    values = yaml.safe_load(_folder().joinpath(f"{name}.yaml").read_text(encoding="utf-8"))
    if not isinstance(values, dict):
        raise ConfigError(f"preset {name!r}: the YAML file is not a mapping")
    members = tuple(section_from_dict(MemberPlan, m, f"{name}.members") for m in values.pop("members", []))
    return section_from_dict(Preset, {**values, "name": name, "members": members}, name)
