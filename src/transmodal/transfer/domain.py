"""Unsupervised domain adaptation: an alignment term between labelled (source) rows and unlabelled
target rows, added to the loss.

``fit(labelled, unlabeled_data=TARGET, hyperparameters={"transfer": {"adapt": NAME}})``: each
training step also draws a batch of unlabelled target rows (an endless shuffled loader beside the
labelled one), runs them through the network, and adds ``adapt_weight * criterion(source, target)``
on the fused embeddings (``adapt_on: "fused"``, default) or on each input's features
(``adapt_on: "features"``). ``entropy_weight: w`` adds ``w`` times the mean prediction entropy of the
target rows' classification tasks (entropy minimisation, Grandvalet and Bengio 2004), which pushes the
aligned target rows away from the decision boundaries; it warms up with training progress.
``pseudo_label_threshold: t`` (with ``pseudo_label_weight``, default 1) adds self-training: target
rows whose predicted class probability reaches ``t`` are trained towards that class (cross-entropy
on the confident rows only, the pseudo-labels taken without gradient; Lee 2013). Criteria live in :data:`ADAPTATIONS`, one file each (``dann``,
``coral``, ``mmd``); a criterion is an ``nn.Module`` built from the feature size, called as
``criterion(source (B, D), target (B', D), progress in [0, 1]) -> loss``. A criterion with
parameters (the DANN critic) trains beside the network and is never part of the saved model.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch import nn

from transmodal.errors import ConfigError, DataError
from transmodal.registry import Registry

# name -> cls(input_dim: int, **options) -> nn.Module
ADAPTATIONS: Registry = Registry("domain adaptation", "transmodal.transfer")


def unlabeled_dataset(data, inputs, column_types: dict[str, str], root, on_bad_rows: str):
    """A validated :class:`TableDataset` (no targets) over the unlabelled target table."""
    from transmodal.data.dataset import TableDataset
    from transmodal.data.readers import Table, read_table
    from transmodal.data.validation import bad_row_indices, validate_features

    import numpy as np

    table = read_table(data)
    missing = [c for spec in inputs for c in spec.columns if c not in table.frame.columns]
    if missing:
        raise DataError(f"{table.source}: the unlabelled table lacks the input column(s) {missing}")
    bad = validate_features(table, column_types, root)
    if bad:
        if on_bad_rows != "skip":
            raise DataError(f"{table.source}: {len(bad_row_indices(bad))} unlabelled row(s) cannot be used", bad)
        keep = np.setdiff1d(np.arange(len(table.frame)), bad_row_indices(bad))
        table = Table(table.frame.iloc[keep].reset_index(drop=True), table.source, table.base_dir)
    if len(table.frame) == 0:
        raise DataError(f"{table.source}: the unlabelled table has no rows")
    return TableDataset(table, inputs, None, root)


class EndlessBatches:
    """Shuffled batches of a dataset, started over whenever it runs out."""

    def __init__(self, dataset, net, config, seed: int) -> None:
        self.dataset, self.net, self.config = dataset, net, config
        self.generator = torch.Generator().manual_seed(seed)
        self._iterator: Iterator | None = None

    def _loader(self):
        from torch.utils.data import DataLoader, RandomSampler

        from transmodal.data.dataset import Collator

        encoders = {n: self.net.encoder(n) for n in self.net.input_names}
        return DataLoader(self.dataset, batch_size=self.config.batch_size, collate_fn=Collator(encoders),
                          sampler=RandomSampler(self.dataset, generator=self.generator), num_workers=0)

    def next(self) -> dict[str, Any]:
        """The next batch (a fresh epoch of the target rows starts when one ends)."""
        if self._iterator is None:
            self._iterator = iter(self._loader())
        try:
            return next(self._iterator)
        except StopIteration:
            self._iterator = iter(self._loader())
            return next(self._iterator)


def to_device(value: Any, device: torch.device) -> Any:
    """Move the tensors of a (nested) batch to ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    return value


def build_criterion(net, options: dict) -> nn.ModuleDict:
    """The criterion named by ``transfer.adapt``, on the fused embedding (``adapt_on: "fused"``) or
    one per input's features (``"features"``).

    Raises:
        ConfigError: no or an unknown method, or an unknown ``adapt_on``.
    """
    name = options.get("adapt")
    if name is None:
        raise ConfigError("unlabeled_data needs a domain-adaptation method: transfer.adapt = "
                          f"one of {ADAPTATIONS.public_names()}")
    if name not in ADAPTATIONS:
        raise ConfigError(ADAPTATIONS.unknown_message(name, "transfer.adapt"))
    cls = ADAPTATIONS.get(name)
    level = options.get("adapt_on", "fused")
    if level not in ("fused", "features"):
        raise ConfigError(f"transfer.adapt_on must be 'fused' or 'features', got {level!r}")
    extra = dict(options.get("adapt_options", {}))
    dims = {"fused": net.fusion.output_dim} if level == "fused" else \
        {f"in_{i}": net.encoder(n).output_dim for i, n in enumerate(net.input_names)}
    try:
        return nn.ModuleDict({key: cls(dim, **extra) for key, dim in dims.items()})
    except TypeError as err:
        raise ConfigError(f"bad transfer.adapt_options for {name!r}: {err}") from err


