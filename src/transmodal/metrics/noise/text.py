"""Text noise on token ids (``token_ids`` or ``input_ids`` (B, L)): word dropout."""

from __future__ import annotations

import torch

from transmodal.metrics.noise.base import register_noise, uniform


@register_noise("text", "word_dropout", "dropout")
def word_dropout(inputs, level, generator):
    """Remove a fraction `level` of the tokens: built-in ids become padding, transformer tokens are
    hidden from attention (special tokens such as [CLS]/[SEP] are kept)."""
    if "token_ids" in inputs:
        ids = inputs["token_ids"]
        drop = (uniform(tuple(ids.shape), generator) < level).to(ids.device) & (ids != 0)
        return {**inputs, "token_ids": ids.masked_fill(drop, 0)}
    ids, attention = inputs["input_ids"], inputs["attention_mask"]
    drop = (uniform(tuple(ids.shape), generator) < level).to(ids.device)
    # keep the first and the last attended token (the special tokens of BERT-style tokenisers)
    drop[:, 0] = False
    last = attention.sum(1).clamp(min=1) - 1  # (B,)
    drop[torch.arange(len(ids)), last] = False
    return {**inputs, "attention_mask": attention.masked_fill(drop, 0)}
