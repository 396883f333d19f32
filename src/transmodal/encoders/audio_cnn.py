"""The built-in trainable audio encoder: log-mel features and a 2-D CNN over (mel, time).

The input tensor is the raw waveform (so noise for robustness tests is added to the signal, not to
the features). Clips are resampled to ``sample_rate``, centre-cropped to ``max_seconds`` or padded
at the end; ``length`` marks the valid samples, and both the feature normalisation and the global
pooling ignore the padding, so a clip's embedding does not depend on how much padding it got.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from transmodal.data.audio_files import resample
from transmodal.encoders.audio_logmel import LogMel
from transmodal.encoders.base import Encoder, encoder_registry

N_STAGES = 4
MIN_SECONDS, MAX_SECONDS = 0.5, 10.0
MAX_SAMPLE_RATE = 16000  # a higher native rate is resampled down to this
MAX_SHIFT_SECONDS = 0.1  # augmentation: random time shift in [-0.1, 0.1] s
FREQ_MASKS, MAX_FREQ_MASK = 2, 1 / 8  # augmentation: 2 masks of up to 1/8 of the mel bands
TIME_MASKS, MAX_TIME_MASK = 2, 1 / 10  # augmentation: 2 masks of up to 1/10 of the frames


def _stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """conv 3x3 - BN - ReLU - 2x2 max-pool (halves mel and time, rounding up)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, ceil_mode=True),
    )