def adaptation_loss(criterion: nn.ModuleDict, stream: "EndlessBatches", options: dict) -> "AdaptationLoss":
    """The loss term of ``criterion`` on batches of ``stream`` with the ``transfer`` options' weights.

    Raises:
        ConfigError: ``pseudo_label_threshold`` outside (0, 1].
    """
    threshold = options.get("pseudo_label_threshold")
    if threshold is not None and not 0.0 < float(threshold) <= 1.0:
        raise ConfigError(f"transfer.pseudo_label_threshold must be in (0, 1], got {threshold!r}")
    return AdaptationLoss(options["adapt"], criterion, stream, options.get("adapt_on", "fused"),
                          float(options.get("adapt_weight", 1.0)), float(options.get("entropy_weight", 0.0)),
                          None if threshold is None else float(threshold),
                          float(options.get("pseudo_label_weight", 1.0)))


class AdaptationLoss:
    """Extra loss term ``{"adapt/<name>": weight * criterion(source, target, progress)}``."""

    def __init__(self, name: str, criterion: nn.ModuleDict, stream: EndlessBatches, level: str, weight: float,
                 entropy_weight: float = 0.0, pseudo_label_threshold: float | None = None,
                 pseudo_label_weight: float = 1.0) -> None:
        self.name, self.criterion, self.stream = name, criterion, stream
        self.level, self.weight, self.entropy_weight = level, weight, entropy_weight
        self.threshold, self.pseudo_weight = pseudo_label_threshold, pseudo_label_weight

    def __call__(self, module, batch: dict, out: dict) -> dict[str, torch.Tensor]:
        target_batch = to_device(self.stream.next(), module.device)
        target = module.net(target_batch["inputs"], target_batch["masks"])
        progress = min(1.0, module.global_step / max(1, module.total_steps))
        if self.level == "fused":
            loss = self.criterion["fused"](out["embedding"], target["embedding"], progress)
        else:
            names = module.net.input_names
            loss = sum(self.criterion[f"in_{i}"](out["features"][n], target["features"][n], progress)
                       for i, n in enumerate(names)) / len(names)
        terms = {f"adapt/{self.name}": self.weight * loss}
        if self.entropy_weight > 0:
            terms["adapt/entropy"] = self.entropy_weight * progress * target_entropy(module.net, target["outputs"])
        if self.threshold is not None:
            terms["adapt/pseudo_label"] = self.pseudo_weight * pseudo_label_loss(module.net, target["outputs"],
                                                                                 self.threshold)
        return terms


def pseudo_label_loss(net, outputs: dict[str, torch.Tensor], threshold: float) -> torch.Tensor:
    """Cross-entropy of the classification tasks' confident target rows towards their own argmax
    (summed over the confident rows, divided by all rows: few confident rows weigh little)."""
    values = []
    for logits in classification_logits(net, outputs, "transfer.pseudo_label_threshold"):  # (B, K) each
        confidence, labels = torch.softmax(logits.detach(), -1).max(-1)  # (B,), (B,)
        confident = (confidence >= threshold).float()
        losses = torch.nn.functional.cross_entropy(logits, labels, reduction="none")  # (B,)
        values.append((losses * confident).sum() / max(1, len(losses)))
    return torch.stack(values).mean()


def target_entropy(net, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean prediction entropy (nats) of the classification tasks' outputs, averaged over tasks."""
    values = [-(torch.softmax(logits, -1) * torch.log_softmax(logits, -1)).sum(-1).mean()
              for logits in classification_logits(net, outputs, "transfer.entropy_weight")]
    return torch.stack(values).mean()


def classification_logits(net, outputs: dict[str, torch.Tensor], option: str) -> list[torch.Tensor]:
    """The outputs (B, K) of the binary and multiclass tasks; ConfigError naming ``option`` if none."""
    logits = [outputs[t.name] for t in net.tasks if t.problem_type in ("binary", "multiclass")]
    if not logits:
        raise ConfigError(f"{option} needs a binary or multiclass task")
    return logits
