"""Audio noises on ``waveform`` (B, S) (``length`` (B,) valid samples): white noise, time dropout."""

from __future__ import annotations

import torch

from transmodal.metrics.noise.base import normal, register_noise, uniform

CHUNK_SAMPLES = 320


def _valid(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, S) bool: the samples inside each clip's valid length."""
    waveform = inputs["waveform"]
    length = inputs.get("length")
    if length is None:
        return torch.ones_like(waveform, dtype=torch.bool)
    return torch.arange(waveform.shape[1], device=waveform.device)[None, :] < length.to(waveform.device)[:, None]


@register_noise("audio", "gaussian", "white_noise")
def white_noise(inputs, level, generator):
    """White noise of RMS `level` times the clip's RMS (level 1 = 0 dB SNR) on the valid samples."""
    waveform = inputs["waveform"]
    valid = _valid(inputs).to(waveform.dtype)
    rms = ((waveform ** 2 * valid).sum(1) / valid.sum(1).clamp(min=1)).sqrt()  # (B,)
    noise = normal(tuple(waveform.shape), generator).to(waveform) * (level * rms)[:, None]
    return {**inputs, "waveform": waveform + noise * valid}


@register_noise("audio", "time_dropout", "dropout")
def time_dropout(inputs, level, generator):
    """Silence a fraction `level` of the clip's 320-sample chunks, chosen at random."""
    waveform = inputs["waveform"]
    batch, samples = waveform.shape
    chunks = -(-samples // CHUNK_SAMPLES)
    drop = (uniform((batch, chunks), generator) < level).to(waveform.device)  # (B, chunks)
    drop = drop.repeat_interleave(CHUNK_SAMPLES, dim=1)[:, :samples]  # (B, S)
    return {**inputs, "waveform": waveform.masked_fill(drop, 0.0)}
