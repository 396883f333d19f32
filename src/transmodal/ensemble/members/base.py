"""The registry of ensemble member kinds and what every member does.

A member kind is a subclass of :class:`Member` in its own file of this package, registered by
``@MEMBERS.register("name")``. A member learns in four steps that the ensemble fit runs in order
(:func:`transmodal.ensemble.training.fit_member`): :meth:`Member.prepare` (unsupervised state
from every row, e.g. a TF-IDF vocabulary), :meth:`Member.features` (rows to model inputs), then
one :meth:`Member.fit_model` per split (one holdout split, or k folds when bagging), and
:meth:`Member.model_scores`. A bagged member predicts the mean of its fold models. With a preset's
``refit_full``, a kind that implements :meth:`Member.refit_model` then replaces its split models
by one model fitted on every row (AutoGluon's ``refit_full``): the split models' predictions of
the selection rows still give its tuning score and its ensemble weight.

Scores are in the ensemble's space: class probabilities ``(N, C)`` for classification, the
standardised target ``(N,)`` for regression (``(y - task.target_mean) / task.target_std``).

Saved state is tensors (safetensors), JSON metadata and text files (LightGBM's model format):
:class:`MemberFiles`. Nothing a member saves is a pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from transmodal.heads.task import TaskSpec
from transmodal.registry import Registry

MEMBERS: Registry = Registry("ensemble member", "transmodal.ensemble.members")


@dataclass(frozen=True)
class MemberContext:
    """What every member of one ensemble shares.

    Attributes:
        label: The label column.
        task: The label's task (classes, or the regression target's mean and std).
        column_types: ``{column: modality}`` of the feature columns.
        eval_metric: The metric the ensemble is selected on.
        seed: Seed of every random choice.
        allowed_root: Image/audio paths must stay inside this folder (None: anywhere).
        memo: Feature state the members of one fit share
            (:class:`~transmodal.ensemble.members.shared.FitMemo`; None outside a fit).
    """

    label: str
    task: TaskSpec
    column_types: dict[str, str]
    eval_metric: str
    seed: int = 0
    allowed_root: str | None = None
    memo: Any = field(default=None, compare=False, repr=False)

    def columns(self, *modalities: str) -> list[str]:
        """The feature columns of the given modalities, in table order."""
        return [c for c, m in self.column_types.items() if m in modalities]


@dataclass
class MemberFiles:
    """A member's saved state.

    Attributes:
        tensors: ``{key: array}`` written to the model's safetensors file (prefixed by the member).
        meta: JSON-serialisable metadata (written to ``member.<name>.json``).
        texts: ``{suffix: text}`` written to ``member.<name>.<suffix>`` (suffix ends in ``.txt``/``.json``).
        external: Digests of weights read from outside the folder, keyed by input (neural members).
    """

    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    external: dict[str, Any] = field(default_factory=dict)


class NoFeatures(Exception):
    """The table has no column the member reads (e.g. a classical member on images and audio only,
    or a member that adapts text encoders on a table without text); the member is skipped."""


CLASSICAL_SKIP = "skipped: no column it reads (image and audio columns need its embeddings option)"


def classical_skip_reason(context: MemberContext, options: dict[str, Any]) -> str | None:
    """A classical member reads categories and numbers, text columns (unless ``tfidf`` is false),
    and the image/audio/text columns its ``embeddings`` option names (by modality or column): with
    none of them it is skipped."""
    embedded = options.get("embeddings") or {}
    reads = context.columns("categorical", "numeric") + (context.columns("text") if options.get("tfidf", True) else [])
    reads += [c for c, m in context.column_types.items()
              if m in ("image", "audio", "text") and (c in embedded or m in embedded)]
    return None if reads else CLASSICAL_SKIP


class Member:
    """One model of the ensemble, possibly bagged (one fitted model per fold).

    Args:
        context: The ensemble's shared settings.
        options: The kind's options from the preset (with the user's overrides).
    """

    kind: str = ""
    #: Options this kind understands (unknown ones raise when the member is built).
    OPTIONS: dict[str, Any] = {}

    def __init__(self, context: MemberContext, options: dict[str, Any]) -> None:
        from transmodal.config import unknown_keys_message
        from transmodal.errors import ConfigError

        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise ConfigError(unknown_keys_message(unknown, set(self.OPTIONS), self.kind))
        self.context = context
        self.options = {**self.OPTIONS, **options}
        self.models: list[Any] = []
        self.split_seconds: list[float] = []  # each split model's fit time, scaled to every row

    @classmethod
    def skip_reason(cls, context: MemberContext, options: dict[str, Any]) -> str | None:
        """Why this kind cannot read the table, known from its column types alone (None: it can).
        Asked before the time budget is shared out, so that a member skipped later in the preset
        leaves its share to the members that run. Default: None."""
        return None

    def prepare(self, frame: pd.DataFrame) -> None:
        """Learn unsupervised state from every row (labels are not looked at). Default: nothing."""

    def features(self, frame: pd.DataFrame) -> Any:
        """Rows to model inputs (a matrix, or the frame itself). Default: the frame."""
        return frame

    def fit_model(self, x_train: Any, y_train: np.ndarray, x_val: Any, y_val: np.ndarray,
                  time_limit: float | None) -> Any:
        """Fit one model on ``x_train`` (``x_val`` may be used for early stopping); return it."""
        raise NotImplementedError

    def model_scores(self, model: Any, x: Any) -> np.ndarray:
        """Scores of one fitted model: ``(N, C)`` probabilities or ``(N,)`` standardised values."""
        raise NotImplementedError

    def validation_scores(self, model: Any, x_val: Any) -> np.ndarray:
        """Scores of the validation rows ``model`` was fitted with (as :meth:`model_scores`).
        Default: predicted; a member whose fit already scored them returns those."""
        return self.model_scores(model, x_val)

    def refit_seconds(self) -> float:
        """About how long :meth:`refit_model` takes: the split models' mean fit time, scaled to
        every row (:attr:`split_seconds`). Default: that."""
        return float(np.mean(self.split_seconds)) if self.split_seconds else 0.0

    def refit_model(self, x: Any, y: np.ndarray, time_limit: float | None) -> Any:
        """One model fitted on every row ``x`` with what the split models in :attr:`models` learned
        (e.g. the number of boosting rounds, the chosen regularisation), for presets with
        ``refit_full``; None when this kind is not refitted (default)."""
        return None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores of ``frame``'s rows: the mean over the fitted (fold) models."""
        x = self.features(frame)
        return np.mean([self.model_scores(model, x) for model in self.models], axis=0)

    def save(self) -> MemberFiles:
        """The member's state as tensors, JSON and text."""
        raise NotImplementedError

    @classmethod
    def load(cls, context: MemberContext, options: dict[str, Any], files: MemberFiles,
             **load_options: Any) -> "Member":
        """Rebuild a member from what :meth:`save` wrote (nothing is executed or unpickled)."""
        raise NotImplementedError


def take(x: Any, rows: np.ndarray) -> Any:
    """Rows ``rows`` of a matrix or a DataFrame."""
    return x.iloc[rows] if isinstance(x, pd.DataFrame) else x[rows]


def probabilities(logits: np.ndarray, binary_column: bool) -> np.ndarray:
    """Softmax of ``(N, C)`` logits; a ``(N,)`` / ``(N, 1)`` logit of a binary task -> ``(N, 2)``."""
    if binary_column:
        p = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64).reshape(-1)))
        return np.stack([1.0 - p, p], axis=1)
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
