"""The built-in trainable text encoder: word embeddings, a residual 1-D convolution and mean+max
pooling.

It needs no download: the vocabulary is learned from the training texts by ``fit_settings`` (lower
case ``\\w+`` words seen at least ``min_count`` times, the ``vocab_size`` most frequent) and
stored in the settings as a list, so it is saved with the model as JSON. Index 0 is ``<pad>``, 1 is
``<unk>``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Sequence

import torch
from torch import nn

from transmodal.encoders.base import Encoder, encoder_registry
from transmodal.errors import ConfigError

PAD, UNK = "<pad>", "<unk>"
WORD = re.compile(r"\w+")


def tokenize(text: Any) -> list[str]:
    """Lower-case ``\\w+`` words of ``text``; ``None`` and NaN give no words."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    return WORD.findall(str(text).lower())


@encoder_registry("text").register("builtin_text")
class BuiltinText(Encoder):
    """A small trainable text encoder over a learned word vocabulary.

    Settings (all JSON):
        vocab: Words by index, starting with ``<pad>`` and ``<unk>`` (learned by ``fit_settings``).
        vocab_size: Most words kept in the vocabulary (besides ``<pad>`` and ``<unk>``).
        min_count: Fewest occurrences in the training texts for a word to be kept.
        max_tokens: Words per text kept (the first ones).
        embedding_dim: Size of the word embeddings.
        conv_kernel: Width of the residual 1-D convolution over words; 0 disables it.
        output_dim: Size of the output vector.
        dropout: Dropout on the embeddings and before the output projection.
        frozen: Parameters do not train.
    """

    modality = "text"
    DEFAULTS: dict[str, Any] = {
        "vocab": [PAD, UNK],
        "vocab_size": 20000,
        "min_count": 2,
        "max_tokens": 256,
        "embedding_dim": 128,
        "conv_kernel": 3,
        "output_dim": 128,
        "dropout": 0.1,
        "frozen": False,
    }

    def __init__(self, **settings: Any) -> None:
        settings = self.with_defaults(settings)
        vocab = [str(word) for word in settings["vocab"]]
        if vocab[:2] != [PAD, UNK]:
            raise ConfigError(f"builtin_text vocab must start with {PAD!r}, {UNK!r}")
        settings["vocab"] = vocab
        super().__init__(**settings)
        self.index = {word: i for i, word in enumerate(vocab)}
        self.max_tokens = int(settings["max_tokens"])
        dim = int(settings["embedding_dim"])
        self.embedding = nn.Embedding(len(vocab), dim, padding_idx=0)
        kernel = int(settings["conv_kernel"])
        if kernel < 0 or (kernel and kernel % 2 == 0):
            raise ConfigError(f"builtin_text conv_kernel must be 0 or odd, got {kernel}")
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2) if kernel else None
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(float(settings["dropout"]))
        self.norm = nn.LayerNorm(2 * dim)
        self.output_dim = int(settings["output_dim"])
        self.projection = nn.Linear(2 * dim, self.output_dim)  # mean + max pooling

    @classmethod
    def fit_settings(cls, items: Sequence[Any], settings: dict[str, Any]) -> dict[str, Any]:
        """Learn ``vocab`` from the training texts (kept when the settings already hold one).

        Args:
            items: Training texts; ``None`` items are skipped.
            settings: User settings.
        """
        settings = dict(settings)
        if settings.get("vocab"):
            return settings
        size = int(settings.get("vocab_size") or cls.DEFAULTS["vocab_size"])
        min_count = int(settings.get("min_count") or cls.DEFAULTS["min_count"])
        counts = Counter(word for text in items for word in tokenize(text))
        ranked = sorted((-n, word) for word, n in counts.items() if n >= min_count)
        settings["vocab"] = [PAD, UNK] + [word for _, word in ranked[:size]]
        return settings

    def encode_ids(self, text: Any) -> list[int]:
        """Word indices of one text (at most ``max_tokens``); unknown words map to ``<unk>``."""
        unk = self.index[UNK]
        return [self.index.get(word, unk) for word in tokenize(text)[: self.max_tokens]]

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """Texts -> ``{"token_ids": (B, L) long}``, 0-padded; ``None`` or ``""`` -> all padding."""
        ids = [self.encode_ids(item) for item in items]
        longest = max([len(row) for row in ids] + [1])
        token_ids = torch.zeros(len(items), longest, dtype=torch.long)
        for i, row in enumerate(ids):
            token_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return {"token_ids": token_ids}

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, output_dim)
        token_ids = inputs["token_ids"]  # (B, L)
        mask = token_ids != 0  # (B, L)
        x = self.dropout(self.embedding(token_ids))  # (B, L, E)
        if self.conv is not None:
            x = x + self.activation(self.conv(x.transpose(1, 2))).transpose(1, 2)  # (B, L, E)
        x = x * mask[..., None]
        count = mask.sum(1, keepdim=True)  # (B, 1)
        mean = x.sum(1) / count.clamp(min=1)  # (B, E)
        peak = x.masked_fill(~mask[..., None], float("-inf")).amax(1)  # (B, E)
        peak = torch.where(count > 0, peak, torch.zeros_like(peak))  # no words -> 0, not -inf
        pooled = self.norm(torch.cat([mean, peak], dim=1))  # (B, 2E)
        out = self.projection(self.dropout(pooled))  # (B, output_dim)
        return out * (count > 0)  # a text without words encodes to zeros

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Embeddings, then the convolution, then the pooling norm and projection."""
        groups = [list(self.embedding.parameters())]
        if self.conv is not None:
            groups.append(list(self.conv.parameters()))
        groups.append(list(self.norm.parameters()) + list(self.projection.parameters()))
        return groups
