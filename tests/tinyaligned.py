"""Tiny randomly initialised CLIP, SigLIP and CLAP checkpoints saved with ``save_pretrained``, with
processors built locally (a word-level tokenizer over a small vocabulary), so that pretrained
aligned models run offline in tests (imported as ``from tinyaligned import ...``)."""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = "a an the photo of emoji sound cat dog bird car tree red blue this is".split()
# class names, prompt templates and captions within that vocabulary
CLASSES = ["cat", "dog", "bird"]
TEMPLATES = ["a photo of {}", "this is a {}", "an emoji of the {}"]
CAPTIONS = ["a red cat", "the blue dog", "a bird", "a red car", "the tree", "a blue bird"]


def _word_tokenizer(bos: str = "<s>", eos: str = "</s>", pad: str = "<pad>", unk: str = "<unk>"):
    """A lower-casing word-level fast tokenizer that adds bos/eos; returns (tokenizer, size, vocab)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, normalizers
    from transformers import PreTrainedTokenizerFast
    vocab = {t: i for i, t in enumerate([pad, unk, bos, eos, *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A {eos}", special_tokens=[(bos, vocab[bos]), (eos, vocab[eos])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad, unk_token=unk, model_max_length=16)
    return fast, len(vocab), vocab

def save_tiny_clip(folder: Path) -> str:
    """A 2-layer CLIP (32x32 images, projection 24) with its CLIPProcessor."""
    from transformers import CLIPConfig, CLIPModel, CLIPImageProcessor, CLIPProcessor
    folder.mkdir(parents=True, exist_ok=True)
    tok, n, vocab = _word_tokenizer()
    config = CLIPConfig(text_config=dict(vocab_size=n, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                         max_position_embeddings=16, bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"], pad_token_id=0),
                        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2),
                        projection_dim=24)
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}), tokenizer=tok).save_pretrained(folder)
    return str(folder)

def save_tiny_siglip(folder: Path) -> str:
    """A 2-layer SigLIP (32x32 images, width 32) with its SiglipProcessor."""
    from transformers import SiglipConfig, SiglipModel, SiglipImageProcessor, SiglipProcessor
    folder.mkdir(parents=True, exist_ok=True)
    tok, n, vocab = _word_tokenizer()
    config = SiglipConfig(text_config=dict(vocab_size=n, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                           max_position_embeddings=16, projection_size=32, bos_token_id=2, eos_token_id=3, pad_token_id=0),
                          vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2))
    torch.manual_seed(0)
    SiglipModel(config).save_pretrained(folder)
    SiglipProcessor(image_processor=SiglipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tok).save_pretrained(folder)
    return str(folder)

def save_tiny_clap(folder: Path) -> str:
    """A tiny CLAP (HTSAT audio tower on 64 mel bins of 1 s at 16 kHz, projection 24) with its ClapProcessor."""
    from transformers import ClapConfig, ClapModel, ClapFeatureExtractor, ClapProcessor
    folder.mkdir(parents=True, exist_ok=True)
    tok, n, vocab = _word_tokenizer()
    config = ClapConfig(text_config=dict(vocab_size=n, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                         max_position_embeddings=40, pad_token_id=0, bos_token_id=2, eos_token_id=3),
                        audio_config=dict(spec_size=64, num_mel_bins=64, window_size=4, patch_size=4, patch_stride=(4, 4), depths=[1, 1],
                                          num_attention_heads=[2, 2], patch_embeds_hidden_size=16, hidden_size=32, enable_fusion=False),
                        projection_dim=24)
    torch.manual_seed(0)
    ClapModel(config).save_pretrained(folder)
    ClapProcessor(feature_extractor=ClapFeatureExtractor(feature_size=64, sampling_rate=16000, hop_length=320, fft_window_size=640, max_length_s=1,
                                                         padding="repeatpad", truncation="rand_trunc"), tokenizer=tok).save_pretrained(folder)
    return str(folder)
