"""Clothing reviews (issue 4, acceptance e): LoRA and full fine-tuning of MiniLM vs the frozen probe.

Protocol: the split of ``benchmarks.datasets.clothing`` (6,000 train / 2,000 test), label
``Recommended IND`` (AUROC), features as in ``benchmarks.clothing_core`` (Title, Review Text, Age,
Positive Feedback Count, Division Name, Department Name; ``Rating`` is not a feature). Text columns
use the packaged all-MiniLM-L6-v2 (``hf_text``, ``max_length`` 128). Strategies (``transfer.inputs``
limits them to the ``Review Text`` encoder; the ``Title`` encoder stays frozen and cached):

- ``linear_probe``: both MiniLM encoders frozen (features cached), tabular MLP, fusion and head train;
- ``lora``: LoRA r=8 on every Linear layer of the Review Text MiniLM (``lora_both``: of both);
- ``finetune``: the Review Text MiniLM trains fully (layer-wise LR decay 0.75).

Reported per strategy: test AUROC / accuracy / macro-F1, trainable parameters, fit seconds, saved
model bytes (the LoRA folder holds the adapters only; the base is the packaged checkpoint).

Run: ``.venv/bin/python -m benchmarks.transfer_clothing [--strategies linear_probe lora finetune]
[--epochs 1] [--time-limit SECONDS] [--group-by-length] [--seed 0] [--out NAME]``; writes ``benchmarks/results/NAME.json``
(default ``transfer_clothing``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.datasets.clothing import build_clothing

LABEL = "Recommended IND"
FEATURES = ["Title", "Review Text", "Age", "Positive Feedback Count", "Division Name", "Department Name"]
WORK = Path(__file__).resolve().parent / "_work" / "transfer_clothing"
TEXT = {"name": "hf_text", "checkpoint": "packaged:all-MiniLM-L6-v2", "frozen": True, "max_length": 128}
BASE = {"hidden_dim": 256, "dropout": 0.2, "learning_rate": 1e-3, "encoder_learning_rate": 5e-5,
        "batch_size": 32, "progress_bar": False, "encoders": {"text": TEXT}}
STRATEGIES = {
    "linear_probe": {"max_epochs": 30, "patience": 6, "transfer": {"strategy": "linear_probe", "inputs": ["Title", "Review Text"]}},
    "lora": {"transfer": {"strategy": "lora", "r": 8, "inputs": ["Review Text"]}},
    "lora_both": {"transfer": {"strategy": "lora", "r": 8, "inputs": ["Title", "Review Text"]}},
    "finetune": {"transfer": {"strategy": "finetune", "inputs": ["Review Text"]}},
}


def folder_bytes(folder: Path) -> int:
    """Bytes of every file in a model folder."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def run(train, test, name: str, epochs: int, time_limit: float | None, extra: dict, seed: int = 0) -> dict:
    """Fit one strategy, evaluate, save, and measure."""
    from transmodal import MultimodalPredictor

    hp = {**BASE, "max_epochs": epochs, "patience": epochs, **STRATEGIES[name], **extra}
    start = time.perf_counter()
    predictor = MultimodalPredictor(label=LABEL, eval_metric="roc_auc").fit(
        train, hyperparameters=hp, seed=seed, time_limit=time_limit, column_types={"Age": "numeric"})
    seconds = time.perf_counter() - start
    metrics = predictor.evaluate(test)
    folder = predictor.save(WORK / name)
    net = predictor.net_
    full_bytes = sum(v.numel() * v.element_size() for v in net.state_dict().values())
    return {"roc_auc": metrics["roc_auc"], "accuracy": metrics["accuracy"], "f1_macro": metrics["f1_macro"],
            "trainable_parameters": sum(p.numel() for p in net.parameters() if p.requires_grad),
            "fit_seconds": seconds, "epochs_run": len(predictor.history_["epochs"]),
            "saved_bytes": folder_bytes(folder), "all_weights_bytes": full_bytes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--epochs", type=int, default=1, help="epochs of lora / finetune")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds of training per fit")
    parser.add_argument("--out", default="transfer_clothing", help="results file name (without .json)")
    parser.add_argument("--seed", type=int, default=0, help="fit seed (initialisation, data order)")
    parser.add_argument("--group-by-length", action="store_true",
                        help="batch reviews of similar length (less padding: faster fits)")
    args = parser.parse_args(argv)
    extra = {"group_by_length": True} if args.group_by_length else {}
    paths = build_clothing()
    train = pd.read_csv(paths["train"])[FEATURES + [LABEL]]
    test = pd.read_csv(paths["test"])[FEATURES + [LABEL]]
    results = {"machine": machine(), "seed": args.seed, "base": {**BASE, **extra}, "strategies": STRATEGIES, "runs": {}}
    for name in args.strategies:
        epochs = STRATEGIES[name].get("max_epochs", args.epochs)
        results["runs"][name] = result = run(train, test, name, epochs, args.time_limit, extra, args.seed)
        print(f"{name:<13} AUROC {result['roc_auc']:.4f} acc {result['accuracy']:.4f} F1 {result['f1_macro']:.4f} "
              f"trainable {result['trainable_parameters']:,} fit {result['fit_seconds']:.0f} s "
              f"saved {result['saved_bytes'] / 1e6:.1f} MB (all weights {result['all_weights_bytes'] / 1e6:.1f} MB)",
              flush=True)
        save_json(args.out, results)


if __name__ == "__main__":
    main()
