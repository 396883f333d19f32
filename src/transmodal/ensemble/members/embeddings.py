"""Frozen encoder features of image, audio or text columns for the classical members, through a
predictor's own encoding path (the embedding store keeps them on disk across fits).

:class:`FrozenEmbeddings` fits a :class:`~transmodal.predictor.MultimodalPredictor` on the chosen
columns with the given encoders frozen (one epoch, no tuning split: only its encoder settings are
used, never its head), then reads each row's frozen-input features as
:func:`transmodal.engine.inference.frozen_cache` and ``fill_missing_inputs`` do at prediction. The
features depend on the cells only (the encoders are frozen), so fitting this on every row before
the folds leaks no label. Saved like a neural member's predictor (config JSON, weights, references),
with the features' mean and std on the fitted rows (tensors; linear members read them standardised).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transmodal.ensemble.members.base import MemberContext, MemberFiles
from transmodal.ensemble.members.shared import memo_built, memo_rows

# one epoch of a head nobody reads, in few large batches (the encoders' settings are all that is used)
FIT = {"max_epochs": 1, "holdout_fraction": 0.0, "progress_bar": False, "hidden_dim": 16, "batch_size": 512}


class FrozenEmbeddings:
    """Frozen features ``(N, sum of dims)`` of the columns whose modality (or name) ``encoders`` keys.

    Args:
        encoders: ``{modality or column: encoder spec}``; every spec is frozen.
    """

    def __init__(self, context: MemberContext, encoders: dict[str, Any]) -> None:
        self.context = context
        self.encoders = {k: {**({"name": v} if isinstance(v, str) else v), "frozen": True} for k, v in encoders.items()}
        self.columns = [c for c, m in context.column_types.items()
                        if m in ("image", "audio", "text") and (c in self.encoders or m in self.encoders)]
        self.predictor = None
        self.mean, self.std = np.zeros(0, dtype=np.float32), np.ones(0, dtype=np.float32)  # (D,) each

    def fit(self, frame: pd.DataFrame) -> "FrozenEmbeddings":
        from transmodal.predictor import MultimodalPredictor

        if not self.columns:
            return self
        ctx = self.context
        types = {c: (m if c in self.columns else None) for c, m in ctx.column_types.items()}
        self.predictor = MultimodalPredictor(ctx.label, problem_type=ctx.task.problem_type,
                                             allowed_root=ctx.allowed_root).fit(
            frame, column_types=types, hyperparameters={**FIT, "encoders": self.encoders}, seed=ctx.seed)
        features = self.transform(frame)  # (N, D)
        self.mean = features.mean(axis=0)
        std = features.std(axis=0)
        self.std = np.where(std > 0, std, 1.0).astype(np.float32)
        return self

    def transform(self, frame: pd.DataFrame, scaled: bool = False) -> np.ndarray:
        """``(N, D)`` features of ``frame``'s rows; ``scaled``: standardised with the mean and std
        of the rows :meth:`fit` saw (for linear models). During an ensemble fit the features of one
        frame are read once (:func:`~transmodal.ensemble.members.shared.memo_rows`)."""
        if self.predictor is None:
            return np.zeros((len(frame), 0), dtype=np.float32)
        features = memo_rows(self.context, self, frame, self._features)
        return ((features - self.mean) / self.std).astype(np.float32) if scaled else features

    def _features(self, frame: pd.DataFrame) -> np.ndarray:
        """``(N, D)`` frozen features, through the predictor's prediction path."""
        from transmodal.engine.inference import fill_missing_inputs, frozen_cache

        predictor = self.predictor
        dataset = predictor.dataset(frame.drop(columns=[self.context.label], errors="ignore"))
        cache = frozen_cache(predictor.net_, dataset)
        fill_missing_inputs(predictor.net_, dataset, cache, predictor.config_)
        return np.hstack([cache.values[name].numpy() for name in cache.names]).astype(np.float32)  # (N, D)

    def save(self, files: MemberFiles, prefix: str) -> dict[str, Any]:
        from transmodal.ensemble.members.predictors import add_predictor

        saved = None
        if self.predictor is not None:
            saved = add_predictor(files, self.predictor, prefix)
            scale = _scale_key(prefix)  # outside ``prefix``: the predictor's tensors are all under it
            files.tensors[f"{scale}mean"], files.tensors[f"{scale}std"] = self.mean, self.std
        return {"encoders": self.encoders, "predictor": saved}

    @classmethod
    def load(cls, context: MemberContext, meta: dict[str, Any], files: MemberFiles, prefix: str,
             path: Path | None = None, trust_remote_code: bool = False,
             allowed_root: str | Path | None = None) -> "FrozenEmbeddings":
        from transmodal.ensemble.members.predictors import read_predictor

        self = cls(context, meta["encoders"])
        if meta["predictor"] is not None:
            self.predictor = read_predictor(files, meta["predictor"], prefix, path, trust_remote_code, allowed_root)
            scale = _scale_key(prefix)
            if f"{scale}mean" in files.tensors:  # folders saved before the scaling existed have none
                self.mean = np.asarray(files.tensors[f"{scale}mean"], dtype=np.float32)
                self.std = np.asarray(files.tensors[f"{scale}std"], dtype=np.float32)
        return self


def _scale_key(prefix: str) -> str:
    """Key prefix of the features' mean and std: ``embed/`` -> ``embed.scale/``."""
    return f"{prefix.rstrip('/')}.scale/"


def frozen_embeddings(context, encoders: dict[str, Any], frame: pd.DataFrame):
    """A :class:`~transmodal.ensemble.members.embeddings.FrozenEmbeddings` of ``encoders`` fitted on
    ``frame``; built once per fit for the same encoders when the context has an open memo."""
    if not encoders:
        return FrozenEmbeddings(context, encoders).fit(frame)
    return memo_built(context, ("embeddings", json.dumps(encoders, sort_keys=True, default=str)),
                      lambda: FrozenEmbeddings(context, encoders).fit(frame))
