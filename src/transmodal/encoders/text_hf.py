"""``hf_text``: any Hugging Face ``transformers`` text model, mean-pooled over the attention mask
(the last layer's outputs, or those of each of the last ``layers`` layers side by side)."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from transmodal.encoders.base import ENCODERS, Encoder
from transmodal.encoders.hf_loading import (
    check_unknown,
    load_failed,
    masked_mean,
    pretrained_kwargs,
    resolve_checkpoint,
    transformer_layer_groups,
)
from transmodal.encoders.packed_bert import can_pack, packed_layer_means, packing_on
from transmodal.encoders.quantization import check_quantize, model_for_forward
from transmodal.errors import ConfigError


@ENCODERS["text"].register("hf_text")
class HFTextEncoder(Encoder):
    """A Hugging Face text model (AutoTokenizer + AutoModel), mean-pooled over real tokens.

    Args:
        checkpoint: A model id, a local folder, or ``"packaged:all-MiniLM-L6-v2"``.
        max_length: Tokens per text; longer texts are truncated (capped at the tokenizer's limit).
        frozen: When True no parameter trains (and the embeddings may be cached).
        trust_remote_code: Allow a checkpoint's own Python code to run; off unless set to True.
        quantize: ``"int8"``: dynamic int8 Linear layers (a frozen encoder only; faster on CPU);
            ``"int8_per_token"``: the same with activations scaled per token, so that a row's
            features do not depend on the rest of its batch.
        layers: Mean-pool each of the last ``layers`` transformer layers (``"all"``: every one)
            and concatenate them (``output_dim`` = layers x hidden size). A sentence-embedding model's last layer is
            trained for similarity; the earlier layers keep word-level signal (sentiment, negation)
            that a model on frozen features can use: on the clothing reviews a linear model on all
            six MiniLM layers scored AUROC 0.955 in 5-fold CV against 0.934 on the last one.
    """

    modality = "text"
    weights_from_reference = True

    def __init__(
        self,
        checkpoint: str = "packaged:all-MiniLM-L6-v2",
        max_length: int = 128,
        frozen: bool = True,
        trust_remote_code: bool = False,
        quantize: str | None = None,
        layers: int | str = 1,
        **extra: Any,
    ) -> None:
        check_unknown("hf_text", extra)
        check_quantize("hf_text", quantize, bool(frozen))
        if int(max_length) < 2:
            raise ConfigError(f"hf_text max_length must be at least 2, got {max_length}")
        if layers != "all" and (isinstance(layers, bool) or not isinstance(layers, int) or layers < 1):
            raise ConfigError(f"hf_text layers must be a whole number >= 1 or 'all', got {layers!r}")
        super().__init__(
            checkpoint=checkpoint,
            max_length=int(max_length),
            frozen=bool(frozen),
            trust_remote_code=bool(trust_remote_code),
            quantize=quantize,
            # only when set: the settings are the embedding store's key, unchanged for one layer
            **({"layers": layers} if layers != 1 else {}),
            **extra,
        )
        from transformers import AutoModel, AutoTokenizer

        path = resolve_checkpoint(checkpoint)
        kwargs = pretrained_kwargs(trust_remote_code)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
            model = AutoModel.from_pretrained(path, **kwargs)
        except (OSError, ValueError) as err:
            raise load_failed("text", checkpoint, err) from err
        if getattr(model.config, "is_encoder_decoder", False):
            model = model.get_encoder()  # T5-like: only the encoder makes sentence vectors
        if self.tokenizer.pad_token is None:  # GPT-like tokenizers have no padding token
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.model = model
        limit = getattr(self.tokenizer, "model_max_length", None)  # huge when the tokenizer has none
        self.max_length = min(int(max_length), limit) if limit and limit < 100_000 else int(max_length)
        depth = getattr(model.config, "num_hidden_layers", None)
        if layers == "all" and depth is None:
            raise ConfigError(f"hf_text layers='all', but {checkpoint!r} does not say how many layers it has; "
                              "give a number")
        if layers != "all" and layers > 1 and depth is not None and layers > depth:
            raise ConfigError(f"hf_text layers={layers}, but {checkpoint!r} has {depth} layers; give at most {depth} "
                              "or 'all'")
        self.layers = int(depth) if layers == "all" else layers
        self.output_dim = int(model.config.hidden_size) * self.layers
        if self.frozen:
            self.freeze(True)
        self.train(self.training)  # a frozen encoder starts (and stays) in eval mode

    def prepare(self, items: Sequence[str | None]) -> dict[str, torch.Tensor]:
        """Tokenise texts (``None`` becomes the empty string), padded to the longest in the batch.

        Returns:
            ``input_ids`` and ``attention_mask``, both (B, T) int64.
        """
        texts = ["" if item is None else str(item) for item in items]
        encoded = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return {
            "input_ids": encoded["input_ids"].long(),
            "attention_mask": encoded["attention_mask"].long(),
        }

    def input_lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text after truncation (the sort key of length-bucketed encoding)."""
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return [len(ids) for ids in encoded["input_ids"]]

    def can_cache_lower_layers(self, below: int) -> bool:
        """Whether :meth:`cache_lower_layers` can keep the outputs of the first ``below`` transformer
        layers: the model's layout is supported (:func:`~transmodal.encoders.layer_cache.layer_stack`),
        at least one layer is below and one above them, and the pooled layers (``layers``) do not
        reach below them."""
        from transmodal.encoders.layer_cache import layer_stack

        stack = layer_stack(self.model)
        return stack is not None and 1 <= below < len(stack[1]) and self.layers <= len(stack[1]) - below + 1

    def cache_lower_layers(self, below: int | None) -> bool:
        """Keep each row's outputs of the first ``below`` transformer layers in memory from now on
        (they must not train), or stop (None). False when it cannot (:meth:`can_cache_lower_layers`):
        every layer then runs as usual. See :mod:`transmodal.encoders.layer_cache`."""
        from transmodal.encoders.layer_cache import LowerLayerCache

        if below is None or not self.can_cache_lower_layers(below):
            self.__dict__.pop("_lower_cache", None)
            return False
        self.__dict__["_lower_cache"] = LowerLayerCache(below)  # not a submodule: not in state_dict
        return True

    @property
    def packs_padding(self) -> bool:
        """Whether this encoder's batches skip their padding tokens here (within
        :func:`~transmodal.encoders.packed_bert.packed_padding`, a BERT model not training)."""
        return packing_on() and can_pack(self.model) and "_lower_cache" not in self.__dict__

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, output_dim)
        mask = inputs["attention_mask"]  # (B, T)
        cache = self.__dict__.get("_lower_cache")
        if cache is not None:
            states = cache.hidden_states(self.model, inputs["input_ids"], mask)  # from layer `below` on
            return torch.cat([masked_mean(h, mask) for h in states[-self.layers:]], dim=1)  # (B, layers * H)
        model = model_for_forward(self, self.model)  # the int8 copy when frozen with quantize="int8"
        if packing_on() and not torch.is_grad_enabled() and can_pack(model):  # a server's calls, any batch size
            return packed_layer_means(model, inputs["input_ids"], mask, self.layers)  # padding not computed
        if self.layers == 1:
            hidden = model(input_ids=inputs["input_ids"], attention_mask=mask).last_hidden_state
            return masked_mean(hidden, mask)  # (B, T, H) -> (B, H)
        states = model(input_ids=inputs["input_ids"], attention_mask=mask, output_hidden_states=True).hidden_states
        return torch.cat([masked_mean(h, mask) for h in states[-self.layers:]], dim=1)  # (B, layers * H)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Embeddings, then each transformer layer, then the rest (final norm, pooler)."""
        return transformer_layer_groups(self.model)
