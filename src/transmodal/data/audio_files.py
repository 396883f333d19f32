"""Decoding audio files (or a file's bytes held in memory) with soundfile, to mono float32, resampled
with scipy."""

from __future__ import annotations

import io
from math import gcd
from pathlib import Path

import numpy as np


class AudioDecodeError(ValueError):
    """An audio file is missing or cannot be decoded; the message says why."""


def load_audio(path: Path) -> tuple[np.ndarray, int]:
    """Read ``path`` as a mono float32 waveform in [-1, 1] and its sample rate.

    Raises:
        AudioDecodeError: the file is missing, empty, corrupt or has no samples.
    """
    if not path.is_file():
        raise AudioDecodeError(f"audio file {path} does not exist")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"audio file {path} is empty (0 bytes)")
    return _decode(str(path), f"audio file {path}")


def load_audio_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Decode an audio file's bytes held in memory (an upload), like :func:`load_audio`.

    Raises:
        AudioDecodeError: the bytes are empty, corrupt or hold no samples.
    """
    if not data:
        raise AudioDecodeError("the audio data is empty (0 bytes)")
    return _decode(io.BytesIO(data), f"the audio data ({len(data)} bytes)")


def _decode(source, name: str) -> tuple[np.ndarray, int]:
    """Read ``source`` (a path string or a binary file object); ``name`` is used in errors."""
    import soundfile

    try:
        wave, rate = soundfile.read(source, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises LibsndfileError, RuntimeError, ...
        raise AudioDecodeError(f"cannot decode {name}: {err}") from err
    if wave.shape[0] == 0:
        raise AudioDecodeError(f"{name} holds no samples")
    wave = wave.mean(axis=1)  # (samples,) mono
    if not np.all(np.isfinite(wave)):
        raise AudioDecodeError(f"{name} holds NaN or infinite samples")
    return wave.astype(np.float32), int(rate)


def resample(wave: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Resample a 1-D waveform from ``rate`` to ``target_rate`` (polyphase filter)."""
    if rate == target_rate:
        return wave
    from scipy.signal import resample_poly

    divisor = gcd(rate, target_rate)
    return resample_poly(wave, target_rate // divisor, rate // divisor).astype(np.float32)
