"""The Lightning module that trains a :class:`~transmodal.model.MultimodalNet`."""

from __future__ import annotations

from typing import Any, Callable

import lightning as L
import numpy as np
import torch
from torch import nn

from transmodal.config import FitConfig
from transmodal.engine.cache import EmbeddingCache
from transmodal.engine.optim import configure_adamw, new_part_groups, parameter_groups
from transmodal.fusion.base import module_key
from transmodal.heads.task import TaskSpec
from transmodal.losses.base import LOSSES, task_loss_name
from transmodal.metrics.base import METRICS
from transmodal.model import MultimodalNet, outputs_to_scores

# An extra loss term: (module, batch, model output) -> dict of named loss terms
ExtraLoss = Callable[["PredictorModule", dict, dict], dict[str, torch.Tensor]]
SELECT_SCORE = "select_score"  # logged: the score (greater is better) that picks the kept epoch


class PredictorModule(L.LightningModule):
    """Training, validation and optimisation of a multimodal network.

    Args:
        net: The network.
        config: The fit configuration.
        eval_metric: Metric name of ``val_score`` (what the tuning rows are reported by).
        class_weights: Task name -> class-weight tensor (or None).
        caches: ``{"train": EmbeddingCache, "val": EmbeddingCache}`` for frozen inputs (may be empty).
        total_steps: Optimizer steps of the whole run (for the schedule).
        auxiliary: Name -> module that trains beside the network for an extra loss term (a
            projection head, a domain critic); optimised and moved with it, never part of it.
        select_metric: Metric name of ``select_score``, which early stopping and the best-state
            selection watch (default: ``eval_metric``).
    """

    def __init__(self, net: MultimodalNet, config: FitConfig, eval_metric: str,
                 class_weights: dict[str, torch.Tensor | None], caches: dict[str, EmbeddingCache],
                 total_steps: int, auxiliary: dict[str, nn.Module] | None = None,
                 select_metric: str | None = None) -> None:
        super().__init__()
        self.net = net
        self.auxiliary = nn.ModuleDict(auxiliary or {})
        self.config = config
        self.eval_metric = eval_metric
        self.select_metric = select_metric or eval_metric
        self.caches = caches
        self.total_steps = max(1, total_steps)
        self.losses = nn.ModuleDict({
            module_key(task.name): self._build_loss(task, class_weights.get(task.name)) for task in net.tasks
        })
        self.extra_losses: list[ExtraLoss] = []
        self._val_outputs: dict[str, list] = {}
        self.val_scores: dict[str, np.ndarray] = {}  # the last validation pass: scores of every tuning row, in order
        self.weighting = task_weighting(config, [task.name for task in net.tasks])

    def _build_loss(self, task: TaskSpec, weights: torch.Tensor | None) -> nn.Module:
        name = task_loss_name(self.config.loss, task.name, task.problem_type)
        return LOSSES.get(name)(task, class_weights=weights, focal_gamma=self.config.focal_gamma,
                                label_smoothing=self.config.label_smoothing, huber_delta=self.config.huber_delta)

    # ---- forward with the embedding cache -------------------------------------------------
    def cached_forward(self, batch: dict[str, Any], stage: str) -> dict[str, Any]:
        """Run the net, taking frozen inputs' features from the stage's cache where possible."""
        cache = self.caches.get(stage)
        given = cache.features(self.net, batch, self.device) if cache is not None else {}
        return self.net(batch["inputs"], batch["masks"], features=given)

    # ---- losses ----------------------------------------------------------------------------
    def task_losses(self, batch: dict[str, Any], out: dict[str, Any]) -> dict[str, torch.Tensor]:
        """One named term per task: ``{"task/<name>": loss}``."""
        losses = {}
        for task in self.net.tasks:
            terms = self.losses[module_key(task.name)](out["outputs"][task.name], batch["targets"][task.name])
            losses[f"task/{task.name}"] = sum(terms.values())
        return losses

    def combine_losses(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """The total loss: the task terms combined by the multi-task weighting (``multitask.weighting``,
        default a sum times the fixed ``multitask.weights``), plus the other terms."""
        tasks = {name.removeprefix("task/"): value for name, value in losses.items() if name.startswith("task/")}
        total = self.weighting(tasks, self.shared_parameters()) if tasks else 0.0
        for name, value in losses.items():
            if not name.startswith("task/"):
                total = total + value
        return total

    def shared_parameters(self) -> list[nn.Parameter]:
        """Trainable parameters that serve every task (all but the task heads), when the weighting
        works on gradients; otherwise none are needed."""
        if len(self.net.tasks) < 2 or not self.weighting.uses_gradients:
            return []
        return [p for n, p in self.net.named_parameters() if p.requires_grad and not n.startswith("heads.")]

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self.cached_forward(batch, "train")
        losses = self.task_losses(batch, out)
        for extra in self.extra_losses:
            losses.update(extra(self, batch, out))
        total = self.combine_losses(losses)
        size = len(batch["index"])
        self.log("train_loss", total, prog_bar=True, on_step=False, on_epoch=True, batch_size=size)
        if len(self.net.tasks) > 1:
            for task, weight in self.weighting.weights().items():
                self.log(f"weight/{task}", weight, on_step=False, on_epoch=True, batch_size=size)
        for name, value in losses.items():
            self.log(f"train/{name}", value, on_step=False, on_epoch=True, batch_size=size)
        return total

    def on_train_epoch_end(self) -> None:
        self.weighting.epoch_end()

    # ---- validation ------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_outputs = {task.name: [] for task in self.net.tasks}

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        out = self.cached_forward(batch, "val")
        for task in self.net.tasks:
            scores = outputs_to_scores(out["outputs"][task.name].float(), task)
            self._val_outputs[task.name].append((scores.cpu(), batch["targets"][task.name].cpu()))

    def on_validation_epoch_end(self) -> None:
        self.val_scores = {name: torch.cat([p[0] for p in pairs]).numpy() for name, pairs in self._val_outputs.items()
                           if pairs}
        score, values = tuning_score(self.net.tasks, self.eval_metric, self._val_outputs)
        selected = score
        if self.select_metric != self.eval_metric:
            selected, more = tuning_score(self.net.tasks, self.select_metric, self._val_outputs)
            values.update(more)
        for key, value in values.items():
            self.log(f"val/{key}", value, sync_dist=True)
        self.log("val_score", score, prog_bar=True, sync_dist=True)
        self.log(SELECT_SCORE, selected, sync_dist=True)

    # ---- optimisation ----------------------------------------------------------------------
    def configure_optimizers(self):
        groups = parameter_groups(self.net, self.config)
        groups += new_part_groups(self.auxiliary, self.config)
        own = [p for p in self.weighting.parameters() if p.requires_grad]  # learned task weights
        if own:
            groups.append({"params": own, "lr": self.weighting.learning_rate or self.config.learning_rate,
                           "weight_decay": 0.0})
        return configure_adamw(groups, lambda: self.total_steps, self.config.warmup_ratio)


def _default_metric(task: TaskSpec, several: bool = False) -> str:
    """The tuning metric of a task the eval metric does not apply to. With several tasks a
    regression task uses r2, which is scale-free like the classification metrics it is averaged with."""
    from transmodal.metrics.base import DEFAULT_EVAL_METRIC

    if several and task.problem_type == "regression":
        return "r2"
    return DEFAULT_EVAL_METRIC[task.problem_type]


def task_weighting(config: FitConfig, tasks: list[str]):
    """The multi-task loss weighting of ``config.multitask`` (``equal`` by default)."""
    from transmodal.multitask.settings import MultitaskSettings
    from transmodal.multitask.weighting.base import build_weighting

    settings = MultitaskSettings.from_config(config.multitask, tasks)
    return build_weighting(settings.weighting, tasks, settings.weights, settings.weighting_options)


def tuning_score(tasks: list[TaskSpec], eval_metric: str, pairs: dict[str, list]) -> tuple[float, dict[str, float]]:
    """The early-stopping score (higher is better, the mean over tasks) of scored tuning rows, and
    each task's metric value as ``{"TASK/METRIC": value}``.

    Args:
        pairs: Task name -> ``[(scores, targets), ...]`` batches (tensors).
    """
    scores, values = [], {}
    for task in tasks:
        metric_name = eval_metric if task.problem_type in METRICS.get(eval_metric).problem_types \
            else _default_metric(task, several=len(tasks) > 1)
        metric = METRICS.get(metric_name)
        y_score, y_true = _gather(pairs[task.name], task)
        if len(y_true) == 0:
            continue
        value = metric(y_true, y_score, task)
        value = value if np.isfinite(value) else (0.0 if metric.greater_is_better else 1e9)
        values[f"{task.name}/{metric_name}"] = value
        scores.append(metric.score(value))
    return (float(np.mean(scores)) if scores else 0.0), values


def _gather(pairs: list, task: TaskSpec) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate validation batches and drop rows without a label."""
    y_score = torch.cat([p[0] for p in pairs]).numpy()
    y_true = torch.cat([p[1] for p in pairs]).numpy()
    if task.problem_type == "regression":
        keep = ~np.isnan(y_true)
        y_true = y_true * task.target_std + task.target_mean
    elif task.problem_type == "multilabel":
        keep = ~np.isnan(y_true).any(axis=1)
    else:
        keep = y_true >= 0
    return y_score[keep], y_true[keep]
