"""The frozen lower layers of a transformers text model, run once per row during a fit.

When only the top transformer layers of a text encoder train (LoRA adapters in the top ``N`` layers,
``transfer.top_layers``), the layers below them compute the same outputs for a row at every epoch.
A :class:`LowerLayerCache` keeps each row's hidden states after those layers (real tokens only,
keyed by the row's token ids) in memory, so an epoch runs only the top layers: about half the
time of a training step through every MiniLM layer with the lower three cached.

The cached states are computed in evaluation mode (no dropout in the lower layers) and without
gradients; in evaluation mode the encoder's outputs are those of the plain forward pass. Nothing
is saved: the cache lives for one fit (the ``lora`` strategy switches it on and off) and a loaded
model runs every layer.

Supported models: those built as ``embeddings`` + ``encoder.layer`` (BERT, RoBERTa, MiniLM);
:func:`layer_stack` returns None for others (their encoder then runs every layer as usual).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


def layer_stack(model: nn.Module) -> tuple[nn.Module, nn.ModuleList] | None:
    """``(embeddings, layers)`` of a BERT-like transformers model, or None for another layout."""
    embeddings = getattr(model, "embeddings", None)
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if isinstance(embeddings, nn.Module) and isinstance(layers, nn.ModuleList) and len(layers) > 0:
        return embeddings, layers
    return None


@contextlib.contextmanager
def _eval_mode(modules: list[nn.Module]) -> Iterator[None]:
    """The modules in evaluation mode (no dropout), restored afterwards."""
    modes = [m.training for m in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, mode in zip(modules, modes):
            module.train(mode)


class LowerLayerCache:
    """Per-row hidden states after the first ``below`` transformer layers of one model.

    Args:
        below: Layers run once per row (the frozen ones, counted from the input side), >= 1.
    """

    def __init__(self, below: int) -> None:
        self.below = int(below)
        self.rows: dict[bytes, torch.Tensor] = {}  # token ids of a row -> (L, H) states of its L real tokens

    def __deepcopy__(self, memo) -> "LowerLayerCache":
        return LowerLayerCache(self.below)  # a copied module starts with an empty cache

    def hidden_states(self, model: nn.Module, input_ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of layers ``below`` .. last of ``model`` for a batch, the first from the cache.

        Args:
            model: A model :func:`layer_stack` supports; its layers ``below`` and up run here (with
                gradients when they train).
            input_ids: (B, T) token ids; mask: (B, T) attention mask (1 for a real token).

        Returns:
            ``depth - below + 1`` tensors (B, T, H): after layer ``below`` (cached), ..., after the
            last layer (what ``output_hidden_states`` gives from index ``below`` on).
        """
        embeddings, layers = layer_stack(model)
        keep = mask.bool()  # (B, T)
        keys = [input_ids[i][keep[i]].cpu().numpy().tobytes() for i in range(input_ids.shape[0])]
        missing = sorted({i for i, key in enumerate(keys) if key not in self.rows})
        if missing:
            self._fill(model, embeddings, layers, input_ids, mask, keys, missing)
        first = self.rows[keys[0]]
        hidden = first.new_zeros((*input_ids.shape, first.shape[-1]))  # (B, T, H); padding stays 0
        for i, key in enumerate(keys):
            hidden[i][keep[i]] = self.rows[key]
        states = [hidden]
        attention = _attention_mask(model, hidden, mask)
        for layer in layers[self.below:]:
            hidden = _output(layer(hidden, attention))  # (B, T, H)
            states.append(hidden)
        return states

    def _fill(self, model, embeddings, layers, input_ids, mask, keys, missing) -> None:
        """Run the embeddings and the lower layers over the rows ``missing`` and keep their states."""
        rows = torch.tensor(missing)
        ids, sub_mask = input_ids[rows], mask[rows]  # (M, T)
        lower = [embeddings, *layers[: self.below]]
        with torch.no_grad(), _eval_mode(lower):
            hidden = embeddings(input_ids=ids)  # (M, T, H)
            attention = _attention_mask(model, hidden, sub_mask)
            for layer in layers[: self.below]:
                hidden = _output(layer(hidden, attention))
        for j, i in enumerate(missing):
            self.rows[keys[i]] = hidden[j][sub_mask[j].bool()].clone()  # (L, H)


def _attention_mask(model: nn.Module, hidden: torch.Tensor, mask: torch.Tensor):
    """The mask the model's layers take (as its own forward pass builds it from ``mask``)."""
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=mask)


def _output(result) -> torch.Tensor:
    """A layer's hidden states (older transformers return a tuple)."""
    return result[0] if isinstance(result, tuple) else result
