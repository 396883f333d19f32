"""``tfidf_linear``: TF-IDF word and character n-grams of the text columns, one-hot categories and
standardised numbers into a linear model (logistic regression; ridge for regression).

Saved: vocabularies and categories as JSON, IDF weights, number scaling and each fold model's
weights and intercepts as tensors; prediction is ``softmax(X @ W.T + b)`` computed here, so no
scikit-learn estimator is saved or rebuilt.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from transmodal.ensemble.members.base import (MEMBERS, Member, MemberContext, MemberFiles, classical_skip_reason,
                                              probabilities)
from transmodal.ensemble.members.embeddings import FrozenEmbeddings, frozen_embeddings
from transmodal.ensemble.members.features import Categories, Numbers, TextTfidf, linear_features, load_log_numbers
from transmodal.ensemble.members.shared import text_tfidf, tfidf_rows


@MEMBERS.register("tfidf_linear")
class TfidfLinear(Member):
    """Options: ``C`` (inverse L2 strength of the logistic regression), ``alpha`` (ridge): a number,
    or a list of values of which each split keeps the one with the best eval metric on its
    validation rows; ``max_iter``; ``log_count_ratio`` (binary labels: every feature scaled by its
    naive-Bayes log-count ratio before the logistic regression, NB-SVM of Wang and Manning 2012; the
    scaling is folded into the saved weights);
    ``embeddings`` (``{modality or column: encoder}``: frozen features of image/audio/text columns,
    :mod:`transmodal.ensemble.members.embeddings`, standardised); ``tfidf`` (false: no n-grams of
    the text columns, e.g. a linear model on their frozen embeddings only); ``log_numbers`` (true:
    the numbers also enter as ``sign(x) * log1p(|x|)``, standardised, beside their standardised
    values: a count with a long tail is then closer to linear; 5-fold CV of the book-price training
    rows, ridge: R^2 0.5556 -> 0.5623)."""

    kind = "tfidf_linear"
    OPTIONS = {"C": 4.0, "alpha": 1.0, "max_iter": 300, "log_count_ratio": False, "tfidf": True, "embeddings": {},
               "log_numbers": False}

    @classmethod
    def skip_reason(cls, context: MemberContext, options: dict[str, Any]) -> str | None:
        """:func:`classical_skip_reason`; with ``log_count_ratio``, also a label that is not binary."""
        if options.get("log_count_ratio") and context.task.problem_type != "binary":
            return "skipped: log_count_ratio needs a binary label"
        return classical_skip_reason(context, options)

    def prepare(self, frame: pd.DataFrame) -> None:
        ctx = self.context
        # shared with the fit's other members; without ``tfidf`` no text column is read as n-grams
        self.text = text_tfidf(ctx, frame) if self.options["tfidf"] else TextTfidf([])
        self.categories = Categories(ctx.columns("categorical")).fit(frame)
        self.numbers = Numbers(ctx.columns("numeric")).fit(frame)
        self.log_numbers = Numbers(ctx.columns("numeric") if self.options["log_numbers"] else [],
                                   signed_log=True).fit(frame)
        self.embeddings = frozen_embeddings(ctx, self.options["embeddings"], frame)  # shared

    def features(self, frame: pd.DataFrame):
        import scipy.sparse as sp

        own = linear_features(tfidf_rows(self.context, self.text, frame), self.categories, self.numbers,
                              self.log_numbers, frame)  # the signed logs: (N, 0) without the option
        return sp.hstack([own, sp.csr_matrix(self.embeddings.transform(frame, scaled=True))], format="csr",
                         dtype=np.float32)

    def _grid(self) -> tuple[str, list[float]]:
        """The regularisation option of this task (``C``, or ``alpha`` for regression) and its
        values: one number, or a list to choose from on each split's validation rows."""
        key = "alpha" if self.context.task.problem_type == "regression" else "C"
        values = self.options[key]
        return key, [float(v) for v in (values if isinstance(values, (list, tuple)) else [values])]

    def _fit_one(self, x, y, value: float) -> dict[str, np.ndarray]:
        """One linear model with ``C`` (or ridge ``alpha``) = ``value``; its weights as arrays."""
        if self.context.task.problem_type == "regression":
            from sklearn.linear_model import Ridge

            model = Ridge(alpha=value).fit(x, y)
            return {"coef": np.atleast_2d(model.coef_).astype(np.float32),
                    "intercept": np.atleast_1d(model.intercept_).astype(np.float32),
                    "value": np.array([value], dtype=np.float32)}
        from sklearn.linear_model import LogisticRegression

        n_classes = len(self.context.task.classes)
        model = LogisticRegression(C=value, max_iter=self.options["max_iter"])
        ratio = log_count_ratio(x, y) if self.options["log_count_ratio"] else None
        model.fit(x if ratio is None else x.multiply(ratio).tocsr(), y)
        coef, intercept = model.coef_, model.intercept_
        if ratio is not None:  # (x * r) @ w == x @ (w * r): the scaling folds into the weights
            coef = coef * ratio
        if n_classes > 2 and coef.shape[0] != n_classes:  # a class absent from this fold: zero logits
            full_coef = np.zeros((n_classes, coef.shape[1]))
            full_intercept = np.full(n_classes, -30.0)
            full_coef[model.classes_], full_intercept[model.classes_] = coef, intercept
            coef, intercept = full_coef, full_intercept
        return {"coef": coef.astype(np.float32), "intercept": intercept.astype(np.float32),
                "value": np.array([value], dtype=np.float32)}

    def fit_model(self, x_train, y_train, x_val, y_val, time_limit) -> dict[str, np.ndarray]:
        """The model of the grid value (``C`` or ``alpha``) with the best eval metric on the
        validation rows (the value is kept in the model as ``value``)."""
        from transmodal.metrics.base import METRICS

        _, values = self._grid()
        if len(values) == 1:
            return self._fit_one(x_train, y_train, values[0])
        metric, task = METRICS.get(self.context.eval_metric), self.context.task
        targets = y_val * task.target_std + task.target_mean if task.problem_type == "regression" else y_val
        best, best_score = None, -np.inf
        for value in values:
            model = self._fit_one(x_train, y_train, value)
            scores = self.model_scores(model, x_val)
            if task.problem_type == "regression":
                scores = scores * task.target_std + task.target_mean
            score = metric.score(metric(targets, scores, task))
            if best is None or score > best_score:
                best, best_score = model, score
        return best

    def refit_seconds(self) -> float:
        """A split fitted one model per grid value; the refit fits one."""
        return super().refit_seconds() / len(self._grid()[1])

    def refit_model(self, x, y, time_limit) -> dict[str, np.ndarray]:
        """One model on every row with the value the split models chose (their median)."""
        return self._fit_one(x, y, float(np.median([m["value"][0] for m in self.models])))

    def model_scores(self, model: dict[str, np.ndarray], x) -> np.ndarray:
        logits = np.asarray(x @ model["coef"].T) + model["intercept"]  # (N, C) or (N, 1)
        if self.context.task.problem_type == "regression":
            return logits[:, 0]
        return probabilities(logits, binary_column=logits.shape[1] == 1)

    def save(self) -> MemberFiles:
        tensors: dict[str, np.ndarray] = {}
        files = MemberFiles(tensors)
        files.meta = {"text": self.text.save("", tensors), "categories": self.categories.save(),
                      "numbers": self.numbers.save("", tensors), "folds": len(self.models),
                      "log_numbers": self.log_numbers.save("log/", tensors),
                      "embeddings": self.embeddings.save(files, "embed/")}
        for i, model in enumerate(self.models):
            tensors.update({f"fold{i}/{key}": value for key, value in model.items()})
        return files

    @classmethod
    def load(cls, context: MemberContext, options: dict[str, Any], files: MemberFiles, **load_options: Any) -> "TfidfLinear":
        self = cls(context, options)
        meta, tensors = files.meta, files.tensors
        self.text = TextTfidf.load(meta["text"], "", tensors)
        self.categories = Categories.load(meta["categories"])
        self.numbers = Numbers.load(meta["numbers"], "", tensors)
        self.log_numbers = load_log_numbers(meta, tensors)
        self.embeddings = FrozenEmbeddings.load(context, meta["embeddings"], files, "embed/", **load_options)
        self.models = [{key: np.asarray(tensors[f"fold{i}/{key}"]) for key in ("coef", "intercept", "value")
                        if f"fold{i}/{key}" in tensors} for i in range(int(meta["folds"]))]
        return self


def log_count_ratio(x, y: np.ndarray) -> np.ndarray:
    """``(features,)`` naive-Bayes log-count ratios of a binary label (Wang and Manning 2012):
    ``log((p / |p|) / (q / |q|))`` with ``p``, ``q`` the number of positive and negative rows where
    the feature is present (> 0), plus one."""
    present = (x > 0).astype(np.float32)  # (N, F) sparse
    p = np.asarray(present[y == 1].sum(axis=0)).ravel() + 1.0
    q = np.asarray(present[y == 0].sum(axis=0)).ravel() + 1.0
    return np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
