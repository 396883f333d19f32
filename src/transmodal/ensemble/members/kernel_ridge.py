"""``kernel_ridge``: kernel ridge regression with a Gaussian (RBF) kernel on frozen embeddings.

A linear ridge on frozen sentence-encoder features reads each feature alone; an RBF kernel
compares whole rows (books with similar titles, authors and synopses get similar prices).
5-fold CV of the book-price training rows, the frozen MiniLM features of the four text columns
(every layer, standardised): linear ridge R^2 0.458 at its best alpha, RBF kernel ridge 0.529.

The features are the frozen embeddings (:mod:`transmodal.ensemble.members.embeddings`, shared
with the fit's other members that read the same encoders), standardised, then projected on their
first ``components`` principal directions (fitted on every row: no label is read). The kernel is
``exp(-|a - b|^2 / (gamma_scale * m))`` with ``m`` the median squared distance between training
rows. Each fold model keeps its training rows' features ``(n, k)`` and dual weights ``(n,)``; the
prediction of a row is ``K(row, training rows) @ dual + mean``. Regression labels only (the
ensemble's standardised target). The kernel matrix is ``n x n``: tables above ``max_rows``
training rows use a random ``max_rows`` of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from transmodal.ensemble.members.base import MEMBERS, Member, MemberContext, MemberFiles, classical_skip_reason
from transmodal.ensemble.members.embeddings import FrozenEmbeddings, frozen_embeddings
from transmodal.ensemble.members.lightgbm import principal_components

MODEL_KEYS = ("rows", "dual", "mean", "width", "value")


@MEMBERS.register("kernel_ridge")
class KernelRidgeMember(Member):
    """Options: ``embeddings`` (``{modality or column: encoder}``, required), ``components``
    (principal components of the standardised features; 0: the features as they are), ``alpha``
    (a number, or a list of which each split keeps the best on its validation rows),
    ``gamma_scale`` (the kernel width in units of the median squared distance), ``max_rows``."""

    kind = "kernel_ridge"
    OPTIONS = {"embeddings": {}, "components": 256, "alpha": [0.03, 0.1, 0.3], "gamma_scale": 1.0,
               "max_rows": 8000}

    @classmethod
    def skip_reason(cls, context: MemberContext, options: dict[str, Any]) -> str | None:
        """A label that is not a regression, or no column its ``embeddings`` read."""
        if context.task.problem_type != "regression":
            return "skipped: kernel_ridge learns regression labels"
        if not options.get("embeddings"):
            return "skipped: kernel_ridge needs its embeddings option"
        return classical_skip_reason(context, {**options, "tfidf": False})

    def prepare(self, frame: pd.DataFrame) -> None:
        self.embeddings = frozen_embeddings(self.context, self.options["embeddings"], frame)  # shared
        self.projection = principal_components(self.embeddings.transform(frame, scaled=True),
                                               self.options["components"], self.context.seed)

    def features(self, frame: pd.DataFrame) -> np.ndarray:
        """``(N, k)`` principal components of the standardised embeddings (or ``(N, D)`` them)."""
        features = self.embeddings.transform(frame, scaled=True)
        mean, components = self.projection
        return features if not components.size else ((features - mean) @ components.T).astype(np.float32)

    def _fit_one(self, x: np.ndarray, y: np.ndarray, alpha: float, width: float | None = None) -> dict[str, np.ndarray]:
        """Dual weights of kernel ridge on rows ``x`` ``(n, k)``; ``width`` (the kernel's squared
        length) from the median squared distance of these rows when not given."""
        import scipy.linalg

        if len(x) > int(self.options["max_rows"]):
            keep = np.sort(np.random.default_rng(self.context.seed).choice(len(x), int(self.options["max_rows"]),
                                                                           replace=False))
            x, y = x[keep], y[keep]
        distances = squared_distances(x, x)  # (n, n)
        if width is None:
            width = float(self.options["gamma_scale"]) * max(float(np.median(distances)), 1e-12)
        kernel = np.exp(-distances / width)
        kernel[np.diag_indices_from(kernel)] += alpha
        mean = float(np.mean(y))
        dual = scipy.linalg.solve(kernel, y - mean, assume_a="pos", overwrite_a=True, check_finite=False)
        return {"rows": x.astype(np.float32), "dual": dual.astype(np.float32),
                "mean": np.array([mean], dtype=np.float32), "width": np.array([width], dtype=np.float32),
                "value": np.array([alpha], dtype=np.float32)}

    def _alphas(self) -> list[float]:
        values = self.options["alpha"]
        return [float(v) for v in (values if isinstance(values, (list, tuple)) else [values])]

    def fit_model(self, x_train, y_train, x_val, y_val, time_limit) -> dict[str, np.ndarray]:
        """The model of the ``alpha`` with the best eval metric on the validation rows."""
        from transmodal.metrics.base import METRICS

        alphas = self._alphas()
        if len(alphas) == 1:
            return self._fit_one(x_train, y_train, alphas[0])
        metric, task = METRICS.get(self.context.eval_metric), self.context.task
        targets = y_val * task.target_std + task.target_mean
        best, best_score = None, -np.inf
        for alpha in alphas:
            model = self._fit_one(x_train, y_train, alpha)
            score = metric.score(metric(targets, self.model_scores(model, x_val) * task.target_std + task.target_mean,
                                        task))
            if best is None or score > best_score:
                best, best_score = model, score
        return best

    def refit_seconds(self) -> float:
        """A split fitted one model per alpha; the refit fits one."""
        return super().refit_seconds() / len(self._alphas())

    def refit_model(self, x, y, time_limit) -> dict[str, np.ndarray]:
        """One model on every row with the alpha the split models chose (their median)."""
        return self._fit_one(x, y, float(np.median([m["value"][0] for m in self.models])))

    def model_scores(self, model: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        out = np.empty(len(x), dtype=np.float64)
        for start in range(0, len(x), 2048):  # (2048, n) kernel blocks
            block = np.exp(-squared_distances(x[start:start + 2048], model["rows"]) / float(model["width"][0]))
            out[start:start + 2048] = block @ model["dual"] + float(model["mean"][0])
        return out

    def save(self) -> MemberFiles:
        tensors = {"pca/mean": self.projection[0], "pca/components": self.projection[1]}
        files = MemberFiles(tensors)
        files.meta = {"folds": len(self.models), "embeddings": self.embeddings.save(files, "embed/")}
        for i, model in enumerate(self.models):
            tensors.update({f"fold{i}/{key}": model[key] for key in MODEL_KEYS})
        return files

    @classmethod
    def load(cls, context: MemberContext, options: dict[str, Any], files: MemberFiles,
             **load_options: Any) -> "KernelRidgeMember":
        self = cls(context, options)
        tensors = files.tensors
        self.embeddings = FrozenEmbeddings.load(context, files.meta["embeddings"], files, "embed/", **load_options)
        self.projection = (np.asarray(tensors["pca/mean"], dtype=np.float32),
                           np.asarray(tensors["pca/components"], dtype=np.float32))
        self.models = [{key: np.asarray(tensors[f"fold{i}/{key}"]) for key in MODEL_KEYS}
                       for i in range(int(files.meta["folds"]))]
        return self


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` squared Euclidean distances (float64, clipped at 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.maximum(out, 0.0)
