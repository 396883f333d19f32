"""Cross-modal distillation: ``fit(paired_table, teacher=DIR, student_column=COL)``.

A teacher predictor reads one column (say image) of paired rows that carry no labels; the student
predictor reads only ``student_column`` (say audio) and learns from the teacher. In
``prepare_tables`` the label column is filled with the teacher's predicted classes (any given labels
are ignored) and every column but the student's is dropped before the schema is inferred, so the
result is a normal predictor that needs only the student's column. Loss: cross-entropy on the
teacher's hard labels plus, by ``distill_loss``:

- ``"kl"`` (default): ``T^2 KL(teacher_T || student_T)`` on the teacher's probabilities;
- ``"feature"``: regression of the student's fused embedding (through a learned linear map, an
  auxiliary module not saved with the model) onto the teacher's, both L2-normalised;
- ``"both"``: the two terms.

``distill_temperature`` sets T (default 2).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from transmodal.data.readers import Table
from transmodal.errors import ConfigError, DataError
from transmodal.fitting.state import Extension, FitRequest, FitState
from transmodal.fitting.tables import tuning_split
from transmodal.transfer.distill import teacher_outputs

LOSSES = ("kl", "feature", "both")


class CrossModalDistill(Extension):
    """A student on one column learns from a teacher predictor that reads another column."""

    options = ("teacher", "student_column", "distill_loss", "distill_temperature")

    def __init__(self) -> None:
        self.targets: dict[str, torch.Tensor] = {}  # task -> teacher probabilities of training rows
        self.embedding: torch.Tensor | None = None  # teacher fused embeddings of training rows (N, H)
        self.labels: list[str] = []

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        options = request.options
        if options.get("student_column") is None:
            return False
        if options.get("teacher") is None:
            raise ConfigError("student_column needs teacher=MODEL (the predictor whose outputs the student learns)")
        if options.get("distill_loss", "kl") not in LOSSES:
            raise ConfigError(f"distill_loss must be one of {LOSSES}, got {options.get('distill_loss')!r}")
        return True

    def prepare_tables(self, state: FitState) -> None:
        from transmodal.transfer.source import load_source

        teacher = load_source(state.options["teacher"])
        if teacher is None:
            raise ConfigError(f"teacher {state.options['teacher']} is not a saved predictor folder")
        column = state.options["student_column"]
        self.labels = list(state.request.labels)
        tasks = {t.name: t for t in teacher.tasks_}
        unknown = [label for label in self.labels if label not in tasks]
        if unknown or any(tasks[label].problem_type not in ("binary", "multiclass") for label in self.labels):
            raise ConfigError(f"the teacher must predict the classification label(s) {self.labels}; "
                              f"it predicts {sorted(tasks)}")
        if state.tune is None:  # split now, on the teacher's labels (holdout_fraction=0: no tuning rows)
            labelled = self._pseudo_labelled(teacher, state.train, column, keep_teacher_columns=True)
            state.train, state.tune = tuning_split(labelled, self.labels[0], tasks[self.labels[0]].problem_type,
                                                   state.config.holdout_fraction, state.seed)
        outputs = teacher_outputs(teacher, state.train)
        self.targets = {label: torch.as_tensor(outputs["scores"][label], dtype=torch.float32) for label in self.labels}
        self.embedding = torch.as_tensor(outputs["embedding"], dtype=torch.float32)
        state.train = self._pseudo_labelled(teacher, state.train, column, outputs=outputs)
        if state.tune is not None:
            state.tune = self._pseudo_labelled(teacher, state.tune, column)
        teacher_ref = state.options["teacher"]
        state.records["distillation"] = {"teacher": "<predictor>" if hasattr(teacher_ref, "net_") else str(teacher_ref),
                                         "student_column": column, "loss": state.options.get("distill_loss", "kl")}

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

    def attach(self, state: FitState) -> None:
        mode = state.options.get("distill_loss", "kl")
        projection = None
        if mode in ("feature", "both"):
            projection = nn.Linear(state.net.fusion.output_dim, self.embedding.shape[1])
            state.training.modules["cross_modal_distill_projection"] = projection
        state.training.extra_losses.append(DistillTerms(self.targets, self.embedding, mode, projection,
                                                        float(state.options.get("distill_temperature") or 2.0)))


class DistillTerms:
    """Extra loss: ``distill/kl/<task>`` and/or ``distill/feature`` from precomputed teacher outputs."""

    def __init__(self, targets: dict[str, torch.Tensor], embedding: torch.Tensor, mode: str,
                 projection: nn.Module | None, temperature: float) -> None:
        self.targets, self.embedding, self.mode = targets, embedding, mode
        self.projection, self.temperature = projection, temperature

    def __call__(self, module, batch: dict, out: dict) -> dict[str, torch.Tensor]:
        from transmodal.losses.distillation import feature_regression, soft_label_kl

        index = batch["index"].cpu()
        terms = {}
        if self.mode in ("kl", "both"):
            for task, probs in self.targets.items():
                logits = out["outputs"][task].float()  # (B, K)
                terms[f"distill/kl/{task}"] = soft_label_kl(logits, probs[index].to(logits.device),
                                                            self.temperature)["distill_kl"]
        if self.mode in ("feature", "both"):
            projected = self.projection(out["embedding"].float())  # (B, H_teacher)
            terms["distill/feature"] = feature_regression(projected, self.embedding[index].to(projected.device))["distill_feature"]
        return terms
