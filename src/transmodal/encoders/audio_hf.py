"""``hf_audio``: a Hugging Face ``transformers`` audio model (wav2vec2, HuBERT, AST, Whisper encoder).

Waveforms are resampled to the checkpoint's sampling rate, cropped to ``max_seconds`` and turned
into model inputs by the checkpoint's feature extractor; the vector per clip is the mean of the last
hidden state over the frames that hold real audio.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from transmodal.data.audio_files import resample
from transmodal.encoders.base import ENCODERS, Encoder
from transmodal.encoders.quantization import check_quantize, model_for_forward
from transmodal.encoders.hf_loading import (
    check_unknown,
    load_failed,
    masked_mean,
    pretrained_kwargs,
    resolve_checkpoint,
    transformer_layer_groups,
)
from transmodal.errors import ConfigError

PLACEHOLDER_SECONDS = 0.1  # length of the silence standing in for a missing clip
MODEL_INPUT_NAMES = ("input_values", "input_features")  # raw samples (wav2vec2) or spectrogram


def load_audio_model(path: str, trust_remote_code: bool) -> nn.Module:
    """``AutoModel`` of the checkpoint; for encoder-decoder models (Whisper) only the encoder."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(path, **pretrained_kwargs(trust_remote_code))
    if getattr(model.config, "is_encoder_decoder", False):
        return model.get_encoder()  # (its config is the model's) the decoder is dropped
    return model


def extractor_kwargs(extractor: Any, sampling_rate: int) -> dict[str, Any]:
    """Keyword arguments of the feature extractor call: tensors, a mask, padding to the longest.

    Extractors that pad to a fixed length by default (Whisper: 30 s) keep doing so.
    """
    parameters = inspect.signature(extractor.__call__).parameters
    kwargs: dict[str, Any] = {"sampling_rate": sampling_rate, "return_tensors": "pt"}
    if "padding" in parameters and parameters["padding"].default in (False, None):
        kwargs["padding"] = True
    if "return_attention_mask" in parameters:
        kwargs["return_attention_mask"] = True
    return kwargs


