"""The served model: a saved predictor loaded once, its metadata, and its outputs as JSON values.

The server talks to the predictor only through ``predict``/``predict_proba`` on a DataFrame and its
learned attributes (``column_types_``, ``tasks_``, ``labels``), so any saved predictor serves the same
way: single- or multi-task, any other predictor kind that ``MultimodalPredictor.load`` reads
(whatever its predict path: the fast inference path is the predictor's own business), and an
ensemble folder (``AutoPredictor.load``: presets, a search's fold models), which has the same surface.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PREDICT, PREDICT_PROBA = "predict", "predict_proba"


@dataclass
class ServedModel:
    """A loaded predictor and what ``GET /metadata`` tells about it.

    Attributes:
        predictor: The loaded ``MultimodalPredictor`` (or ``AutoPredictor`` of an ensemble folder).
        metadata: Columns with their modalities, labels, tasks (with classes), format version and the
            manifest's SHA-256.
    """

    predictor: Any
    metadata: dict[str, Any]

    @property
    def column_types(self) -> dict[str, str]:
        """Feature column -> modality."""
        return dict(self.predictor.column_types_)

    @property
    def tasks(self) -> list[Any]:
        """The tasks (``TaskSpec``), in head order."""
        return list(self.predictor.tasks_)

    @property
    def single(self) -> bool:
        """True when the model has one label (outputs are values, not objects keyed by task)."""
        return isinstance(self.predictor.label, str)

    @property
    def has_classes(self) -> bool:
        """True when some task has class probabilities (``/predict_proba`` is served)."""
        return any(t.problem_type != "regression" for t in self.tasks)

    def run(self, kind: str, frame: pd.DataFrame) -> list[Any]:
        """Predictions (``kind`` = predict) or class probabilities (predict_proba) of every row of
        ``frame``, one JSON value per row. A micro-batch's texts are encoded in length batches split
        evenly between the CPU workers (:func:`~transmodal.engine.encoding.balanced_batches`)."""
        from transmodal.engine.encoding import balanced_batches

        with balanced_batches():
            return self._outputs(kind, frame)

    def _outputs(self, kind: str, frame: pd.DataFrame) -> list[Any]:
        if kind == PREDICT:
            out = self.predictor.predict(frame)
            if isinstance(out, pd.Series):
                return [json_value(v) for v in out.tolist()]
            return [{str(k): json_value(v) for k, v in row.items()} for row in out.to_dict(orient="records")]
        out = self.predictor.predict_proba(frame)
        if isinstance(out, pd.DataFrame):
            return _proba_rows(out)
        per_task = {task: _proba_rows(probs) for task, probs in out.items()}
        return [{task: rows[i] for task, rows in per_task.items()} for i in range(len(frame))]


def load_served(model_dir: str | Path, allowed_root: str | Path | None) -> ServedModel:
    """Load the predictor in ``model_dir`` (manifest verified, no code run from the folder) with paths
    limited to ``allowed_root``, and gather its metadata.

    Raises:
        ModelLoadError: the folder is not a loadable predictor.
    """
    from transmodal import __version__
    from transmodal.persistence import MANIFEST_FILE, peek_config, read_regular_file

    config = peek_config(model_dir) or {}
    if isinstance(config, dict) and "ensemble" in config:
        from transmodal.ensemble.auto import AutoPredictor

        predictor = AutoPredictor.load(model_dir, allowed_root=allowed_root)
        config = config["ensemble"]
    else:
        from transmodal.predictor import MultimodalPredictor

        predictor = MultimodalPredictor.load(model_dir, allowed_root=allowed_root)
    manifest = read_regular_file(Path(model_dir) / MANIFEST_FILE)
    tasks = [{"name": t.name, "problem_type": t.problem_type, "classes": [json_value(c) for c in t.classes]}
             for t in predictor.tasks_]
    metadata = {
        "columns": [{"name": str(c), "type": m} for c, m in predictor.column_types_.items()],
        "labels": list(predictor.labels), "tasks": tasks,
        "model": {"format_version": config.get("version"), "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
                  "transmodal_version": __version__},
    }
    return ServedModel(predictor, metadata)


def _proba_rows(frame: pd.DataFrame) -> list[dict[str, float]]:
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, map(json_value, row))) for row in frame.to_numpy(dtype=np.float64).tolist()]


def json_value(value: Any) -> Any:
    """``value`` as a plain JSON value: numpy scalars unwrapped, NaN and infinities as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
