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
from transmodal.ensemble.members.embeddings import FrozenEmbeddings
from transmodal.ensemble.members.features import Categories, Numbers, TextTfidf
from transmodal.ensemble.members.shared import text_tfidf, tfidf_rows


@MEMBERS.register("tfidf_linear")
class TfidfLinear(Member):
    """Options: ``C`` (inverse L2 strength of the logistic regression), ``alpha`` (ridge), ``max_iter``,
    ``embeddings`` (``{modality or column: encoder}``: frozen features of image/audio/text columns,
    :mod:`transmodal.ensemble.members.embeddings`)."""

    kind = "tfidf_linear"
    OPTIONS = {"C": 4.0, "alpha": 1.0, "max_iter": 300, "embeddings": {}}
    skip_reason = staticmethod(classical_skip_reason)

    def prepare(self, frame: pd.DataFrame) -> None:
        ctx = self.context
        self.text = text_tfidf(ctx, frame)  # shared with the fit's other members
        self.categories = Categories(ctx.columns("categorical")).fit(frame)
        self.numbers = Numbers(ctx.columns("numeric")).fit(frame)
        self.embeddings = FrozenEmbeddings(ctx, self.options["embeddings"]).fit(frame)

    def features(self, frame: pd.DataFrame):
        import scipy.sparse as sp

        return sp.hstack([tfidf_rows(self.context, self.text, frame), self.categories.one_hot(frame),
                          sp.csr_matrix(self.numbers.scaled(frame)), sp.csr_matrix(self.embeddings.transform(frame))],
                         format="csr", dtype=np.float32)

    def fit_model(self, x_train, y_train, x_val, y_val, time_limit) -> dict[str, np.ndarray]:
        if self.context.task.problem_type == "regression":
            from sklearn.linear_model import Ridge

            model = Ridge(alpha=self.options["alpha"]).fit(x_train, y_train)
            return {"coef": np.atleast_2d(model.coef_).astype(np.float32),
                    "intercept": np.atleast_1d(model.intercept_).astype(np.float32)}
        from sklearn.linear_model import LogisticRegression

        n_classes = len(self.context.task.classes)
        model = LogisticRegression(C=self.options["C"], max_iter=self.options["max_iter"])
        model.fit(x_train, y_train)
        coef, intercept = model.coef_, model.intercept_
        if n_classes > 2 and coef.shape[0] != n_classes:  # a class absent from this fold: zero logits
            full_coef = np.zeros((n_classes, coef.shape[1]))
            full_intercept = np.full(n_classes, -30.0)
            full_coef[model.classes_], full_intercept[model.classes_] = coef, intercept
            coef, intercept = full_coef, full_intercept
        return {"coef": coef.astype(np.float32), "intercept": intercept.astype(np.float32)}

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
                      "embeddings": self.embeddings.save(files, "embed/")}
        for i, model in enumerate(self.models):
            tensors[f"fold{i}/coef"], tensors[f"fold{i}/intercept"] = model["coef"], model["intercept"]
        return files

    @classmethod
    def load(cls, context: MemberContext, options: dict[str, Any], files: MemberFiles, **load_options: Any) -> "TfidfLinear":
        self = cls(context, options)
        meta, tensors = files.meta, files.tensors
        self.text = TextTfidf.load(meta["text"], "", tensors)
        self.categories = Categories.load(meta["categories"])
        self.numbers = Numbers.load(meta["numbers"], "", tensors)
        self.embeddings = FrozenEmbeddings.load(context, meta["embeddings"], files, "embed/", **load_options)
        self.models = [{"coef": np.asarray(tensors[f"fold{i}/coef"]), "intercept": np.asarray(tensors[f"fold{i}/intercept"])}
                       for i in range(int(meta["folds"]))]
        return self
