"""Digits transfer (issue 4, acceptance a-c): MNIST (source) -> USPS (target), built-in image CNN.

Protocol: ``benchmarks.datasets.digits_transfer`` (MNIST test 10,000 labelled 28x28 PNGs as the
source; USPS train 7,291 16x16 PNGs as unlabelled or few-shot target data, USPS test 2,007 PNGs for
evaluation); images are read from tables. The source predictor's image processor (28x28 grey)
resizes the images: here it is set to 16x16 grey (MNIST's 28x28 images are resized down; a
28x28 processor reading 16x16 USPS images works too, at three times the cost on a shared 2-core
machine). Few-shot subsets: ``few_shot(usps_train, k, seed=0)``
(``numpy.random.default_rng(0)``). Tuning data never holds target labels except in the few-shot
runs, where it is the automatic holdout of the labelled target rows.

Two source recipes (``--variants``): ``plain`` (no augmentation: the usual source-only baseline of
the domain-adaptation literature) and ``augmented`` (the CNN's random shifts, rotations and zooms).

- a) source-only: fit on MNIST, evaluate on USPS test (per variant and seed);
- b) ``dann``, ``coral``, ``mmd``: start from that variant's and seed's source model and keep
  training on MNIST with the USPS train images unlabelled (``unlabeled_data=``, ``transfer.adapt``),
  with target entropy minimisation (``transfer.entropy_weight`` 0.3) in every method;
- c) 10 shots per class, per variant and seed: from scratch vs ``finetune`` from the seed's MNIST
  model of that recipe, ``finetune`` from that model first adapted (``transfer.adapt``) to the
  other USPS train images as unlabelled data, and a semi-supervised fit (``finetune`` on the 100
  images jointly with MNIST, ``source_data=``, aligned to the other USPS train images,
  ``unlabeled_data=``); the few-shot runs hold no rows out and keep their last epoch.

Run: ``.venv/bin/python -m benchmarks.transfer_digits [--variants plain augmented] [--seeds 0 1 2]
[--parts a b c]``; writes ``benchmarks/results/transfer_digits.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import machine, save_json
from benchmarks.datasets.digits_transfer import build_digits_transfer, few_shot
from benchmarks.datasets.tables import read_csv_with_absolute_paths

WORK = Path(__file__).resolve().parent / "_work" / "transfer_digits"
SOURCE = {
    "max_epochs": 5, "patience": 3, "batch_size": 64, "learning_rate": 2e-3, "hidden_dim": 128,
    "dropout": 0.2, "progress_bar": False,
    "encoders": {"image": {"name": "cnn", "image_size": 16, "width": 16, "output_dim": 128, "augment": True}},
}
VARIANTS = {"plain": False, "augmented": True}  # source recipe -> image augmentation
ADAPT = {**SOURCE, "max_epochs": 3, "patience": 3, "learning_rate": 1e-3}
ENTROPY_WEIGHT = 0.3  # target entropy minimisation added to every adaptation method
JOINT_LAMBDA = 1.0  # weight of the 100 labelled USPS images' loss beside MNIST's in the joint fit
FEW_SHOT = {**SOURCE, "max_epochs": 40, "patience": 10, "batch_size": 16, "learning_rate": 1e-3}


def fit(train, seed: int, hyperparameters: dict, eval_metric: str | None = None, **options):
    """Fit a predictor and return it with its wall-clock fit time."""
    from transmodal import MultimodalPredictor

    start = time.perf_counter()
    predictor = MultimodalPredictor(label="digit", eval_metric=eval_metric).fit(
        train, hyperparameters=hyperparameters, seed=seed, **options)
    return predictor, time.perf_counter() - start


def image_encoder(variant: str) -> dict:
    """The ``encoders`` hyperparameter of a source recipe."""
    return {"image": {**SOURCE["encoders"]["image"], "augment": VARIANTS[variant]}}


def source_folder(variant: str, seed: int) -> Path:
    return WORK / f"source_{variant}_seed{seed}"


def source_only(data: dict, seed: int, variant: str) -> dict:
    """a) Train on MNIST, save, evaluate on USPS test."""
    predictor, seconds = fit(data["mnist"], seed, {**SOURCE, "encoders": image_encoder(variant)})
    folder = predictor.save(source_folder(variant, seed))
    return {"accuracy": predictor.evaluate(data["usps_test"])["accuracy"], "fit_seconds": seconds, "folder": str(folder)}


def adapt(data: dict, seed: int, method: str, variant: str) -> dict:
    """b) From the seed's source model, keep training on MNIST with USPS train unlabelled."""
    hp = {**ADAPT, "encoders": image_encoder(variant), "transfer": {"adapt": method, "entropy_weight": ENTROPY_WEIGHT}}
    predictor, seconds = fit(data["mnist"], seed, hp, init_from=str(source_folder(variant, seed)),
                             unlabeled_data=data["usps_train"].drop(columns=["digit"]))
    return {"accuracy": predictor.evaluate(data["usps_test"])["accuracy"], "fit_seconds": seconds}


