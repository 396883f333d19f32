"""``distill``: a teacher predictor's soft labels join the loss (knowledge distillation).

The teacher is the ``teacher=`` fit option (a predictor or a saved folder), else the ``init_from``
source. Its class probabilities for every training row are computed once, before training; a task
of the student learns from the teacher's task of the same name (classes matched by name).
"""

from __future__ import annotations

import numpy as np
import torch

from transmodal.data.readers import Table
from transmodal.errors import ConfigError, DataError
from transmodal.transfer.base import STRATEGIES, StrategyContext

DEFAULT_TEMPERATURE = 2.0


@STRATEGIES.register("distill")
def distill(ctx: StrategyContext, options: dict) -> None:
    """Add ``weight * T^2 * KL(teacher_T || student_T)`` per classification task.

    Options:
        temperature: Softening temperature T (default 2).
        distill_weight: Weight of the distillation term (default 1).
    """
    from transmodal.transfer.source import load_source

    teacher_ref = ctx.teacher if ctx.teacher is not None else ctx.init_from
    teacher = load_source(teacher_ref) if teacher_ref is not None else None
    if teacher is None:
        raise ConfigError("transfer.strategy=distill needs a teacher: fit(..., teacher=MODEL) or init_from=MODEL")
    targets = teacher_targets(teacher, ctx)
    if not targets:
        raise ConfigError("distill: the teacher predicts none of the student's classification tasks")
    ctx.extra_losses.append(DistillLoss(targets, float(options.get("temperature", DEFAULT_TEMPERATURE)),
                                        float(options.get("distill_weight", 1.0))))


def teacher_outputs(teacher, table: Table) -> dict:
    """The teacher's class probabilities per task (N, K) and fused embeddings (N, H) for ``table``."""
    from transmodal.data.dataset import TableDataset
    from transmodal.engine.inference import run_inference

    missing = [c for spec in teacher.inputs_ for c in spec.columns if c not in table.frame.columns]
    if missing:
        raise DataError(f"{table.source}: the teacher reads column(s) {missing}, which the table lacks")
    return run_inference(teacher.net_, TableDataset(table, teacher.inputs_, None, teacher._root()), teacher.config_)


def teacher_targets(teacher, ctx: StrategyContext) -> dict[str, torch.Tensor]:
    """Task name -> teacher probabilities (N_train, K) in the student's class order."""
    scores = teacher_outputs(teacher, ctx.train)["scores"]
    rows = len(ctx.train.frame)
    by_name = {t.name: t for t in teacher.tasks_}
    targets = {}
    for task in ctx.tasks:
        source = by_name.get(task.name)
        if source is None or task.problem_type not in ("binary", "multiclass") or \
                source.problem_type not in ("binary", "multiclass"):
            continue
        position = {str(c): i for i, c in enumerate(source.classes)}
        columns = [position.get(str(c)) for c in task.classes]
        probs = np.stack([scores[task.name][:, i] if i is not None else np.zeros(rows) for i in columns], 1)
        probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-8, None)  # (N, K)
        targets[task.name] = torch.as_tensor(probs, dtype=torch.float32)
    return targets


class DistillLoss:
    """Extra loss term ``{"transfer/distill/<task>": ...}`` from precomputed teacher probabilities."""

    def __init__(self, targets: dict[str, torch.Tensor], temperature: float, weight: float) -> None:
        self.targets = targets
        self.temperature = temperature
        self.weight = weight

    def __call__(self, module, batch: dict, out: dict) -> dict[str, torch.Tensor]:
        from transmodal.losses.distillation import soft_label_kl

        terms = {}
        index = batch["index"].cpu()
        for task, probs in self.targets.items():
            logits = out["outputs"][task]  # (B, K)
            teacher = probs[index].to(logits.device)  # (B, K)
            kl = soft_label_kl(logits.float(), teacher, self.temperature)["distill_kl"]
            terms[f"transfer/distill/{task}"] = self.weight * kl
        return terms
