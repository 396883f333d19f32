"""Issue 16 d): what fine-tuning the packaged photo encoder (EfficientNet-Lite0) costs on this CPU.

The fashion_mm studies name a fine-tuned photo encoder as the one member kind not tried. This script
times, on random 3-channel inputs (cost does not depend on the pixels or the weights' values):

- a frozen forward pass (``inference_mode``), photos per second;
- a full fine-tuning step (every layer, AdamW, fp32, batches of 32);
- a step that trains only the network's top (the blocks of stages ``--top-from`` and above, the head
  convolution and a 10-class layer) on cached inputs, plus the one-off cost of computing that cache
  (the lower stages' forward pass, once per photo);

at ``--sizes`` pixels, and projects the seconds of one epoch over 6,500 photos (``best``'s fit rows of
fashion_mm's 7,664 training photos).

Run: ``.venv/bin/python -m benchmarks.photo_encoder_cost [--sizes 224 160] [--top-from 5]``
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from benchmarks._machine import machine, save_json
from transmodal.encoders.image_efficientnet_lite0 import EfficientNetLite0

BATCH, STEPS, EPOCH_PHOTOS = 32, 3, 6500


def photos_per_second(work, steps: int = STEPS) -> float:
    """Photos per second of ``work`` (one batch), after one warm-up call."""
    work()
    start = time.perf_counter()
    for _ in range(steps):
        work()
    return steps * BATCH / (time.perf_counter() - start)


def lower(net: EfficientNetLite0, x: torch.Tensor, top_from: int) -> torch.Tensor:
    """The stem and the blocks of the stages below ``top_from``: (B, 3, H, W) -> (B, C, h, w)."""
    x = F.relu6(net._bn0(net._conv_stem(x)))
    for block, stage in zip(net._blocks, net.stage_of_block):
        if stage >= top_from:
            break
        x = block(x)
    return x


def upper(net: EfficientNetLite0, x: torch.Tensor, top_from: int) -> torch.Tensor:
    """The blocks of stages ``top_from`` and above and the head: (B, C, h, w) -> (B, 1280)."""
    for block, stage in zip(net._blocks, net.stage_of_block):
        if stage >= top_from:
            x = block(x)
    return F.relu6(net._bn1(net._conv_head(x))).mean(dim=(2, 3))


def measure(size: int, top_from: int) -> dict[str, float]:
    """Photos per second of the four paths at ``size`` pixels."""
    torch.manual_seed(0)
    net, head = EfficientNetLite0(), torch.nn.Linear(1280, 10)
    x, y = torch.randn(BATCH, 3, size, size), torch.randint(0, 10, (BATCH,))
    net.eval()
    with torch.inference_mode():
        frozen = photos_per_second(lambda: net.forward_features(x))
        cache = photos_per_second(lambda: lower(net, x, top_from))
        cached = lower(net, x, top_from)  # (B, C, h, w): what the top trains on
    cached = cached.clone()
    net.train()

    def train_step(params, forward):
        optimizer = torch.optim.AdamW(params, lr=1e-4)

        def step():
            loss = F.cross_entropy(head(forward()), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        return step

    full = photos_per_second(train_step([*net.parameters(), *head.parameters()], lambda: net.forward_features(x)))
    top_params = [p for b, s in zip(net._blocks, net.stage_of_block) if s >= top_from for p in b.parameters()]
    top_params += [*net._conv_head.parameters(), *net._bn1.parameters(), *head.parameters()]
    top = photos_per_second(train_step(top_params, lambda: upper(net, cached, top_from)))
    return {"size": size, "top_from_stage": top_from, "frozen_forward_photos_per_s": frozen,
            "full_train_photos_per_s": full, "full_epoch_s": EPOCH_PHOTOS / full,
            "cache_photos_per_s": cache, "cache_once_s": EPOCH_PHOTOS / cache,
            "top_train_photos_per_s": top, "top_epoch_s": EPOCH_PHOTOS / top,
            "cached_floats_per_photo": int(cached[0].numel())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 160])
    parser.add_argument("--top-from", type=int, default=5, help="first stage (0-6) trained on cached inputs")
    parser.add_argument("--out", default="issue-16-photo-encoder-cost")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        row = measure(size, args.top_from)
        rows.append(row)
        print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    save_json(args.out, {"machine": machine(), "threads": torch.get_num_threads(), "rows": rows})


if __name__ == "__main__":
    main()
