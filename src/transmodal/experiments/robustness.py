"""Robustness curves: the eval metric as test-time noise on one input grows, and their summaries.

Follows MultiBench (Liang et al., 2021): *relative robustness* is the area under the
metric-vs-noise-level curve (trapezoid rule); *effective robustness* is the area between the curve
and the late-fusion curve shifted to the same clean score (positive = degrades more gracefully than
late fusion would from the same start).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

DEFAULT_LEVELS = tuple(round(0.1 * i, 1) for i in range(11))


def trapezoid(levels: Sequence[float], values: Sequence[float]) -> float:
    """Area under ``values`` over ``levels`` by the trapezoid rule."""
    x, y = np.asarray(levels, dtype=float), np.asarray(values, dtype=float)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x) / 2))


def relative_robustness(levels: Sequence[float], scores: Sequence[float]) -> float:
    """MultiBench relative robustness: the area under the metric-vs-noise curve."""
    return trapezoid(levels, scores)


def effective_robustness(levels: Sequence[float], scores: Sequence[float], late_scores: Sequence[float]) -> float:
    """MultiBench effective robustness: area of ``scores - (late_scores + scores[0] - late_scores[0])``."""
    f, late = np.asarray(scores, dtype=float), np.asarray(late_scores, dtype=float)
    if f.shape != late.shape:
        raise ValueError(f"the late-fusion curve has {len(late)} levels, this curve {len(f)}")
    return trapezoid(levels, f - (late + f[0] - late[0]))


def dataset_score(predictor, dataset, transform: Callable | None = None) -> float:
    """The predictor's eval metric on a labelled dataset (mean over tasks it applies to)."""
    from transmodal.engine.inference import run_inference
    from transmodal.heads.task import labelled_rows
    from transmodal.metrics.base import DEFAULT_EVAL_METRIC, METRICS

    scores = run_inference(predictor.net_, dataset, predictor.config_, transform=transform)["scores"]
    values = []
    for task in predictor.tasks_:
        name = predictor.eval_metric_
        if task.problem_type not in METRICS.get(name).problem_types:
            name = DEFAULT_EVAL_METRIC[task.problem_type]
        y_true, y_score = dataset.targets[task.name], scores[task.name]
        keep = labelled_rows(y_true, task)
        if task.problem_type == "regression":
            y_true = y_true * task.target_std + task.target_mean
        values.append(METRICS.get(name)(y_true[keep], y_score[keep], task))
    return float(np.mean(values))


def input_spec(predictor, name: str):
    """The model input called ``name`` (a column, or the tabular input's name)."""
    from transmodal.errors import ConfigError

    for spec in predictor.inputs_:
        if spec.name == name:
            return spec
    raise ConfigError(f"unknown modality {name!r}; the model's inputs are {[s.name for s in predictor.inputs_]}")


def noise_transform(predictor, name: str, kind: str, level: float, seed: int) -> Callable:
    """A ``transform(batch)`` for ``run_inference`` that applies noise ``kind`` at ``level`` to ``name``."""
    import torch

    from transmodal.errors import ConfigError, did_you_mean
    from transmodal.metrics.noise.base import noise_registry

    spec = input_spec(predictor, name)
    registry = noise_registry(spec.modality)
    if kind not in registry:
        raise ConfigError(f"no {spec.modality} noise {kind!r} for {name!r}{did_you_mean(kind, registry.public_names())}; "
                          f"known: {registry.public_names()}")
    noise = registry.get(kind)
    generator = torch.Generator().manual_seed(seed)
    return lambda batch: noise(batch, name, level, generator)


def robustness_curves(predictor, data, modality: str | Sequence[str] | None = None,
                      noise: Sequence[float] = DEFAULT_LEVELS, kind: str = "gaussian", seed: int = 0,
                      reference: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The eval metric at each test-time noise level of one input (or each input in turn), with
    the curves' MultiBench summaries.

    Args:
        predictor: A fitted MultimodalPredictor.
        data: Labelled data (DataFrame or path).
        modality: Input name(s) to corrupt, one at a time (column names; the tabular input's name);
            all when None.
        noise: Noise levels in [0, 1]; sorted, and 0 is added when absent (the clean score).
        kind: ``gaussian``, ``dropout``, ``missing`` or a modality's own noise (``salt_pepper``,
            ``occlusion``, ``white_noise``, ``time_dropout``, ``word_dropout``).
        seed: Seed of the noise (the same noise for every model compared).
        reference: A late-fusion model's ``robustness_curves`` result, for effective robustness;
            None leaves it None.

    Returns:
        ``{input: {"kind", "metric", "levels", "scores", "relative_robustness", "effective_robustness"}}``.
    """
    dataset = predictor.dataset(data, with_targets=True)  # raises NotFittedError first
    names = [s.name for s in predictor.inputs_] if modality is None else \
        [modality] if isinstance(modality, str) else list(modality)
    levels = sorted({0.0, *(float(x) for x in noise)})
    curves = {}
    for name in names:
        scores = [dataset_score(predictor, dataset, noise_transform(predictor, name, kind, level, seed))
                  for level in levels]
        late = (reference or {}).get(name)
        curves[name] = {
            "kind": kind, "metric": predictor.eval_metric_, "levels": levels, "scores": scores,
            "relative_robustness": relative_robustness(levels, scores),
            "effective_robustness": effective_robustness(levels, scores, late["scores"]) if late else None,
        }
    return curves
