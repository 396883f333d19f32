"""A BERT-family encoder's forward pass over a padded batch without computing the padding.

A batch of texts of different lengths is padded to its longest; Hugging Face's BERT then runs every
Linear layer, activation and layer norm on the padding tokens too, and throws their outputs away. In
a server's micro-batch of a dozen random reviews that is 15-25% more tokens than the real ones, and
splitting the batch by length to cut the padding costs a forward call per split (a MiniLM call has a
fixed cost of several milliseconds). :func:`packed_layer_means` runs the same layers on the real
tokens only, packed into one (N, H) matrix; only attention sees the batch padded (its keys masked),
as in the model's own forward pass. The features are those of the model's forward pass (the same, up
to float rounding, for an fp32 model; for an int8 model the activations' scale is taken over the real
tokens, not over the real and padding tokens, so they differ as between two batchings).

Used within :func:`packed_padding` (a server's calls), for a plain BERT encoder (BERT, MiniLM, ...;
:func:`can_pack`), for every batch: one text too (it has no padding to skip, but runs the same code,
which also leaves out the model's unused pooler and its wrappers, about 2 ms of a MiniLM call), so a
server answering one row per forward pass runs the same forward pass as a micro-batched one.
Anything else (fits, the predictor's own calls, other models) runs the model's own forward pass.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

_PACKED: contextvars.ContextVar[bool] = contextvars.ContextVar("packed_padding", default=False)


@contextlib.contextmanager
def packed_padding() -> Iterator[None]:
    """Within the block, a text encoder that can (:func:`can_pack`) runs a batch with padding through
    :func:`packed_layer_means`. Context-local: worker threads started inside see it only when they
    run in a copy of this context."""
    token = _PACKED.set(True)
    try:
        yield
    finally:
        _PACKED.reset(token)


def packing_on() -> bool:
    """Whether :func:`packed_padding` is active in this context."""
    return _PACKED.get()


def can_pack(model: nn.Module) -> bool:
    """Whether ``model`` is a plain BERT encoder in eval mode (absolute positions, no decoder or
    cross-attention, no chunked feed-forward), whose layers :func:`packed_layer_means` reproduces."""
    cached = model.__dict__.get("_can_pack")
    if cached is None:
        from transformers.models.bert.modeling_bert import BertModel

        config = getattr(model, "config", None)
        cached = (isinstance(model, BertModel) and config is not None and not config.is_decoder
                  and not getattr(config, "add_cross_attention", False)
                  and not getattr(config, "chunk_size_feed_forward", 0)
                  and getattr(config, "position_embedding_type", "absolute") == "absolute")
        model.__dict__["_can_pack"] = cached
    return bool(cached) and not model.training


@torch.no_grad()
def packed_layer_means(model: nn.Module, input_ids: torch.Tensor, mask: torch.Tensor,
                       layers: int) -> torch.Tensor:
    """Mean over each text's real tokens of the last ``layers`` layers' outputs, side by side.

    Args:
        model: A BERT encoder (:func:`can_pack`), fp32 or with int8 Linear layers.
        input_ids: (B, T) token ids, padded.
        mask: (B, T) 1 for real tokens, 0 for padding.
        layers: How many of the last layers (at most the model's depth; the embeddings are not one).

    Returns:
        (B, layers * H) float32, as the model's forward pass mean-pooled over ``mask``.
    """
    batch, length = input_ids.shape
    index = mask.reshape(-1).nonzero().squeeze(1)  # (N,) positions of the real tokens in (B * T)
    row = torch.div(index, length, rounding_mode="floor")  # (N,) the text of each real token
    counts = mask.sum(dim=1, keepdim=True).clamp(min=1).float()  # (B, 1)
    embedded = model.embeddings(input_ids=input_ids)  # (B, T, H)
    hidden = embedded.reshape(batch * length, -1).index_select(0, index)  # (N, H)
    keys = mask.bool()[:, None, None, :]  # (B, 1, 1, T): attend to real tokens only
    stack = model.encoder.layer
    means = []
    for i, layer in enumerate(stack):
        hidden = _layer(layer, hidden, index, keys, batch, length)  # (N, H)
        if i >= len(stack) - layers:
            sums = hidden.new_zeros(batch, hidden.shape[1]).index_add_(0, row, hidden)  # (B, H)
            means.append(sums / counts)
    return torch.cat(means, dim=1)  # (B, layers * H)


def _layer(layer: nn.Module, hidden: torch.Tensor, index: torch.Tensor, keys: torch.Tensor,
           batch: int, length: int) -> torch.Tensor:
    """One BERT layer on packed tokens (N, H) -> (N, H)."""
    attention = layer.attention.self
    heads, size = attention.num_attention_heads, attention.attention_head_size

    def padded(tokens: torch.Tensor) -> torch.Tensor:  # (N, H) -> (B, heads, T, size)
        full = tokens.new_zeros(batch * length, tokens.shape[1]).index_copy_(0, index, tokens)
        return full.view(batch, length, heads, size).transpose(1, 2)

    context = F.scaled_dot_product_attention(padded(attention.query(hidden)), padded(attention.key(hidden)),
                                             padded(attention.value(hidden)), attn_mask=keys,
                                             scale=attention.scaling)  # (B, heads, T, size)
    context = context.transpose(1, 2).reshape(batch * length, heads * size).index_select(0, index)  # (N, H)
    out = layer.attention.output
    attended = out.LayerNorm(out.dense(context) + hidden)  # (N, H)
    inner = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(attended))  # (N, I)
    return layer.output.LayerNorm(layer.output.dense(inner) + attended)  # (N, H)
