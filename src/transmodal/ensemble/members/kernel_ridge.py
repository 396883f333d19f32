"""``kernel_ridge``: kernel ridge regression on frozen embeddings (a Gaussian/RBF kernel) and,
with its ``linear`` option, on the table's own columns too (a linear and a squared-cosine kernel).

A linear ridge on frozen sentence-encoder features reads each feature alone; an RBF kernel
compares whole rows (books with similar titles, authors and synopses get similar prices).
5-fold CV of the book-price training rows, the frozen MiniLM features of the four text columns
(every layer, standardised): linear ridge R^2 0.458 at its best alpha, RBF kernel ridge 0.529.
With ``linear`` the kernel also holds the ridge on the n-grams (TF-IDF, one-hot categories,
standardised numbers and their signed logs; the ``tfidf_ridge`` member's features) and their
squared cosine (pairs of features: a title's words with its format), one model on both views:
the same CV 0.5928 (the n-gram ridge 0.5623, its blend with the RBF member 0.5861).

The embeddings are standardised, then projected on their first ``components`` principal
directions (fitted on every row: no label is read). The parts of the kernel are in
:mod:`transmodal.ensemble.members.kernels`; the RBF width is ``gamma_scale`` times the median
squared distance between training rows. Each fold model keeps its training rows' features (the
projections ``(n, k)``, and with ``linear`` their sparse linear features) and dual weights ``(n,)``;
the prediction of a row is ``K(row, training rows) @ dual + mean``. Regression labels only (the
ensemble's standardised target). The kernel matrix is ``n x n``: tables above ``max_rows``
training rows use a random ``max_rows`` of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from transmodal.ensemble.members.base import MEMBERS, Member, MemberContext, MemberFiles, classical_skip_reason
from transmodal.ensemble.members.embeddings import FrozenEmbeddings, frozen_embeddings
from transmodal.ensemble.members.features import Categories, Numbers, TextTfidf, linear_features, load_log_numbers
from transmodal.ensemble.members.kernels import KernelRows, KernelWeights, TrainedRows, kernel, median_width, solve
from transmodal.ensemble.members.lightgbm import principal_components
from transmodal.ensemble.members.shared import text_tfidf, tfidf_rows

MODEL_KEYS = ("rows", "dual", "mean", "width", "value")
SPARSE_KEYS = ("data", "indices", "indptr", "shape")  # a fold's linear features of its rows (CSR)
LINEAR = {"weight": 1.0, "squared": 0.0, "log_numbers": True}  # the linear option's settings not given
BLOCK = 2048  # rows of a prediction's kernel block (BLOCK, n)


@MEMBERS.register("kernel_ridge")
class KernelRidgeMember(Member):
    """Options: ``embeddings`` (``{modality or column: encoder}``), ``components`` (principal
    components of the standardised features; 0: the features as they are), ``alpha`` (a number,
    or a list of which each split keeps the best on its validation rows), ``gamma_scale`` (the RBF
    width in units of the median squared distance), ``rbf`` (the RBF part's weight), ``linear``
    (``{}``: none; ``{weight, squared, log_numbers}``: the linear and squared-cosine parts'
    weights on the table's own columns, with the numbers' signed logs when ``log_numbers``),
    ``centre`` (an unpenalised intercept: the kernel centred on the training rows), ``max_rows``.
    It needs ``embeddings`` or ``linear``."""

    kind = "kernel_ridge"
    OPTIONS = {"embeddings": {}, "components": 256, "alpha": [0.03, 0.1, 0.3], "gamma_scale": 1.0,
               "max_rows": 8000, "rbf": 1.0, "linear": {}, "centre": False}

    @classmethod
    def skip_reason(cls, context: MemberContext, options: dict[str, Any]) -> str | None:
        """A label that is not a regression, or no column its ``embeddings`` (or ``linear``) read."""
        if context.task.problem_type != "regression":
            return "skipped: kernel_ridge learns regression labels"
        if options.get("linear"):
            return classical_skip_reason(context, options)
        if not options.get("embeddings"):
            return "skipped: kernel_ridge needs its embeddings option"
        return classical_skip_reason(context, {**options, "tfidf": False})

    def _linear(self) -> dict[str, Any]:
        """``linear``'s settings with their defaults (``{}``: no linear part)."""
        given = self.options["linear"]
        return {**LINEAR, **given} if given else {}

    def _weights(self) -> KernelWeights:
        linear = self._linear()
        return KernelWeights(rbf=float(self.options["rbf"]) if self.options["embeddings"] else 0.0,
                             linear=float(linear.get("weight", 0.0)), squared=float(linear.get("squared", 0.0)))

    def prepare(self, frame: pd.DataFrame) -> None:
        ctx = self.context
        self.embeddings = frozen_embeddings(ctx, self.options["embeddings"], frame)  # shared
        self.projection = principal_components(self.embeddings.transform(frame, scaled=True),
                                               self.options["components"], ctx.seed)
        linear = self._linear()
        self.text = text_tfidf(ctx, frame) if linear else TextTfidf([])  # shared with the fit's other members
        self.categories = Categories(ctx.columns("categorical") if linear else []).fit(frame)
        self.numbers = Numbers(ctx.columns("numeric") if linear else []).fit(frame)
        self.log_numbers = Numbers(ctx.columns("numeric") if linear.get("log_numbers") else [],
                                   signed_log=True).fit(frame)

    def features(self, frame: pd.DataFrame) -> KernelRows:
        """The principal components ``(N, k)`` of the standardised embeddings (or ``(N, D)`` them),
        and with ``linear`` the rows' sparse linear features ``(N, T)``."""
        features = self.embeddings.transform(frame, scaled=True)
        mean, components = self.projection
        dense = features if not components.size else ((features - mean) @ components.T).astype(np.float32)
        if not self._linear():
            return KernelRows(dense)
        tfidf = tfidf_rows(self.context, self.text, frame)
        return KernelRows(dense, linear_features(tfidf, self.categories, self.numbers, self.log_numbers, frame))

    def _fit_one(self, x, y: np.ndarray, alpha: float, width: float | None = None) -> dict[str, np.ndarray]:
        """Kernel ridge on rows ``x`` (:class:`KernelRows`, or a dense ``(n, k)`` array); ``width``
        (the RBF part's squared length) from the median squared distance of these rows when not given."""
        x, y = self._subsample(_rows(x), y)
        if width is None:
            width = median_width(x, self.options["gamma_scale"])
        dual, mean = solve(kernel(x, x, self._weights(), width), y, alpha, bool(self.options["centre"]))
        return self._model(x, dual, mean, alpha, width)

    def _subsample(self, x: KernelRows, y: np.ndarray) -> tuple[KernelRows, np.ndarray]:
        """At most ``max_rows`` of the rows (a random choice, in their order)."""
        limit = int(self.options["max_rows"])
        if len(x) <= limit:
            return x, y
        keep = np.sort(np.random.default_rng(self.context.seed).choice(len(x), limit, replace=False))
        return x[keep], y[keep]

    @staticmethod
    def _model(x: KernelRows, dual: np.ndarray, mean: float, alpha: float, width: float) -> dict[str, np.ndarray]:
        """A fold model's arrays: the training rows (dense, and their linear features as CSR parts),
        dual weights, mean, RBF width and alpha."""
        model = {"rows": x.dense.astype(np.float32), "dual": dual.astype(np.float32),
                 "mean": np.array([mean], dtype=np.float32), "width": np.array([width], dtype=np.float32),
                 "value": np.array([alpha], dtype=np.float32)}
        if x.linear is not None:
            rows = x.linear.tocsr()
            model.update({"linear/data": rows.data.astype(np.float32), "linear/indices": rows.indices.astype(np.int32),
                          "linear/indptr": rows.indptr.astype(np.int64),
                          "linear/shape": np.array(rows.shape, dtype=np.int64)})
        return model

    def _alphas(self) -> list[float]:
        values = self.options["alpha"]
        return [float(v) for v in (values if isinstance(values, (list, tuple)) else [values])]

    def fit_model(self, x_train, y_train, x_val, y_val, time_limit) -> dict[str, np.ndarray]:
        """The model of the ``alpha`` with the best eval metric on the validation rows (the kernel
        matrices are computed once for every alpha)."""
        from transmodal.metrics.base import METRICS

        alphas = self._alphas()
        if len(alphas) == 1:
            return self._fit_one(x_train, y_train, alphas[0])
        x_train, y_train = self._subsample(_rows(x_train), y_train)
        metric, task = METRICS.get(self.context.eval_metric), self.context.task
        targets = y_val * task.target_std + task.target_mean
        width = median_width(x_train, self.options["gamma_scale"])
        weights = self._weights()
        trained = TrainedRows.of(x_train, weights)
        train_kernel = kernel(x_train, trained, weights, width)  # (n, n)
        val_kernel = kernel(_rows(x_val), trained, weights, width)  # (m, n)
        best, best_score = None, -np.inf
        for alpha in alphas:
            dual, mean = solve(train_kernel.copy(), y_train, alpha, bool(self.options["centre"]))
            score = metric.score(metric(targets, (val_kernel @ dual + mean) * task.target_std + task.target_mean, task))
            if best is None or score > best_score:
                best, best_score = (dual, mean, alpha), score
        return self._model(x_train, *best, width)

    def refit_model(self, x, y, time_limit) -> dict[str, np.ndarray]:
        """One model on every row with the alpha the split models chose (their median)."""
        return self._fit_one(x, y, float(np.median([m["value"][0] for m in self.models])))

    def model_scores(self, model: dict[str, np.ndarray], x) -> np.ndarray:
        x = _rows(x)
        weights, width = self._weights(), float(model["width"][0])
        trained = TrainedRows.of(KernelRows(model["rows"], _sparse_rows(model)), weights)  # once for every block
        out = np.empty(len(x), dtype=np.float64)
        for start in range(0, len(x), BLOCK):
            block = kernel(x[start:start + BLOCK], trained, weights, width)  # (BLOCK, n)
            out[start:start + BLOCK] = block @ model["dual"] + float(model["mean"][0])
        return out

    def save(self) -> MemberFiles:
        tensors = {"pca/mean": self.projection[0], "pca/components": self.projection[1]}
        files = MemberFiles(tensors)
        files.meta = {"folds": len(self.models), "embeddings": self.embeddings.save(files, "embed/"),
                      "text": self.text.save("", tensors), "categories": self.categories.save(),
                      "numbers": self.numbers.save("", tensors), "log_numbers": self.log_numbers.save("log/", tensors)}
        for i, model in enumerate(self.models):
            tensors.update({f"fold{i}/{key}": value for key, value in model.items()})
        return files

    @classmethod
    def load(cls, context: MemberContext, options: dict[str, Any], files: MemberFiles,
             **load_options: Any) -> "KernelRidgeMember":
        self = cls(context, options)
        meta, tensors = files.meta, files.tensors
        self.embeddings = FrozenEmbeddings.load(context, meta["embeddings"], files, "embed/", **load_options)
        self.projection = (np.asarray(tensors["pca/mean"], dtype=np.float32),
                           np.asarray(tensors["pca/components"], dtype=np.float32))
        if "text" in meta:
            self.text = TextTfidf.load(meta["text"], "", tensors)
            self.categories = Categories.load(meta["categories"])
            self.numbers = Numbers.load(meta["numbers"], "", tensors)
        else:  # folders saved before the linear option: no linear part
            self.text, self.categories, self.numbers = TextTfidf([]), Categories([]), Numbers([])
        self.log_numbers = load_log_numbers(meta, tensors)
        keys = MODEL_KEYS + tuple(f"linear/{key}" for key in SPARSE_KEYS)
        self.models = [{key: np.asarray(tensors[f"fold{i}/{key}"]) for key in keys if f"fold{i}/{key}" in tensors}
                       for i in range(int(meta["folds"]))]
        return self


def _rows(x) -> KernelRows:
    """``x`` as :class:`KernelRows` (a dense array: its dense part)."""
    return x if isinstance(x, KernelRows) else KernelRows(np.asarray(x))


def _sparse_rows(model: dict[str, np.ndarray]):
    """A fold model's training rows' linear features (CSR ``(n, T)``), or None without them."""
    if "linear/data" not in model:
        return None
    import scipy.sparse as sp

    shape = tuple(int(v) for v in model["linear/shape"])
    return sp.csr_matrix((model["linear/data"], model["linear/indices"], model["linear/indptr"]), shape=shape)
