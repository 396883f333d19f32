"""A hyperparameter search's fold models as one model: ``AutoPredictor.tune`` (``tune.final_fit=
"fold_models"``, the default of ``transmodal tune`` with ``--cv-folds``).

A study whose trials are scored on k folds (:mod:`transmodal.tuning.folds`) has, for its chosen
configuration, k fitted networks: each trained on its fold's training rows, its epoch chosen on its
own fold's tuning rows. Averaging their predictions is bagging, the variance-reducing choice that
AutoGluon makes for its bagged models: one fit's seed and epoch choice no longer decide the model.
Those k networks are exactly what a bagged ``neural`` member holds
(:class:`~transmodal.ensemble.members.neural.NeuralMember`: one predictor per fold, the mean of their
scores), so the model is an :class:`~transmodal.ensemble.auto.AutoPredictor` with that one member
at weight 1: saved, loaded, predicted, evaluated and served as every ensemble is, and the study's
``trials.csv`` is written in its folder.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from transmodal.errors import ConfigError

MEMBER = "neural"  # the one member: the fold models
PRESET = "tuned"  # what the folder's preset field says (there is no preset file)


def tune_fold_models(auto, train_data, tuning_data=None, tune: dict[str, Any] | None = None,
                     hyperparameters: dict[str, Any] | None = None, column_types: dict[str, str] | None = None,
                     time_limit: float | None = None, seed: int = 0, **fit_options: Any):
    """Run the search of ``tune`` (``cv_folds`` 3 when not given) and make ``auto`` the average of
    the chosen configuration's fold models (see :meth:`AutoPredictor.tune
    <transmodal.ensemble.auto.AutoPredictor.tune>`); returns ``auto``."""
    from transmodal.predictor import MultimodalPredictor

    if not isinstance(auto.label, str):
        raise ConfigError("the fold models of a search form an ensemble, which learns one label; tune several "
                          "labels with MultimodalPredictor.fit(tune={'final_fit': 'all_rows', ...})")
    predictor = MultimodalPredictor(auto.label, problem_type=auto.problem_type, eval_metric=auto.eval_metric,
                                    allowed_root=auto.allowed_root)
    folds = predictor.fit_fold_models(train_data, tuning_data=tuning_data, column_types=column_types,
                                      hyperparameters=hyperparameters, time_limit=time_limit, seed=seed,
                                      tune=tune, **fit_options)
    trials = ((folds[0].report_ or {}).get("tuning") or {}).get("trials")
    return from_fold_models(auto, folds, seed, trials)


def from_fold_models(auto, folds: list, seed: int = 0, trials: list[dict[str, Any]] | None = None):
    """Make ``auto`` the average of ``folds`` (fitted predictors of one label, one per fold, each
    with the study's summary in ``history_["tuning"]``): one ``neural`` member holding them, weight 1.

    Args:
        auto: An :class:`~transmodal.ensemble.auto.AutoPredictor` (its parameters are kept).
        folds: The fold predictors, in fold order.
        seed: The search's seed (the member's context).
        trials: The study's trials (``trials.csv`` in the saved folder), when known.

    Returns:
        ``auto``, fitted.
    """
    from transmodal.ensemble.members.base import MemberContext
    from transmodal.ensemble.members.neural import NeuralMember

    if not folds:
        raise ConfigError("no fold model to average")
    first = folds[0]
    summary = dict(first.history_.get("tuning") or {})
    summary.pop("fold", None)
    auto.task_ = union_task([p.tasks_[0] for p in folds])
    if auto.task_.problem_type == "multilabel":
        raise ConfigError("an ensemble learns binary, multiclass or regression labels; tune a multilabel column "
                          "with MultimodalPredictor.fit(tune={'final_fit': 'all_rows', ...})")
    auto.column_types_, auto.eval_metric_ = dict(first.column_types_), first.eval_metric_
    context = MemberContext(auto.label, auto.task_, dict(auto.column_types_), auto.eval_metric_, seed,
                            None if auto.allowed_root is None else str(auto.allowed_root))
    member = NeuralMember(context, {"hyperparameters": first.config_.to_dict()})
    member.models = list(folds)
    seconds = float(summary.get("seconds") or 0.0)
    score = float(summary.get("best_score", float("nan")))
    auto.members_, auto.weights_, auto.blend_ = {MEMBER: member}, {MEMBER: 1.0}, "mean"
    auto.results_ = [{"member": MEMBER, "kind": member.kind, "options": member.options, "weight": 1.0,
                      "status": f"ok: trial {summary.get('best_trial')}'s {len(folds)} fold models, averaged",
                      "tuning_score": score, "fit_seconds": seconds}]
    auto.tuning_score_, auto.fit_seconds_ = score, seconds  # the study's score: the folds' mean best score
    auto.preset_, auto.time_limit_, auto.bagged_, auto.bad_rows_ = PRESET, None, True, list(first.bad_rows_ or [])
    auto.tuning_, auto.trials_ = summary, trials
    auto.fit_log_ = getattr(first, "fit_log_", None)  # the search's status lines (every fold shares them)
    return auto


def union_task(tasks: list):
    """The task of the fold models together: the first fold's, with any class only another fold saw
    appended (a fold model scores 0 for a class it never saw)."""
    task = tasks[0]
    if task.problem_type == "regression":
        return task
    classes = list(task.classes)
    for other in tasks[1:]:
        classes += [c for c in other.classes if c not in classes]
    return task if classes == list(task.classes) else dataclasses.replace(task, classes=classes)
