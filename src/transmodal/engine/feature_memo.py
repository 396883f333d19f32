"""Frozen encoders' features shared across fits in one process (``fit(..., feature_memo=True)``).

A multi-task report trains one model per task and per configuration on the same rows; with frozen
encoders (e.g. the packaged MiniLM) every fit would encode the same texts again. :func:`memoize_frozen`
makes each frozen encoder of a network look its rows up in a process-wide memo keyed by the encoder's
settings and weights and the row's prepared inputs (padding excluded), and encode only rows it has not
seen. The memo lives in memory only; nothing is saved, and a loaded predictor encodes as usual.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import torch

from transmodal.engine.encoding import encoder_key

_MEMO: dict[str, dict[bytes, torch.Tensor]] = {}  # encoder settings -> row key -> features (D,)


def row_keys(inputs: dict[str, Any]) -> list[bytes] | None:
    """A digest per row of a prepared batch (positions the attention mask hides are left out), or
    None when the batch holds something other than batch-first tensors."""
    tensors = {n: t for n, t in inputs.items() if isinstance(t, torch.Tensor)}
    if not tensors or len(tensors) != len(inputs):
        return None
    size = next(iter(tensors.values())).shape[0]
    if any(t.dim() == 0 or t.shape[0] != size for t in tensors.values()):
        return None
    mask = tensors.get("attention_mask")
    keys = []
    for i in range(size):
        digest = hashlib.sha1()
        keep = mask[i].bool() if mask is not None else None
        for name in sorted(tensors):
            row = tensors[name][i]
            if keep is not None and row.dim() >= 1 and row.shape[0] == keep.shape[0]:
                row = row[keep]
            digest.update(f"{name}{tuple(row.shape)}{row.dtype}".encode())
            digest.update(row.detach().cpu().contiguous().numpy().tobytes())
        keys.append(digest.digest())
    return keys


class MemoizedForward:
    """Replaces a frozen encoder's ``forward``: memo hits are looked up, misses encoded and stored."""

    def __init__(self, forward: Callable, memo: dict[bytes, torch.Tensor]) -> None:
        self.forward, self.memo = forward, memo

    def __call__(self, inputs: dict[str, Any]) -> torch.Tensor:  # -> (B, D)
        keys = row_keys(inputs)
        if keys is None:
            return self.forward(inputs)
        missing = sorted({i for i, k in enumerate(keys) if k not in self.memo})
        if missing:
            rows = torch.tensor(missing)
            with torch.no_grad():
                features = self.forward({n: t[rows] for n, t in inputs.items()})  # (M, D)
            for i, row in zip(missing, features):
                self.memo[keys[i]] = row.detach().float().cpu()
        device = next(iter(inputs.values())).device
        return torch.stack([self.memo[k] for k in keys]).to(device)


def memoize_frozen(net) -> list[str]:
    """Give every frozen encoder of ``net`` the process-wide memo; returns the inputs concerned."""
    names = []
    for name in net.input_names:
        encoder = net.encoder(name)
        if not encoder.frozen or isinstance(encoder.forward, MemoizedForward):
            continue
        key = encoder_key(encoder)  # the embedding store's identity: class, output settings, weights
        encoder.forward = MemoizedForward(encoder.forward, _MEMO.setdefault(key, {}))
        names.append(name)
    return names


def clear_memo() -> None:
    """Forget every memoised feature."""
    _MEMO.clear()

