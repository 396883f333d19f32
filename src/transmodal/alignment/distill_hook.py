"""Cross-modal distillation: ``fit(paired_table, teacher=DIR, student_column=COL)``.

A teacher predictor reads one column (say image) of paired rows that carry no labels; the student
predictor reads only ``student_column`` (say audio) and learns from the teacher. The label column
is filled with the teacher's predicted classes (any given labels are ignored) and every column but
the student's is dropped before the schema is inferred, so the result is a normal predictor that
needs only the student's column. Loss: cross-entropy on the teacher's hard labels plus, by
``distill_loss``:

- ``"kl"`` (default): ``T^2 KL(teacher_T || student_T)`` on the teacher's probabilities;
- ``"feature"``: regression of the student's fused embedding (through a learned linear map) onto
  the teacher's, both L2-normalised;
- ``"both"``: the two terms.

``distill_temperature`` sets T (default 2).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from transmodal.data.readers import Table
from transmodal.errors import ConfigError, DataError
from transmodal.fitting import FIT_HOOKS, FitContext, FitHook, holdout_split

PROJECTION = "cross_modal_distill_projection"  # temporary submodule of the student net
LOSSES = ("kl", "feature", "both")


def teacher_outputs(teacher, table: Table) -> dict:
    """The teacher's class probabilities per task (N, K) and fused embeddings (N, H) for ``table``."""
    from transmodal.data.dataset import TableDataset
    from transmodal.engine.inference import run_inference

    missing = [c for spec in teacher.inputs_ for c in spec.columns if c not in table.frame.columns]
    if missing:
        raise DataError(f"{table.source}: the teacher reads column(s) {missing}, which the table lacks")
    return run_inference(teacher.net_, TableDataset(table, teacher.inputs_, None, teacher._root()), teacher.config_)


@FIT_HOOKS.register("cross_modal_distill")
class CrossModalDistillHook(FitHook):
    """A student on one column learns from a teacher predictor that reads another column."""

    options = ("teacher", "student_column", "distill_loss", "distill_temperature")

    def __init__(self) -> None:
        self.targets: dict[str, torch.Tensor] = {}  # task -> teacher probabilities of training rows
        self.embedding: torch.Tensor | None = None  # teacher fused embeddings of training rows (N, H)
        self.labels: list[str] = []

    def active(self, ctx: FitContext) -> bool:
        if ctx.options.get("student_column") is None:
            return False
        if ctx.options.get("teacher") is None:
            raise ConfigError("student_column needs teacher=MODEL (the predictor whose outputs the student learns)")
        if ctx.options.get("distill_loss", "kl") not in LOSSES:
            raise ConfigError(f"distill_loss must be one of {LOSSES}, got {ctx.options.get('distill_loss')!r}")
        return True

    def before_data(self, ctx: FitContext) -> None:
        from transmodal.transfer.source import load_source

        teacher = load_source(ctx.options["teacher"])
        if teacher is None:
            raise ConfigError(f"teacher {ctx.options['teacher']} is not a saved predictor folder")
        column = ctx.options["student_column"]
        self.labels = list(ctx.predictor.labels)
        tasks = {t.name: t for t in teacher.tasks_}
        unknown = [label for label in ctx.predictor.labels if label not in tasks]
        if unknown or any(tasks[label].problem_type not in ("binary", "multiclass") for label in ctx.predictor.labels):
            raise ConfigError(f"the teacher must predict the classification label(s) {ctx.predictor.labels}; "
                              f"it predicts {sorted(tasks)}")
        if ctx.tune is None:
            labelled = self._pseudo_labelled(teacher, ctx.train, column, keep_teacher_columns=True)
            ctx.train, ctx.tune = holdout_split(labelled, ctx.predictor.labels[0], ctx.config.holdout_fraction,
                                                ctx.seed, tasks[ctx.predictor.labels[0]].problem_type)
        outputs = teacher_outputs(teacher, ctx.train)
        self.targets = {label: torch.as_tensor(outputs["scores"][label], dtype=torch.float32) for label in ctx.predictor.labels}
        self.embedding = torch.as_tensor(outputs["embedding"], dtype=torch.float32)
        ctx.train = self._pseudo_labelled(teacher, ctx.train, column, outputs=outputs)
        ctx.tune = self._pseudo_labelled(teacher, ctx.tune, column)
        ctx.history["distillation"] = {"teacher": str(ctx.options["teacher"]), "student_column": column,
                                       "loss": ctx.options.get("distill_loss", "kl")}

    def _pseudo_labelled(self, teacher, table: Table, column: str, outputs: dict | None = None,
                         keep_teacher_columns: bool = False) -> Table:
        """``table`` with each label replaced by the teacher's predicted class and, unless
        ``keep_teacher_columns``, no other column than the student's."""
        if column not in table.frame.columns:
            raise DataError(f"{table.source}: student_column {column!r} not found")
        outputs = outputs or teacher_outputs(teacher, table)
        frame = table.frame.copy() if keep_teacher_columns else table.frame[[column]].copy()
        for task in teacher.tasks_:
            if task.name in self.labels:
                frame[task.name] = np.asarray(task.classes, dtype=object)[outputs["scores"][task.name].argmax(1)]
        return Table(frame.reset_index(drop=True), table.source, table.base_dir)

    def on_net(self, ctx: FitContext) -> None:
        mode = ctx.options.get("distill_loss", "kl")
        if mode in ("feature", "both"):
            ctx.net.add_module(PROJECTION, nn.Linear(ctx.net.fusion.output_dim, self.embedding.shape[1]))
        ctx.extra_losses.append(_DistillTerms(self.targets, self.embedding, mode,
                                              float(ctx.options.get("distill_temperature") or 2.0)))

    def after_fit(self, ctx: FitContext) -> None:
        if hasattr(ctx.net, PROJECTION):
            delattr(ctx.net, PROJECTION)


class _DistillTerms:
    """Extra loss: ``distill/kl/<task>`` and/or ``distill/feature`` from precomputed teacher outputs."""

    def __init__(self, targets: dict[str, torch.Tensor], embedding: torch.Tensor, mode: str, temperature: float) -> None:
        self.targets, self.embedding, self.mode, self.temperature = targets, embedding, mode, temperature

    def __call__(self, module, batch: dict, out: dict) -> dict[str, torch.Tensor]:
        from transmodal.losses.distillation import feature_regression, soft_label_kl

        index = batch["index"].cpu()
        terms = {}
        if self.mode in ("kl", "both"):
            for task, probs in self.targets.items():
                logits = out["outputs"][task].float()  # (B, K)
                terms[f"distill/kl/{task}"] = soft_label_kl(logits, probs[index].to(logits.device), self.temperature)["distill_kl"]
        if self.mode in ("feature", "both"):
            projected = getattr(module.net, PROJECTION)(out["embedding"].float())  # (B, H_teacher)
            terms["distill/feature"] = feature_regression(projected, self.embedding[index].to(projected.device))["distill_feature"]
        return terms
