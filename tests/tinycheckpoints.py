"""Tiny randomly initialised transformers checkpoints saved to disk, so that hub-loading encoders
(``hf_text``, ``hf_image``, ``hf_audio``) run offline in tests (imported as ``from tinycheckpoints
import ...``)."""

from __future__ import annotations

from pathlib import Path

import torch

BERT_WORDS = "the a cat dog sat on mat calm quiet loud bright dark deep item number".split()


def save_tiny_bert(folder: Path, layers: int = 2) -> str:
    """A randomly initialised BERT (``layers`` layers, hidden 32) and its WordPiece tokenizer."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *BERT_WORDS]) + "\n")
    BertTokenizer(str(vocab)).save_pretrained(folder)
    config = BertConfig(vocab_size=5 + len(BERT_WORDS), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return str(folder)


def save_tiny_vit(folder: Path) -> str:
    """A randomly initialised 2-layer ViT (32x32 images, hidden 32) and its image processor."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64)).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return str(folder)


def save_tiny_wav2vec2(folder: Path) -> str:
    """A randomly initialised 2-layer wav2vec2 (hidden 32) and its feature extractor."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    folder.mkdir(parents=True, exist_ok=True)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 8, 4),
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            feat_extract_norm="layer", do_stable_layer_norm=True)
    torch.manual_seed(0)
    Wav2Vec2Model(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16_000, return_attention_mask=True).save_pretrained(folder)
    return str(folder)
