"""``lightgbm``: gradient-boosted trees on numbers, categories (LightGBM's categorical features) and
compact text features (a truncated SVD of the text columns' TF-IDF).

Each fold's booster stops early on its validation rows and when its time is up. Saved: the
boosters in LightGBM's own text model format (``member.<name>.fold<i>.txt``; reading it parses
numbers, it runs no code), vocabularies and categories as JSON, IDF weights and the SVD
components as tensors. With ``stack_linear`` each booster also reads a ridge regression's
predictions (:mod:`transmodal.ensemble.members.stacking`); the ridge weights are tensors.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from transmodal.ensemble.members.base import MEMBERS, Member, MemberContext, MemberFiles, classical_skip_reason
from transmodal.ensemble.members.embeddings import FrozenEmbeddings, frozen_embeddings
from transmodal.ensemble.members.features import Categories, Numbers, TextTfidf, linear_features, load_log_numbers
from transmodal.ensemble.members.shared import text_tfidf, tfidf_rows
from transmodal.ensemble.members.stacking import (StackRows, Stacked, ridge_targets, stack_features,
                                                  stack_training)

OBJECTIVES = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}


@MEMBERS.register("lightgbm")
class LightGBMMember(Member):
    """Options: ``svd_components`` (text features; 0: none), ``num_boost_round``, ``learning_rate``,
    ``num_leaves``, ``early_stopping_rounds``, ``min_data_in_leaf``, ``feature_fraction``, ``num_threads``
    (1 by default: OpenMP threads spin badly on a shared CPU), ``embeddings`` (``{modality or column:
    encoder}``: frozen features of image/audio/text columns, :mod:`transmodal.ensemble.members.embeddings`),
    ``embedding_components`` (0: the frozen features as they are; k: their first k principal
    components, fitted on every row like the SVD of the text: 1,280 EfficientNet features give the
    trees many weak columns to split on, a few dozen components the directions that vary most),
    ``stack_linear`` (``{}``: none; ``{alpha, folds, log_numbers}``: the boosters also read a ridge
    regression's out-of-fold predictions from the TF-IDF, one-hot categories and standardised
    numbers, with their signed logs when ``log_numbers``; :mod:`~transmodal.ensemble.members.stacking`)."""

    kind = "lightgbm"
    OPTIONS = {"svd_components": 64, "num_boost_round": 400, "learning_rate": 0.05, "num_leaves": 31,
               "early_stopping_rounds": 40, "min_data_in_leaf": 20, "feature_fraction": 0.8, "num_threads": 1,
               "embeddings": {}, "embedding_components": 0,
               "stack_linear": {}}
    STACK = {"alpha": 2.0, "folds": 5, "log_numbers": True}  # stack_linear's settings not given
    skip_reason = staticmethod(classical_skip_reason)

    def prepare(self, frame: pd.DataFrame) -> None:
        ctx = self.context
        self.numbers = Numbers(ctx.columns("numeric")).fit(frame)
        self.embeddings = frozen_embeddings(ctx, self.options["embeddings"], frame)  # shared
        self.projection = principal_components(self.embeddings.transform(frame), self.options["embedding_components"],
                                              ctx.seed)
        self.categories = Categories(ctx.columns("categorical")).fit(frame)
        self.log_numbers = Numbers(ctx.columns("numeric") if self._stack().get("log_numbers") else [],
                                   signed_log=True).fit(frame)
        self.text = text_tfidf(ctx, frame)  # shared with the fit's other members
        self.components = np.zeros((0, 0), dtype=np.float32)
        tfidf = tfidf_rows(ctx, self.text, frame)
        k = min(int(self.options["svd_components"]), tfidf.shape[1] - 1, len(frame) - 1)
        if k > 0:
            from sklearn.decomposition import TruncatedSVD

            svd = TruncatedSVD(n_components=k, random_state=ctx.seed).fit(tfidf)
            self.components = svd.components_.astype(np.float32)  # (k, terms)

    def _stack(self) -> dict[str, Any]:
        """``stack_linear``'s settings with their defaults (``{}``: no stacking)."""
        given = self.options["stack_linear"]
        return {**self.STACK, **given} if given else {}

    def features(self, frame: pd.DataFrame):
        """``(N, F)`` numbers, category codes, SVD and embedding features; with ``stack_linear`` a
        :class:`StackRows` of them and the ridge's sparse features ``(N, T)``."""
        tfidf = tfidf_rows(self.context, self.text, frame)
        parts = [self.numbers.raw(frame), self.categories.codes(frame)]
        if self.components.size:
            parts.append(np.asarray(tfidf @ self.components.T, dtype=np.float32))  # (N, k)
        parts.append(self._embedded(frame))
        dense = np.hstack(parts)
        if not self._stack():
            return dense
        return StackRows(dense, linear_features(tfidf, self.categories, self.numbers, self.log_numbers, frame))

    def _embedded(self, frame: pd.DataFrame) -> np.ndarray:
        """The frozen features ``(N, D)`` (none: ``(N, 0)``), or their principal components ``(N, k)``."""
        features = self.embeddings.transform(frame)
        mean, components = self.projection
        return features if not components.size else ((features - mean) @ components.T).astype(np.float32)

    def _params(self) -> dict[str, Any]:
        task, o = self.context.task, self.options
        params = {"objective": OBJECTIVES[task.problem_type], "learning_rate": o["learning_rate"],
                  "num_leaves": o["num_leaves"], "min_data_in_leaf": o["min_data_in_leaf"],
                  "feature_fraction": o["feature_fraction"], "seed": self.context.seed, "verbosity": -1,
                  "num_threads": o["num_threads"], "deterministic": True, "force_col_wise": True}
        if task.problem_type == "multiclass":
            params["num_class"] = len(task.classes)
        return params

    def fit_model(self, x_train, y_train, x_val, y_val, time_limit):
        import lightgbm as lgb

        stacked = None
        if isinstance(x_train, StackRows):  # the ridge: out-of-fold on these rows, fitted on all for x_val
            x_train, stacked = self._stack_fit(x_train, y_train)
            x_val = stack_features(x_val, stacked.coef, stacked.intercept)
        categorical = self._categorical()
        train = lgb.Dataset(x_train, y_train, categorical_feature=categorical, free_raw_data=False)
        valid = lgb.Dataset(x_val, y_val, categorical_feature=categorical, reference=train)
        callbacks = [lgb.early_stopping(self.options["early_stopping_rounds"], verbose=False)]
        if time_limit is not None:
            callbacks.append(_stop_at(time.monotonic() + time_limit))
        booster = lgb.train(self._params(), train, num_boost_round=self.options["num_boost_round"],
                            valid_sets=[valid], callbacks=callbacks)
        return booster if stacked is None else Stacked(booster, stacked.coef, stacked.intercept)

    def _stack_fit(self, x: StackRows, y: np.ndarray) -> tuple[np.ndarray, Stacked]:
        """``x``'s features with the ridge's out-of-fold predictions, and the ridge on all of ``x``."""
        settings, task = self._stack(), self.context.task
        targets = ridge_targets(y, task.problem_type, len(task.classes or []))
        dense, coef, intercept = stack_training(x, targets, float(settings["alpha"]), int(settings["folds"]),
                                                self.context.seed)
        return dense, Stacked(None, coef, intercept)

    def refit_model(self, x, y, time_limit):
        """One booster on every row for the mean number of rounds the split boosters kept (their
        early-stopping best iteration), stopped at ``time_limit`` like theirs."""
        import lightgbm as lgb

        boosters = [_booster(m) for m in self.models]
        rounds = int(round(np.mean([b.best_iteration or b.current_iteration() for b in boosters])))
        stacked = None
        if isinstance(x, StackRows):
            x, stacked = self._stack_fit(x, y)
        train = lgb.Dataset(x, y, categorical_feature=self._categorical(), free_raw_data=False)
        callbacks = [_stop_at(time.monotonic() + time_limit)] if time_limit is not None else []
        booster = lgb.train(self._params(), train, num_boost_round=max(rounds, 1), callbacks=callbacks)
        booster.best_iteration = 0  # every tree counts
        return booster if stacked is None else Stacked(booster, stacked.coef, stacked.intercept)

    def _categorical(self) -> list[int]:
        """Column positions of the categorical codes in :meth:`features`."""
        return list(range(len(self.numbers.columns), len(self.numbers.columns) + len(self.categories.columns)))

    def model_scores(self, model, x) -> np.ndarray:
        booster = _booster(model)
        if isinstance(model, Stacked):
            x = stack_features(x, model.coef, model.intercept)
        out = booster.predict(x, num_iteration=booster.best_iteration or None)
        if self.context.task.problem_type == "binary":
            return np.stack([1.0 - out, out], axis=1)
        return out

    def save(self) -> MemberFiles:
        tensors: dict[str, np.ndarray] = {"svd/components": self.components, "pca/mean": self.projection[0],
                                          "pca/components": self.projection[1]}
        boosters = [_booster(m) for m in self.models]
        files = MemberFiles(tensors, texts={f"fold{i}.txt": b.model_to_string() for i, b in enumerate(boosters)})
        files.meta = {"text": self.text.save("", tensors), "categories": self.categories.save(),
                      "numbers": self.numbers.save("", tensors), "folds": len(self.models),
                      "best_iteration": [int(b.best_iteration or 0) for b in boosters],
                      "log_numbers": self.log_numbers.save("log/", tensors),
                      "embeddings": self.embeddings.save(files, "embed/")}
        for i, model in enumerate(self.models):
            if isinstance(model, Stacked):
                tensors[f"fold{i}/stack/coef"], tensors[f"fold{i}/stack/intercept"] = model.coef, model.intercept
        return files

    @classmethod
    def load(cls, context: MemberContext, options: dict[str, Any], files: MemberFiles, **load_options: Any) -> "LightGBMMember":
        import lightgbm as lgb

        self = cls(context, options)
        meta, tensors = files.meta, files.tensors
        self.text = TextTfidf.load(meta["text"], "", tensors)
        self.categories = Categories.load(meta["categories"])
        self.numbers = Numbers.load(meta["numbers"], "", tensors)
        self.log_numbers = load_log_numbers(meta, tensors)
        self.embeddings = FrozenEmbeddings.load(context, meta["embeddings"], files, "embed/", **load_options)
        self.components = np.asarray(tensors["svd/components"], dtype=np.float32)
        self.projection = tuple(np.asarray(tensors.get(f"pca/{key}", np.zeros((0,) * dims)), dtype=np.float32)
                                for key, dims in (("mean", 1), ("components", 2)))  # older folders: none
        self.models = []
        for i in range(int(meta["folds"])):
            booster = lgb.Booster(model_str=files.texts[f"fold{i}.txt"])
            booster.best_iteration = int(meta["best_iteration"][i])
            stack = f"fold{i}/stack/"
            self.models.append(Stacked(booster, np.asarray(tensors[f"{stack}coef"], dtype=np.float32),
                                       np.asarray(tensors[f"{stack}intercept"], dtype=np.float32))
                               if f"{stack}coef" in tensors else booster)
        return self


def principal_components(features: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The mean ``(D,)`` and first ``k`` principal directions ``(k, D)`` of ``features`` ``(N, D)``;
    empty arrays when ``k`` is 0 or not below ``D`` (the features are then used as they are)."""
    k = min(int(k), len(features) - 1)
    if k <= 0 or k >= features.shape[1]:
        return np.zeros(0, dtype=np.float32), np.zeros((0, 0), dtype=np.float32)
    from sklearn.decomposition import PCA

    pca = PCA(n_components=k, svd_solver="randomized", random_state=seed).fit(features)
    return pca.mean_.astype(np.float32), pca.components_.astype(np.float32)


def _booster(model):
    """The LightGBM booster of a fold model (a :class:`Stacked` holds one beside its ridge)."""
    return model.booster if isinstance(model, Stacked) else model


def _stop_at(deadline: float):
    """A LightGBM callback that stops boosting (keeping the trees so far) at ``deadline``."""
    import lightgbm as lgb

    def callback(env) -> None:
        if time.monotonic() >= deadline:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    callback.order = 40
    return callback
