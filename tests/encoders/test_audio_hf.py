"""Tests of ``hf_audio`` on tiny randomly initialised wav2vec2, Whisper and AST checkpoints on disk."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never download

from pathlib import Path

import numpy as np
import pytest
import torch

from transmodal.encoders.audio_hf import output_mask
from transmodal.encoders.base import ENCODERS, build_encoder

RATE = 16_000


def _save_wav2vec2(folder: Path, with_mask: bool) -> str:
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    config = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 8, 4),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        # the "large-lv60" layout, trained with an attention mask; "base" has group norm and none
        feat_extract_norm="layer" if with_mask else "group", do_stable_layer_norm=with_mask,
    )
    torch.manual_seed(0)
    Wav2Vec2Model(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=RATE, return_attention_mask=with_mask).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _save_wav2vec2(tmp_path_factory.mktemp("tiny_wav2vec2"), with_mask=True)


def _clips() -> list[tuple[np.ndarray, int] | None]:
    t = np.arange(8_000) / 8_000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)  # 1 s at 8 kHz
    noise = np.random.default_rng(0).normal(0, 0.1, 4_000).astype(np.float32)  # 0.25 s at 16 kHz
    return [(tone, 8_000), (noise, RATE), None]


def test_registered() -> None:
    assert "hf_audio" in ENCODERS["audio"]


def test_wav2vec2_shapes_resampling_and_none(tiny_wav2vec2: str) -> None:
    encoder = build_encoder("audio", {"name": "hf_audio", "checkpoint": tiny_wav2vec2})
    inputs = encoder.prepare(_clips())
    assert set(inputs) == {"input_values", "attention_mask"}
    assert all(isinstance(value, torch.Tensor) for value in inputs.values())
    assert inputs["input_values"].shape == (3, RATE)  # 1 s at 8 kHz resampled to 16 kHz
    assert inputs["attention_mask"].sum(dim=1).tolist() == [RATE, 4_000, 1_600]  # None: 0.1 s
    out = encoder(inputs)
    assert encoder.output_dim == 32 and out.shape == (3, 32)
    assert torch.isfinite(out).all()


def test_max_seconds_crops(tiny_wav2vec2: str) -> None:
    encoder = build_encoder(
        "audio", {"name": "hf_audio", "checkpoint": tiny_wav2vec2, "max_seconds": 0.5}
    )
    inputs = encoder.prepare([(np.zeros(3 * RATE, dtype=np.float32), RATE)])
    assert inputs["input_values"].shape == (1, RATE // 2)


def test_padding_does_not_change_a_clip(tiny_wav2vec2: str) -> None:
    """With the mask given to the model and used for pooling, a clip's vector ignores padding."""
    encoder = build_encoder("audio", {"name": "hf_audio", "checkpoint": tiny_wav2vec2})
    short = (np.random.default_rng(1).normal(0, 0.1, 6_400).astype(np.float32), RATE)
    long = (np.random.default_rng(2).normal(0, 0.1, 2 * RATE).astype(np.float32), RATE)
    alone = encoder(encoder.prepare([short]))
    batched = encoder(encoder.prepare([short, long]))
    assert torch.allclose(alone[0], batched[0], atol=1e-4)


def test_model_without_mask_gets_none(tmp_path: Path) -> None:
    """wav2vec2-base-like checkpoints are not given an attention mask; pooling still uses it."""
    encoder = build_encoder(
        "audio", {"name": "hf_audio", "checkpoint": _save_wav2vec2(tmp_path, with_mask=False)}
    )
    assert not encoder.model_takes_mask
    assert encoder(encoder.prepare(_clips())).shape == (3, 32)


def test_frozen_and_layer_groups(tiny_wav2vec2: str) -> None:
    frozen = build_encoder("audio", {"name": "hf_audio", "checkpoint": tiny_wav2vec2})
    assert frozen.frozen and not any(p.requires_grad for p in frozen.parameters())
    groups = frozen.layer_groups()
    # feature extractor, positional conv and the encoder's norm (registered, though not run,
    # before the layers in this pre-norm layout), then layer 0, layer 1
    assert len(groups) == 3
    for index in (0, 1):
        layer = frozen.model.encoder.layers[index]
        assert {id(p) for p in groups[index + 1]} == {id(p) for p in layer.parameters()}
    flat = [id(p) for group in groups for p in group]
    assert len(flat) == len(set(flat)) == len(list(frozen.parameters()))

    trainable = build_encoder(
        "audio", {"name": "hf_audio", "checkpoint": tiny_wav2vec2, "frozen": False}
    )
    assert all(p.requires_grad for p in trainable.parameters())
    trainable(trainable.prepare(_clips())).sum().backward()


def test_whisper_uses_encoder_only(tmp_path: Path) -> None:
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    config = WhisperConfig(
        vocab_size=64, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
        max_target_positions=16, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        decoder_start_token_id=1,
    )
    WhisperModel(config).save_pretrained(tmp_path)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(tmp_path)
    encoder = build_encoder("audio", {"name": "hf_audio", "checkpoint": str(tmp_path)})
    assert type(encoder.model).__name__ == "WhisperEncoder"
    inputs = encoder.prepare(_clips())
    assert inputs["input_features"].shape == (3, 80, 3000)  # padded to 30 s
    out = encoder(inputs)
    assert encoder.output_dim == 32 and out.shape == (3, 32) and torch.isfinite(out).all()


def test_ast(tmp_path: Path) -> None:
    from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

    config = ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=64, max_length=64, num_mel_bins=32)
    ASTModel(config).save_pretrained(tmp_path)
    ASTFeatureExtractor(num_mel_bins=32, max_length=64).save_pretrained(tmp_path)
    encoder = build_encoder("audio", {"name": "hf_audio", "checkpoint": str(tmp_path)})
    out = encoder(encoder.prepare(_clips()))
    assert out.shape == (3, 32) and torch.isfinite(out).all()


def test_trust_remote_code_only_when_asked(
    tiny_wav2vec2: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    seen: list[object] = []
    for auto in (transformers.AutoModel, transformers.AutoFeatureExtractor):
        original = auto.from_pretrained

        def spy(*args, _original=original, **kwargs):
            seen.append(kwargs.get("trust_remote_code", "missing"))
            return _original(*args, **kwargs)

        monkeypatch.setattr(auto, "from_pretrained", spy)
    build_encoder("audio", {"name": "hf_audio", "checkpoint": tiny_wav2vec2})
    assert seen == [False, False]
    seen.clear()
    build_encoder("audio", {"name": "hf_audio", "checkpoint": tiny_wav2vec2,
                            "trust_remote_code": True})
    assert seen == [True, True]


def test_output_mask() -> None:
    mask = torch.tensor([[1] * 10 + [0] * 10, [1] * 20, [1] + [0] * 19])
    assert output_mask(mask, 4).tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]

    class Halving(torch.nn.Module):  # Whisper's formula: two spectrogram columns per frame
        def _get_feat_extract_output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
            return (lengths - 1) // 2 + 1

    assert output_mask(mask, 10, Halving()).sum(dim=1).tolist() == [5, 10, 1]