def few_shot_runs(data: dict, adapt_method: str, seed: int, variant: str, shots: int = 10) -> dict:
    """c) 10 labelled USPS images per class (the subset of ``default_rng(0)``), from the ``seed``
    source of recipe ``variant`` (every fit here uses that recipe's augmentation setting): scratch,
    finetune, finetune after adapting the source to the other (unlabelled) USPS train images, and
    one semi-supervised fit.

    The semi-supervised fit fine-tunes the source on the 100 labelled images jointly with the
    labelled MNIST rows (``source_data=``: ``L_source + lambda * L_target``) while aligning both to
    the other USPS train images given unlabelled (``unlabeled_data=``, ``adapt_method`` + entropy).

    No labelled rows are held out (``holdout_fraction=0``): every fit trains its epoch budget and
    keeps the last epoch. (A 15-row holdout cannot pick an epoch: its accuracy is 100% from the
    first epoch.)
    """
    labelled, rest = few_shot(data["usps_train"], shots, seed=0)
    unlabelled = rest.drop(columns=["digit"])
    source, encoders = str(source_folder(variant, seed)), image_encoder(variant)
    adaptation = {"adapt": adapt_method, "entropy_weight": ENTROPY_WEIGHT}
    adapt_hp = {**ADAPT, "encoders": encoders, "transfer": adaptation}
    adapted, adapt_seconds = fit(data["mnist"], seed, adapt_hp, init_from=source, unlabeled_data=unlabelled)
    adapted_folder = adapted.save(WORK / f"adapted_{variant}_{adapt_method}_rest_seed{seed}")
    scratch = {**FEW_SHOT, "encoders": encoders, "holdout_fraction": 0.0}
    finetune = {**scratch, "transfer": {"strategy": "finetune"}}
    joint = {**ADAPT, "encoders": encoders, "holdout_fraction": 0.0,
             "transfer": {"strategy": "finetune", "lambda": JOINT_LAMBDA, **adaptation}}
    runs = {
        "scratch": fit(labelled, seed, scratch),
        "finetune": fit(labelled, seed, finetune, init_from=source),
        f"{adapt_method}+entropy on the unlabelled rest, then finetune":
            fit(labelled, seed, finetune, init_from=str(adapted_folder)),
        f"finetune jointly with MNIST, {adapt_method}+entropy on the unlabelled rest":
            fit(labelled, seed, joint, init_from=source, source_data=data["mnist"], source_label="digit",
                unlabeled_data=unlabelled),
    }
    out = {name: {"accuracy": p.evaluate(data["usps_test"])["accuracy"], "fit_seconds": s} for name, (p, s) in runs.items()}
    out["adapted on the unlabelled rest, before finetuning"] = {
        "accuracy": adapted.evaluate(data["usps_test"])["accuracy"], "fit_seconds": adapt_seconds}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parts", nargs="+", default=["a", "b", "c"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--methods", nargs="+", default=["dann", "coral", "mmd"])
    parser.add_argument("--out", default="transfer_digits", help="results file name (without .json)")
    args = parser.parse_args(argv)
    paths = build_digits_transfer()
    data = {name: read_csv_with_absolute_paths(path) for name, path in paths.items()}
    results = {"machine": machine(), "source": SOURCE, "variants": VARIANTS, "adapt": ADAPT,
               "entropy_weight": ENTROPY_WEIGHT, "few_shot": FEW_SHOT, "joint_lambda": JOINT_LAMBDA,
               "a": {}, "b": {}, "c": {}}
    for variant in args.variants:
        if "a" in args.parts:
            runs = {seed: source_only(data, seed, variant) for seed in args.seeds}
            mean = float(np.mean([r["accuracy"] for r in runs.values()]))
            results["a"][variant] = {"runs": runs, "mean_accuracy": mean}
            print(f"a) source-only ({variant}): USPS test accuracy mean {mean:.4f} per seed "
                  f"{[round(r['accuracy'], 4) for r in runs.values()]}", flush=True)
            save_json(args.out, results)
        if "b" in args.parts:
            results["b"][variant] = {}
            for method in args.methods:
                runs = {seed: adapt(data, seed, method, variant) for seed in args.seeds}
                mean = float(np.mean([r["accuracy"] for r in runs.values()]))
                results["b"][variant][method] = {"runs": runs, "mean_accuracy": mean}
                print(f"b) {method}+entropy from the {variant} source: USPS test accuracy mean {mean:.4f} per seed "
                      f"{[round(r['accuracy'], 4) for r in runs.values()]}", flush=True)
                save_json(args.out, results)
    if "c" in args.parts:
        for variant in args.variants:
            done = results["b"].get(variant, {})
            best = max(done, key=lambda m: done[m]["mean_accuracy"]) if done else "dann"
            results["c"][variant] = few_shot_seeds(data, best, args.seeds, variant, args.out, results)


def few_shot_seeds(data: dict, adapt_method: str, seeds: list[int], variant: str, out: str, results: dict) -> dict:
    """c) for each seed, with the means over seeds; saves ``results`` after each seed."""
    runs = results["c"][variant] = {}
    for seed in seeds:
        runs[seed] = few_shot_runs(data, adapt_method, seed, variant)
        for name, run in runs[seed].items():
            print(f"c) {variant} seed {seed} 10-shot {name}: USPS test accuracy {run['accuracy']:.4f} "
                  f"({run['fit_seconds']:.0f} s)", flush=True)
        save_json(out, results)
    runs["mean_accuracy"] = {n: float(np.mean([runs[s][n]["accuracy"] for s in seeds])) for n in runs[seeds[0]]}
    print(f"c) {variant} means over seeds {seeds}: {runs['mean_accuracy']}", flush=True)
    save_json(out, results)
    return runs

if __name__ == "__main__":
    main()
