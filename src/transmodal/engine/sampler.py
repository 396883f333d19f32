"""A training data order that is a pure function of (seed, epoch) and can resume mid-epoch."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler


class EpochSampler(Sampler[int]):
    """Row order of one epoch: a permutation (or weighted draw) seeded by ``(seed, epoch)``.

    Args:
        num_rows: Rows in the dataset.
        seed: Fit seed.
        weights: Optional per-row sampling weights (draws with replacement, as
            ``WeightedRandomSampler``).
        shuffle: Permute the rows (ignored with ``weights``).
        lengths: Optional per-row sizes (e.g. characters of text) to group by: each window of
            ``GROUP_WINDOW`` batches of the shuffled order is sorted by length and cut into batches,
            whose order is then shuffled, so a batch holds rows of similar length and pads less
            (Hugging Face's ``group_by_length``). Needs ``batch_size``.
        batch_size: Rows per batch (only with ``lengths``).
    """

    GROUP_WINDOW = 50  # batches per length-sorted window

    def __init__(self, num_rows: int, seed: int = 0, weights: np.ndarray | None = None, shuffle: bool = True,
                 lengths: np.ndarray | None = None, batch_size: int = 1) -> None:
        self.num_rows = num_rows
        self.seed = seed
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        self.shuffle = shuffle
        self.lengths = None if lengths is None else torch.as_tensor(np.asarray(lengths), dtype=torch.long)
        if self.lengths is not None and len(self.lengths) != num_rows:
            raise ValueError(f"lengths has {len(self.lengths)} entries for {num_rows} rows")
        self.batch_size = max(1, int(batch_size))
        self.epoch = 0
        self.skip = 0  # rows of ``epoch`` already trained on (set when resuming)

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of each epoch."""
        if epoch != self.epoch:
            self.epoch, self.skip = epoch, 0

    def order(self, epoch: int) -> torch.Tensor:
        """The full row order of ``epoch`` (num_rows,)."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        if self.weights is not None:
            order = torch.multinomial(self.weights, self.num_rows, replacement=True, generator=generator)
        elif self.shuffle:
            order = torch.randperm(self.num_rows, generator=generator)
        else:
            return torch.arange(self.num_rows)
        return order if self.lengths is None else self._grouped(order, generator)

    def _grouped(self, order: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``order`` (num_rows,) regrouped into batches of similar length, in shuffled batch order."""
        window = self.batch_size * self.GROUP_WINDOW
        batches: list[torch.Tensor] = []
        for start in range(0, len(order), window):
            rows = order[start:start + window]
            rows = rows[torch.argsort(self.lengths[rows], descending=True, stable=True)]
            batches.extend(rows.split(self.batch_size))
        if not batches:
            return order
        last = batches.pop() if len(batches[-1]) < self.batch_size else None  # the short batch stays last
        shuffled = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        return torch.cat(shuffled + ([last] if last is not None else []))

    def __iter__(self) -> Iterator[int]:
        order, self.skip = self.order(self.epoch)[self.skip:], 0
        yield from order.tolist()

    def __len__(self) -> int:
        return self.num_rows


class ResumableLoader(DataLoader):
    """A DataLoader over an :class:`EpochSampler` whose position Lightning saves and restores.

    ``batches_done`` is set by the checkpoint callback right before a checkpoint is written (the
    loader itself runs ahead of training because batches are prefetched).
    """

    batches_done: int = 0

    def _epoch_sampler(self) -> EpochSampler | None:
        sampler = self.sampler
        while sampler is not None and not isinstance(sampler, EpochSampler):
            sampler = getattr(sampler, "_sampler", None) or getattr(sampler, "sampler", None)
        return sampler

    def state_dict(self) -> dict[str, int]:
        sampler = self._epoch_sampler()
        return {"epoch": sampler.epoch if sampler else 0, "batches_done": int(self.batches_done)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        sampler = self._epoch_sampler()
        if sampler is None:
            return
        epoch, done = int(state["epoch"]), int(state["batches_done"])
        if done * self.batch_size >= sampler.num_rows:  # the epoch was finished
            epoch, done = epoch + 1, 0
        sampler.epoch, sampler.skip = epoch, done * self.batch_size
