"""How many threads torch gives one operation, for a block of code (:func:`intra_op_threads`).

On a machine with few cores, an operation split over the threads waits at its end for the slowest
one; for the many small operations of preparing a model (adding a LoRA product to a weight,
quantising a layer's weights) the hand-offs cost more than the split saves, and a core briefly
taken by another process stalls every one of them (74 merges of MiniLM-sized layers: 1.7 s of CPU
on 2 threads beside other work, 0.14 s on one). Those steps run on one thread.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Within the block, torch runs an operation on at most ``count`` threads (at least 1); the
    setting is restored afterwards. It is process-wide: other threads of the process see it too."""
    before = torch.get_num_threads()
    count = max(1, min(int(count), before))
    if count == before:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
