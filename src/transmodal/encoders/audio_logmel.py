"""A log-mel spectrogram front end in plain torch (no torchaudio), with no trainable parameters.

``waveform (B, samples) -> STFT (Hann) -> power -> mel filterbank -> log(x + 1e-6) -> normalise``.
The filterbank comes from ``transformers.audio_utils.mel_filter_bank`` (HTK mel scale, Slaney area
normalisation) and is a buffer, so the front end moves with the model to any device and can be
differentiated through (noise added to the waveform reaches the features).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from transmodal.errors import ConfigError

LOG_FLOOR = 1e-6
NORMALISATIONS = ("utterance", "fixed", "none")


def default_n_fft(sample_rate: int) -> int:
    """The power of two at or above a 25 ms window (512 at 16 kHz, 256 at 8 kHz)."""
    return 2 ** math.ceil(math.log2(max(0.025 * sample_rate, 16)))


def default_hop_length(sample_rate: int) -> int:
    """A 10 ms hop (160 samples at 16 kHz)."""
    return max(1, round(0.010 * sample_rate))


def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """The (n_fft // 2 + 1, n_mels) triangular filterbank from 0 Hz to the Nyquist frequency."""
    import warnings

    from transformers.audio_utils import mel_filter_bank

    with warnings.catch_warnings():
        # many narrow low-frequency filters at small n_fft are legitimately near-empty
        warnings.simplefilter("ignore")
        bank = mel_filter_bank(
            num_frequency_bins=n_fft // 2 + 1,
            num_mel_filters=n_mels,
            min_frequency=0.0,
            max_frequency=sample_rate / 2,
            sampling_rate=sample_rate,
            norm="slaney",
            mel_scale="htk",
        )
    return torch.as_tensor(bank, dtype=torch.float32)


class LogMel(nn.Module):
    """Log-mel spectrogram of a batch of waveforms.

    Args:
        sample_rate: Sample rate of the waveforms, in Hz.
        n_fft: FFT size and Hann window length (default: 25 ms rounded up to a power of two).
        hop_length: Samples between frames (default: 10 ms).
        n_mels: Number of mel bands.
        normalisation: ``"utterance"`` (zero mean, unit variance over each clip's valid frames),
            ``"fixed"`` (``(x - mean) / std`` with the given constants) or ``"none"``.
        mean: Constant for ``"fixed"``.
        std: Constant for ``"fixed"``.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int | None = None,
        hop_length: int | None = None,
        n_mels: int = 64,
        normalisation: str = "utterance",
        mean: float = 0.0,
        std: float = 1.0,
    ) -> None:
        super().__init__()
        if normalisation not in NORMALISATIONS:
            raise ConfigError(
                f"log-mel normalisation {normalisation!r}; use one of {NORMALISATIONS}"
            )
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft or default_n_fft(self.sample_rate))
        self.hop_length = int(hop_length or default_hop_length(self.sample_rate))
        self.n_mels = int(n_mels)
        self.normalisation = normalisation
        self.mean, self.std = float(mean), float(std)
        # pure functions of the settings: not part of the state dict
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.register_buffer(
            "filters", mel_filters(self.sample_rate, self.n_fft, self.n_mels), persistent=False
        )

    def num_frames(self, samples: torch.Tensor | int) -> torch.Tensor | int:
        """Frames covering ``samples`` samples (centred STFT: ``samples // hop + 1``)."""
        return samples // self.hop_length + 1

    def forward(
        self, waveform: torch.Tensor, length: torch.Tensor | None = None
    ) -> torch.Tensor:  # (B, n_mels, frames)
        """Log-mel features of ``waveform`` (B, samples); ``length`` (B,) marks valid samples.

        Frames past a clip's valid length are set to 0 (the mean after normalisation).
        """
        spectrum = torch.stft(
            waveform.float(),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )  # (B, n_fft // 2 + 1, frames)
        power = spectrum.real**2 + spectrum.imag**2
        mel = torch.matmul(self.filters.T, power)  # (B, n_mels, frames)
        logmel = torch.log(mel + LOG_FLOOR)
        frames = logmel.shape[-1]
        if length is None:
            valid = torch.ones(logmel.shape[0], frames, dtype=torch.bool, device=logmel.device)
        else:
            count = self.num_frames(length.to(logmel.device).long()).clamp(1, frames)  # (B,)
            valid = torch.arange(frames, device=logmel.device)[None, :] < count[:, None]
        mask = valid[:, None, :].to(logmel.dtype)  # (B, 1, frames)
        if self.normalisation == "utterance":
            weight = mask.sum(dim=(1, 2), keepdim=True) * self.n_mels  # (B, 1, 1)
            mean = (logmel * mask).sum(dim=(1, 2), keepdim=True) / weight
            var = (((logmel - mean) * mask) ** 2).sum(dim=(1, 2), keepdim=True) / weight
            logmel = (logmel - mean) / (var + 1e-5).sqrt()
        elif self.normalisation == "fixed":
            logmel = (logmel - self.mean) / self.std
        return logmel * mask  # (B, n_mels, frames)
