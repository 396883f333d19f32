"""The embedding cache: frozen encoders encode each row once per fit, not once per epoch."""

from __future__ import annotations

from typing import Mapping, Sized

import torch

from transmodal.engine.contract import EncoderNet, named_encoders


class EmbeddingCache:
    """Features of frozen inputs for the rows of one dataset.

    Args:
        num_rows: Rows in the dataset.
        dims: Input name -> feature size, for the inputs whose encoders are frozen.
    """

    def __init__(self, num_rows: int, dims: dict[str, int]) -> None:
        self.values = {name: torch.zeros(num_rows, dim) for name, dim in dims.items()}  # (N, D)
        self.filled = {name: torch.zeros(num_rows, dtype=torch.bool) for name in dims}  # (N,)

    @property
    def names(self) -> list[str]:
        return sorted(self.values)

    def lookup(self, name: str, index: torch.Tensor) -> torch.Tensor | None:
        """Cached features (B, D) of rows ``index``, or None unless all are cached."""
        index = index.cpu()
        if name not in self.values or not bool(self.filled[name][index].all()):
            return None
        return self.values[name][index]

    def store(self, name: str, index: torch.Tensor, features: torch.Tensor) -> None:
        """Remember ``features`` (B, D) for rows ``index``."""
        index = index.cpu()
        self.values[name][index] = features.detach().float().cpu()
        self.filled[name][index] = True

    def features(self, net: EncoderNet, batch: dict, device: torch.device | None = None) -> dict[str, torch.Tensor]:
        """Features (B, D) of every cached input for ``batch``: looked up, or encoded with ``net``'s
        frozen encoder (no gradient) and stored, then moved to ``device``."""
        given = {}
        for name in self.names:
            values = self.lookup(name, batch["index"])
            if values is None:
                with torch.no_grad():
                    values = net.encoder(name)(batch["inputs"][name])
                self.store(name, batch["index"], values)
            given[name] = values if device is None else values.to(device)
        return given

    def complete(self, name: str) -> bool:
        """True once every row of input ``name`` is cached."""
        return bool(self.filled[name].all())


def frozen_dims(net: EncoderNet) -> dict[str, int]:
    """Input name -> feature size for every input whose encoder is frozen (cacheable)."""
    return {name: encoder.output_dim for name, encoder in named_encoders(net).items() if encoder.frozen}


def stage_caches(net: EncoderNet, datasets: Mapping[str, Sized], enabled: bool = True) -> dict[str, EmbeddingCache]:
    """One empty cache per stage (``{"train": dataset, "val": dataset}``) for ``net``'s frozen
    inputs, filled lazily batch by batch; empty when nothing is frozen or caching is off."""
    dims = frozen_dims(net) if enabled else {}
    return {stage: EmbeddingCache(len(dataset), dims) for stage, dataset in datasets.items()} if dims else {}