def to_mono(wave: Any) -> np.ndarray:
    """A 1-D float32 waveform; a 2-D array is averaged over its shorter (channel) axis."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=int(np.argmin(wave.shape)))
    return wave.reshape(-1)


def output_mask(mask: torch.Tensor, frames: int, model: nn.Module | None = None) -> torch.Tensor:
    """Shrink an input-rate mask (B, T_in) to the model's frame rate (B, ``frames``).

    The number of real frames comes from the model's own formula when it has one (wav2vec2,
    HuBERT, Whisper: ``_get_feat_extract_output_lengths``), else it scales with the number of real
    inputs, rounded down; at least one frame is kept per clip.
    """
    lengths = mask.sum(dim=1)  # (B,)
    count = getattr(model, "_get_feat_extract_output_lengths", None)
    if count is not None:
        real = torch.as_tensor(count(lengths)).long()  # (B,)
    else:
        real = torch.div(lengths * frames, mask.shape[1], rounding_mode="floor")  # (B,)
    real = real.clamp(1, frames)
    positions = torch.arange(frames, device=mask.device)  # (frames,)
    return (positions.unsqueeze(0) < real.unsqueeze(1)).long()  # (B, frames)


@ENCODERS["audio"].register("hf_audio")
class HFAudioEncoder(Encoder):
    """A Hugging Face audio model with its feature extractor, mean-pooled over real frames.

    Args:
        checkpoint: A model id or a local folder holding the model and its feature extractor config.
        max_seconds: Clips are cropped to their first ``max_seconds`` seconds.
        frozen: When True no parameter trains (and the embeddings may be cached).
        trust_remote_code: Allow a checkpoint's own Python code to run; off unless set to True.
        quantize: ``"int8"``: dynamic int8 Linear layers (a frozen encoder only; faster on CPU);
            ``"int8_per_token"``: the same with activations scaled per token, so that a row's
            features do not depend on the rest of its batch.
    """

    modality = "audio"
    weights_from_reference = True

    def __init__(
        self,
        checkpoint: str | None = None,
        max_seconds: float = 10.0,
        frozen: bool = True,
        trust_remote_code: bool = False,
        quantize: str | None = None,
        **extra: Any,
    ) -> None:
        check_unknown("hf_audio", extra)
        check_quantize("hf_audio", quantize, bool(frozen))
        if float(max_seconds) <= 0:
            raise ConfigError(f"hf_audio max_seconds must be positive, got {max_seconds}")
        super().__init__(
            checkpoint=checkpoint,
            max_seconds=float(max_seconds),
            frozen=bool(frozen),
            trust_remote_code=bool(trust_remote_code),
            quantize=quantize,
            **extra,
        )
        from transformers import AutoFeatureExtractor

        path = resolve_checkpoint(checkpoint)
        try:
            self.extractor = AutoFeatureExtractor.from_pretrained(
                path, **pretrained_kwargs(trust_remote_code)
            )
            self.model = load_audio_model(path, trust_remote_code)
        except (OSError, ValueError) as err:
            raise load_failed("audio", str(checkpoint), err) from err
        self.sampling_rate = int(self.extractor.sampling_rate)
        self.max_samples = max(1, int(round(float(max_seconds) * self.sampling_rate)))
        # models trained without an attention mask (wav2vec2-base) must not be given one: their
        # extractor says so; the mask is still used for pooling
        self.model_takes_mask = bool(getattr(self.extractor, "return_attention_mask", False))
        self._extractor_kwargs = extractor_kwargs(self.extractor, self.sampling_rate)
        self.output_dim = int(self.model.config.hidden_size)
        if self.frozen:
            self.freeze(True)
        self.train(self.training)  # a frozen encoder starts (and stays) in eval mode

    def _wave(self, item: tuple[np.ndarray, int] | None) -> np.ndarray:
        if item is None:
            return np.zeros(int(PLACEHOLDER_SECONDS * self.sampling_rate), dtype=np.float32)
        wave, rate = item
        wave = resample(to_mono(wave), int(rate), self.sampling_rate)
        wave = np.asarray(wave[: self.max_samples], dtype=np.float32)
        return wave if wave.size else np.zeros(1, dtype=np.float32)

    def prepare(self, items: Sequence[tuple[np.ndarray, int] | None]) -> dict[str, torch.Tensor]:
        """Resample, crop and featurise clips (``None`` becomes 0.1 s of silence).

        Returns:
            The extractor's model input (``input_values`` (B, samples) for wav2vec2/HuBERT,
            (B, frames, mels) for AST; ``input_features`` (B, mels, frames) for Whisper), plus
            ``attention_mask`` (B, samples or frames) when the extractor gives one.
        """
        waves = [self._wave(item) for item in items]
        encoded = self.extractor(waves, **self._extractor_kwargs)
        inputs = {name: encoded[name].float() for name in MODEL_INPUT_NAMES if name in encoded}
        if "attention_mask" in encoded:
            inputs["attention_mask"] = encoded["attention_mask"].long()
        return inputs

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, output_dim)
        model_inputs = {name: inputs[name] for name in MODEL_INPUT_NAMES if name in inputs}
        mask = inputs.get("attention_mask")  # (B, T_in) or None
        if mask is not None and self.model_takes_mask:
            model_inputs["attention_mask"] = mask
        hidden = model_for_forward(self, self.model)(**model_inputs).last_hidden_state  # (B, frames, H)
        if mask is None:
            return hidden.mean(dim=1)  # (B, H)
        return masked_mean(hidden, output_mask(mask, hidden.shape[1], self.model))  # (B, H)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Feature extractor and positional embedding, then each transformer layer, then the rest."""
        return transformer_layer_groups(self.model)
