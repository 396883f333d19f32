"""Issue 16 d): a photo member that fine-tunes EfficientNet-Lite0's top stages, out-of-fold on training rows.

The fashion_mm studies (``benchmarks/fashion_mm_stacking_cv.py``) put the honest ceiling of
``best``'s member kinds at +0.5-0.6 points over the best member (+1 asked) and name a fine-tuned
photo encoder as the one member kind not tried. A full fine-tuning epoch costs ~800 s here
(``benchmarks/photo_encoder_cost.py``); training only the top stages on cached lower-stage outputs
costs ~85 s. This script makes that member's 5-fold out-of-fold (OOF) class probabilities over the
training rows, with the folds of ``fashion_mm_stacking_cv`` (same rows, same order, same seed), and
saves them as ``<work>/<label>-photo_top.npy``, so its ``ensembles`` phase can combine them with the
other members' (``--members linear,lightgbm,photo_top``). The test split is never read.

The member: the packaged ImageNet EfficientNet-Lite0; stages 0 to ``--top-from`` - 1 run once per
photo (eval mode, 224 px, inputs as the library prepares them) and their outputs are kept in memory
(float16); stages ``--top-from`` and up, the head convolution and a new linear classifier train on
them (AdamW, lr ``--lr`` for the pretrained part and 10x for the classifier, ``--epochs``, batches of
32, batch norm in training mode), and the last epoch's model predicts the held-out fold.

Run: ``python -m benchmarks.fashion_mm_photo_top_cv --label season --work DIR [--epochs 3]``
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from benchmarks._machine import machine, save_json
from benchmarks.datasets._common import data_file
from benchmarks.fashion_mm_stacking_cv import FOLDS, SEED, load
from benchmarks.photo_encoder_cost import lower
from transmodal.encoders.base import build_encoder


def lower_outputs(encoder, paths: list[Path], top_from: int) -> torch.Tensor:
    """``(N, C, h, w)`` float16: the stem and the stages below ``top_from`` of every photo."""
    out = []
    with torch.inference_mode():
        for start in range(0, len(paths), 4):
            pixels = encoder.prepare([Image.open(p) for p in paths[start:start + 4]])["pixel_values"]
            x = lower(encoder.net, pixels.contiguous(memory_format=torch.channels_last), top_from)
            out.append(x.to(torch.float16).contiguous())
    return torch.cat(out)


class Top(torch.nn.Module):
    """The stages from ``top_from`` up, the head convolution, average pooling and a classifier."""

    def __init__(self, net, top_from: int, classes: int) -> None:
        super().__init__()
        self.blocks = torch.nn.ModuleList(copy.deepcopy(b) for b, s in zip(net._blocks, net.stage_of_block)
                                          if s >= top_from)
        self.head, self.norm = copy.deepcopy(net._conv_head), copy.deepcopy(net._bn1)
        self.classifier = torch.nn.Linear(net._conv_head.out_channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, h, w) -> (B, classes)
        for block in self.blocks:
            x = block(x)
        return self.classifier(F.relu6(self.norm(self.head(x))).mean(dim=(2, 3)))


def fit_predict(net, cached: torch.Tensor, y: np.ndarray, fit: np.ndarray, held: np.ndarray, classes: int,
                args) -> np.ndarray:
    """Train a :class:`Top` on the ``fit`` rows; class probabilities (len(held), classes) of ``held``."""
    torch.manual_seed(SEED)
    top = Top(net, args.top_from, classes)
    pretrained = [p for n, p in top.named_parameters() if not n.startswith("classifier")]
    optimizer = torch.optim.AdamW([{"params": pretrained, "lr": args.lr},
                                   {"params": top.classifier.parameters(), "lr": 10 * args.lr}], weight_decay=0.01)
    labels = torch.as_tensor(y)
    rng = np.random.default_rng(SEED)
    for epoch in range(args.epochs):
        top.train()
        start, order = time.monotonic(), rng.permutation(fit)
        for i in range(0, len(order), 32):
            rows = torch.as_tensor(order[i:i + 32])
            loss = F.cross_entropy(top(cached[rows].float()), labels[rows])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        print(f"  epoch {epoch + 1}: last loss {loss.item():.3f} ({time.monotonic() - start:.0f} s)", flush=True)
    top.eval()
    with torch.inference_mode():
        return torch.cat([top(cached[torch.as_tensor(held[i:i + 64])].float()).softmax(-1)
                          for i in range(0, len(held), 64)]).numpy()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, choices=["season", "usage"])
    parser.add_argument("--work", required=True, help="the stacking CV's folder of OOF predictions")
    parser.add_argument("--top-from", type=int, default=5, help="first stage (0-6) that trains")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--folds", type=int, default=FOLDS, help="how many of the 5 folds to run (a partial look)")
    args = parser.parse_args(argv)
    from sklearn.model_selection import StratifiedKFold

    table = load(args.label, None)
    folder = data_file("fashion_mm/train.csv").parent
    encoder = build_encoder("image", {"name": "efficientnet_lite0", "frozen": True})
    start = time.monotonic()
    cached = lower_outputs(encoder, [folder / p for p in table["frame"]["image"]], args.top_from)
    cache_seconds = time.monotonic() - start
    print(f"cached {tuple(cached.shape)} in {cache_seconds:.0f} s", flush=True)
    y, classes = table["y"], len(table["classes"])
    oof, done, accuracies = np.zeros((len(y), classes)), np.zeros(len(y), dtype=bool), []
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(np.zeros(len(y)), y)
    for k, (fit, held) in enumerate(folds):
        if k >= args.folds:
            break
        fold_start = time.monotonic()
        oof[held] = fit_predict(encoder.net, cached, y, fit, held, classes, args)
        done[held] = True
        accuracies.append(float((oof[held].argmax(1) == y[held]).mean()))
        print(f"fold {k}: accuracy {accuracies[-1]:.4f} ({time.monotonic() - fold_start:.0f} s)", flush=True)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if done.all():
        np.save(work / f"{args.label}-photo_top.npy", oof)
    save_json(f"issue-16-fashion-mm-{args.label}-photo-top-cv", {
        "machine": machine(), "label": args.label, "rows": len(y), "top_from": args.top_from, "epochs": args.epochs,
        "lr": args.lr, "cache_seconds": cache_seconds, "fold_accuracy": accuracies,
        "oof_accuracy": float((oof[done].argmax(1) == y[done]).mean())})


if __name__ == "__main__":
    main()
