"""Issue 5, acceptance a): LiT on emoji, with the packaged MiniLM text tower locked.

Protocol: ``benchmarks.datasets.emoji`` (skin tones and Component dropped, 72x72 on white, text =
official name; "Travel & Places" and "Objects" held out of alignment training). Two image towers:
the built-in ``cnn`` (trained from scratch with augmentation) and the packaged pretrained
``efficientnet_lite0`` (frozen backbone, trained mlp projection). On the held-out emojis:

- image -> name retrieval, R@1/R@5 with the held-out names as gallery (and chance);
- zero-shot group classification of held-out images among all 9 group names, with the template
  "an emoji of {}" and with a template ensemble; against chance and against a supervised linear
  probe (logistic regression, 5-fold cross-validation on the held-out images) on the same image
  embeddings.

Run: ``.venv/bin/python -m benchmarks.cross_modal_emoji [--towers cnn efficientnet_lite0] [--seeds 0]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.datasets.emoji import build_emoji

TEMPLATE = "an emoji of {}"
ENSEMBLE = ("an emoji of {}", "{}", "an emoji from the group {}", "a {} emoji", "an icon of {}",
            "a picture of {}", "an emoji in the category {}")
TEXT = {"name": "hf_text", "checkpoint": "packaged:all-MiniLM-L6-v2", "frozen": True}
TOWERS = {
    "cnn": {"encoder": {"name": "cnn", "augment": True, "width": 16, "image_size": 48, "output_dim": 256},
            "hyperparameters": {"max_epochs": 15, "patience": 5, "batch_size": 64, "learning_rate": 2e-3}},
    "efficientnet_lite0": {"encoder": {"name": "efficientnet_lite0", "frozen": True},
                           "hyperparameters": {"max_epochs": 100, "patience": 15, "batch_size": 128,
                                               "learning_rate": 1e-3, "dropout": 0.3}},
}


def absolute(path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame["image"] = [str(path.parent / p) for p in frame["image"]]
    return frame


def linear_probe(features: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """5-fold cross-validated accuracy of a logistic regression on ``features``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    probe = LogisticRegression(max_iter=2000, C=1.0)
    return float(cross_val_score(probe, features, labels, cv=5).mean())


def run(tower: str, seed: int, tables: dict, groups: list[str]) -> dict:
    from transmodal.alignment.model import AlignmentModel

    train, heldout = absolute(tables["align_train"]), absolute(tables["heldout"])
    spec = TOWERS[tower]
    start = time.perf_counter()
    model = AlignmentModel(columns=("image", "name"), lock=("name",),
                           encoders={"image": spec["encoder"], "name": TEXT},
                           hyperparameters=spec["hyperparameters"]).fit(train, seed=seed)
    fit_seconds = time.perf_counter() - start
    from transmodal.alignment.retrieval import relevance
    from transmodal.alignment.zero_shot import class_embeddings, zero_shot_scores
    from transmodal.metrics.retrieval import chance_recall, retrieval_metrics

    images = model.encode(heldout, "image")  # (N, D), encoded once
    names = model.encode(heldout, "name")
    relevant = relevance(heldout, "name")
    retrieval = retrieval_metrics(images @ names.T, relevant)
    retrieval.update({f"chance_R@{k}": chance_recall(relevant, k) for k in (1, 5, 10)})
    truth = heldout["group"].to_numpy()
    result = {"tower": tower, "seed": seed, "fit_seconds": fit_seconds, "epochs": len(model.history_["epochs"]),
              "best_epoch": model.history_["best_epoch"], "temperature": 1 / model.logit_scale_,
              "retrieval": retrieval}
    held_groups = sorted(set(truth))
    for label, templates in (("single", [TEMPLATE]), ("ensemble", list(ENSEMBLE))):
        for scope, classes in (("all9", groups), ("heldout2", held_groups)):
            probabilities = zero_shot_scores(images, class_embeddings(model.tower("name"), classes, templates),
                                             model.logit_scale_)
            predicted = np.asarray(classes)[probabilities.argmax(axis=1)]
            result[f"zero_shot_{label}_{scope}"] = float((predicted == truth).mean())
    result["chance_all9"] = 1 / len(groups)
    result["chance_heldout2_majority"] = float(pd.Series(truth).value_counts(normalize=True).max())
    result["linear_probe_heldout2"] = linear_probe(images, truth, seed)
    print(json.dumps(result, indent=1), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--towers", nargs="+", default=list(TOWERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args(argv)
    tables = build_emoji()
    groups = json.loads((tables["align_train"].parent / "group_names.json").read_text())
    results = [run(tower, seed, tables, groups) for tower in args.towers for seed in args.seeds]
    save_json(f"issue-5-emoji-{'-'.join(args.towers)}", {"machine": machine(), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