def _time_shift(
    waveform: torch.Tensor, length: torch.Tensor, max_shift: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift each clip of (B, samples) by a random number of samples in [-max_shift, max_shift].

    Returns the shifted waveform (zeros shifted in) and the new valid lengths (B,).
    """
    batch, samples = waveform.shape
    shift = torch.randint(-max_shift, max_shift + 1, (batch, 1), device=waveform.device)
    source = torch.arange(samples, device=waveform.device)[None, :] - shift  # (B, samples)
    inside = (source >= 0) & (source < samples)
    shifted = torch.gather(waveform, 1, source.clamp(0, samples - 1)) * inside
    return shifted, (length + shift[:, 0]).clamp(0, samples)


def _spec_augment(features: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Zero random mel bands and frame spans of (B, n_mels, T), within each clip's valid frames."""
    batch, n_mels, total = features.shape
    device = features.device
    keep = torch.ones_like(features)
    bands = torch.arange(n_mels, device=device)[None, :]  # (1, n_mels)
    times = torch.arange(total, device=device)[None, :]  # (1, T)
    for _ in range(FREQ_MASKS):
        width = torch.randint(0, max(1, int(n_mels * MAX_FREQ_MASK)) + 1, (batch, 1), device=device)
        start = (torch.rand(batch, 1, device=device) * (n_mels - width + 1)).long()
        keep = keep * ~((bands >= start) & (bands < start + width))[:, :, None]
    for _ in range(TIME_MASKS):
        limit = (frames.float() * MAX_TIME_MASK).long()[:, None]  # (B, 1)
        width = (torch.rand(batch, 1, device=device) * (limit + 1)).long()
        start = (torch.rand(batch, 1, device=device) * (frames[:, None] - width + 1)).long()
        keep = keep * ~((times >= start) & (times < start + width))[:, None, :]
    return features * keep


@encoder_registry("audio").register("cnn")
class AudioCNN(Encoder):
    """A small trainable CNN over log-mel spectrograms.

    Settings (all JSON):
        sample_rate: Rate clips are resampled to, in Hz (inferred: the training clips' most common
            rate, at most 16 kHz; 16 kHz when not fitted).
        max_seconds: Clip length after centre-cropping / padding (inferred by ``fit_settings``).
        n_mels: Mel bands.
        n_fft: FFT size (default: 25 ms rounded up to a power of two).
        hop_length: Samples between frames (default: 10 ms).
        width: Channels of the first of the 4 stages; each later stage doubles it.
        output_dim: Size of the output vector.
        dropout: Dropout before the output projection.
        augment: Random time shift and SpecAugment-style band/frame masks while training.
        frozen: Parameters do not train.
    """

    modality = "audio"
    DEFAULTS: dict[str, Any] = {
        "sample_rate": 16000,
        "max_seconds": 4.0,
        "n_mels": 40,
        "n_fft": None,
        "hop_length": None,
        "width": 16,
        "output_dim": 128,
        "dropout": 0.1,
        "augment": False,
        "frozen": False,
    }

    def __init__(self, **settings: Any) -> None:
        settings = self.with_defaults(settings)
        frontend = LogMel(
            int(settings["sample_rate"]),
            settings["n_fft"],
            settings["hop_length"],
            int(settings["n_mels"]),
        )
        # store the resolved STFT sizes so that a saved model does not depend on their defaults
        settings["n_fft"], settings["hop_length"] = frontend.n_fft, frontend.hop_length
        super().__init__(**settings)
        self.frontend = frontend
        self.sample_rate = frontend.sample_rate
        self.max_samples = max(1, round(float(settings["max_seconds"]) * self.sample_rate))
        self.augment = bool(settings["augment"])
        width = int(settings["width"])
        widths = [width * 2**i for i in range(N_STAGES)]
        self.stages = nn.ModuleList(
            _stage(c_in, c_out) for c_in, c_out in zip([1] + widths[:-1], widths)
        )
        self.dropout = nn.Dropout(float(settings["dropout"]))
        self.output_dim = int(settings["output_dim"])
        self.projection = nn.Linear(2 * widths[-1], self.output_dim)  # mean + max pooling

    @classmethod
    def fit_settings(cls, items: Sequence[Any], settings: dict[str, Any]) -> dict[str, Any]:
        """Infer ``sample_rate`` (the clips' most common rate, at most 16 kHz) and ``max_seconds``
        (the 95th percentile of clip durations, rounded up to 0.1 s).

        Args:
            items: Decoded training clips ``(waveform, sample_rate)``; ``None`` items are skipped.
            settings: User settings; given values are kept.
        """
        settings = dict(settings)
        clips = [item for item in items if item is not None]
        durations = [len(np.ravel(wave)) / rate for wave, rate in clips]
        rates = [int(rate) for _, rate in clips]
        if settings.get("sample_rate") is None and rates:
            # the training clips' most common rate, up to 16 kHz: no resampling in the common case
            settings["sample_rate"] = min(MAX_SAMPLE_RATE, max(set(rates), key=rates.count))
        if settings.get("max_seconds") is None and durations:
            seconds = math.ceil(round(float(np.percentile(durations, 95)) * 10, 6)) / 10
            settings["max_seconds"] = min(MAX_SECONDS, max(MIN_SECONDS, seconds))
        return settings

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """Clips -> ``{"waveform": (B, samples) float, "length": (B,) long}``; ``None`` -> zeros."""
        waveform = np.zeros((len(items), self.max_samples), dtype=np.float32)
        length = np.zeros(len(items), dtype=np.int64)
        for i, item in enumerate(items):
            if item is None:
                continue
            wave, rate = item
            wave = np.asarray(wave, dtype=np.float32)
            if wave.ndim != 1:
                raise ValueError(f"audio waveforms must be 1-D (mono), got shape {wave.shape}")
            wave = resample(np.nan_to_num(wave), int(rate), self.sample_rate)
            if len(wave) > self.max_samples:  # keep the centre
                start = (len(wave) - self.max_samples) // 2
                wave = wave[start : start + self.max_samples]
            waveform[i, : len(wave)] = wave
            length[i] = len(wave)
        return {"waveform": torch.from_numpy(waveform), "length": torch.from_numpy(length)}

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, output_dim)
        waveform = inputs["waveform"]  # (B, samples)
        length = inputs.get("length")
        if length is None:
            length = torch.full(waveform.shape[:1], waveform.shape[1], device=waveform.device)
        length = length.to(waveform.device).long()
        if self.training and self.augment:
            max_shift = round(MAX_SHIFT_SECONDS * self.sample_rate)
            waveform, length = _time_shift(waveform, length, max_shift)
        features = self.frontend(waveform, length)  # (B, n_mels, T)
        frames = self.frontend.num_frames(length).clamp(1, features.shape[-1])  # (B,) valid
        if self.training and self.augment:
            features = _spec_augment(features, frames)
        x = features[:, None]  # (B, 1, n_mels, T)
        for stage in self.stages:
            x = stage(x)  # (B, width * 2**i, ceil(n_mels / 2**(i+1)), ceil(T / 2**(i+1)))
            frames = torch.div(frames + 1, 2, rounding_mode="floor")  # valid frames, rounded up
        x = x.mean(dim=2)  # (B, C, T')
        valid = torch.arange(x.shape[-1], device=x.device)[None, :] < frames[:, None]  # (B, T')
        mean = (x * valid[:, None]).sum(-1) / frames[:, None].to(x.dtype)  # (B, C)
        peak = x.masked_fill(~valid[:, None], float("-inf")).amax(-1)  # (B, C)
        pooled = torch.cat([mean, peak], dim=1)  # (B, 2C)
        return self.projection(self.dropout(pooled))  # (B, output_dim)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """One group per stage, then the projection."""
        return [list(stage.parameters()) for stage in self.stages] + [
            list(self.projection.parameters())
        ]
