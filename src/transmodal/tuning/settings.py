"""The ``tune`` section of a fit: how many trials, where the study lives, which space and pruner."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from transmodal.config import check_fields, section_from_dict
from transmodal.errors import ConfigError, spelled

PRUNERS = ("median", "successive_halving", "none")
FINAL_FITS = ("fold_models", "all_rows", "holdout")


@dataclass(frozen=True)
class TuneSettings:
    """What ``fit(..., tune={...})`` and ``transmodal tune`` ask of a study.

    A study runs until it holds ``n_trials`` finished trials (complete, pruned, or failed by their
    own error; a trial lost to a killed process does not count), or until ``timeout`` seconds have
    passed in this process (no trial starts after it). With a ``storage``, several processes running
    the same study (same ``study_name``) share its trials, and a killed study resumes where it stopped.

    ``cv_folds`` decides what scores a trial. With 1, a trial is one fit scored on the tuning rows
    (``tuning_data`` or the fit's holdout), and the best trial's fit is the model. With k >= 2, a trial
    is k fits on folds of the training table (each fold's rows tune one fit: every training row
    scores the trial once), its score is the mean of the folds' best tuning scores, and the pruner
    watches its first fold's epochs. ``final_fit`` says which model the chosen configuration becomes:

    - ``fold_models``: its k fold networks themselves (each trained on its fold's training rows, its
      epoch chosen on its own fold's tuning rows), kept together as one model that averages their
      predictions: bagging, the variance-reducing choice AutoGluon makes. k networks are an ensemble,
      so this model is an :class:`~transmodal.ensemble.auto.AutoPredictor` (``AutoPredictor.tune``,
      ``transmodal tune``); ``MultimodalPredictor.fit`` holds one network and refuses it.
    - ``all_rows``: one network fitted on every training row, no rows held out, for as many epochs as
      its folds' best epochs on average (the learning-rate schedule still spans ``max_epochs``, as in
      the folds; ``tuning_data`` is not used).
    - ``holdout``: one network fitted as a plain fit would be (``tuning_data`` or the holdout choosing
      the epoch).

    None (the default) is the entry point's: ``fold_models`` where the result can be an ensemble
    (``AutoPredictor.tune``, ``transmodal tune``), ``all_rows`` in ``MultimodalPredictor.fit``.

    ``base_trial`` (default on) makes the first trial of a new study the fit's own hyperparameters
    (the values the base config gives the space's keys; a key whose base value lies outside the space
    is sampled), so the study's best tuning score is never below the configuration it started from.
    """

    n_trials: int | None = 20  # finished trials in the whole study (all processes); None: until timeout
    timeout: float | None = None  # seconds in this process after which no trial starts
    search_space: str | dict[str, Any] = "default"  # a packaged space's name, a YAML path, or the space itself
    storage: str | None = None  # None: in memory; a database URL (sqlite:///study.db) makes it resumable and shared
    study_name: str | None = None  # None: "transmodal-<labels>"
    n_jobs: int = 1  # worker processes on this machine (more than 1 needs a storage)
    pruner: str = "median"  # "median", "successive_halving" or "none"; on the per-epoch tuning score
    startup_trials: int = 5  # median pruner: trials that finish unpruned before pruning starts
    warmup_epochs: int = 1  # median pruner: epochs of every trial that are never pruned
    heartbeat_seconds: int = 10  # database storages: a worker's trial whose heartbeat is 2x older is failed
    features_shared: bool = True  # frozen encoders' features shared by the trials (fit option feature_memo)
    cv_folds: int = 1  # 1: score trials on the tuning rows; k >= 2: mean over k folds of the training table, then refit
    final_fit: str | None = None  # cv_folds >= 2: "fold_models", "all_rows" or "holdout"; None: the entry point's
    base_trial: bool = True  # the first trial of a new study is the fit's own hyperparameters

    def __post_init__(self) -> None:
        check_fields(self, "tune.")
        if self.n_trials is None and self.timeout is None:
            raise ConfigError("tune needs n_trials or timeout (or both); got neither")
        if self.n_trials is not None and self.n_trials < 1:
            raise ConfigError(f"tune.n_trials={self.n_trials!r} is out of range; valid: >= 1, or None with a timeout")
        if self.timeout is not None and not (0 < self.timeout < math.inf):
            raise ConfigError(f"tune.timeout={self.timeout!r} is out of range; valid: seconds > 0, or None")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"tune.pruner={self.pruner!r} is not a valid choice; valid: {', '.join(PRUNERS)}")
        if self.final_fit is not None and self.final_fit not in FINAL_FITS:
            raise ConfigError(f"tune.final_fit={self.final_fit!r} is not a valid choice; valid: {', '.join(FINAL_FITS)}")
        for key in ("n_jobs", "heartbeat_seconds", "cv_folds"):
            if getattr(self, key) < 1:
                raise ConfigError(f"tune.{key}={getattr(self, key)!r} is out of range; valid: >= 1")
        for key in ("startup_trials", "warmup_epochs"):
            if getattr(self, key) < 0:
                raise ConfigError(f"tune.{key}={getattr(self, key)!r} is out of range; valid: >= 0")
        if self.n_jobs > 1 and self.storage is None:
            raise ConfigError(f"{spelled('tune.n_jobs=', '--jobs ')}{self.n_jobs} runs worker processes, which "
                              f"share trials through a storage: give {spelled('tune.storage', '--storage')}, "
                              "e.g. sqlite:///study.db")

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "TuneSettings":
        """Build the settings from the ``tune`` dict.

        Raises:
            ConfigError: an unknown key (the valid ones are listed), a wrong type or an out-of-range value.
        """
        if values is not None and not isinstance(values, dict):
            raise ConfigError(f"tune must be a dict such as {{'n_trials': 20}}, got {values!r}")
        return section_from_dict(cls, values, "tune")

    def with_final_fit(self, default: str) -> "TuneSettings":
        """These settings with ``final_fit`` set to ``default`` when it was not given."""
        return self if self.final_fit is not None else dataclasses.replace(self, final_fit=default)

    def name_for(self, labels: tuple[str, ...]) -> str:
        """The study name: the one given, or ``transmodal-<labels>``."""
        return self.study_name or "transmodal-" + "+".join(labels)
