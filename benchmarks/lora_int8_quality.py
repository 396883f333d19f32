"""Issue 15 c): the quality cost of predicting a LoRA predictor through int8 copies of its merged
encoders, with and without recalibrating the head on int8 features.

Parts (``python -m benchmarks.lora_int8_quality PART``; work folder ``LORA_INT8_WORK``, default
``benchmarks/_work/lora_int8``):

- ``fit``: the transfer benchmark's LoRA predictor (``benchmarks.transfer_clothing`` ``lora_both``:
  LoRA r=8 in the Title and Review Text MiniLMs, hidden 256, dropout 0.2, lr 1e-3, encoder lr 5e-5,
  batch 32, length-grouped batches) on the 6,000 clothing training rows, with an explicit tuning
  split (a stratified 15% of them, seed 0) so that recalibration later sees the same rows; encoders
  predict in fp32 (``transfer.inference_quantize=None``). Saved to ``WORK/lora_fp32``.
- ``compare``: the saved model's tuning and test AUROC with its merged encoders in fp32, in int8
  with the head as trained, and in int8 after :func:`transmodal.transfer.int8_calibration
  .calibrate_heads` refitted fusion and head on int8 features of the training rows (epoch chosen on the
  tuning rows). The recalibrated model is saved to ``WORK/lora_int8_calibrated``. Control: the same
  refit on the fp32 features of the merged encoders (what the extra head epochs give by themselves).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.datasets.clothing import build_clothing
from benchmarks.transfer_clothing import BASE, FEATURES, LABEL, STRATEGIES

CALIBRATE_EPOCHS = 3  # the library's default (transfer.calibrate_epochs)
WORK = Path(os.environ.get("LORA_INT8_WORK", Path(__file__).resolve().parent / "_work" / "lora_int8"))


def tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train part, tuning part, test) of the clothing split; the tuning part is a stratified 15%."""
    from sklearn.model_selection import train_test_split

    paths = build_clothing()
    train = pd.read_csv(paths["train"])[FEATURES + [LABEL]]
    test = pd.read_csv(paths["test"])[FEATURES + [LABEL]]
    fit_part, tune_part = train_test_split(train, test_size=0.15, random_state=0, stratify=train[LABEL])
    return fit_part.reset_index(drop=True), tune_part.reset_index(drop=True), test


def part_fit(epochs: int) -> dict:
    from transmodal import MultimodalPredictor

    fit_part, tune_part, test = tables()
    hp = {**BASE, "max_epochs": epochs, "patience": epochs, **STRATEGIES["lora_both"], "group_by_length": True}
    hp["transfer"] = {**hp["transfer"], "inference_quantize": None}
    start = time.perf_counter()
    predictor = MultimodalPredictor(label=LABEL, eval_metric="roc_auc").fit(
        fit_part, tuning_data=tune_part, hyperparameters=hp, seed=0, column_types={"Age": "numeric"})
    seconds = time.perf_counter() - start
    predictor.save(WORK / "lora_fp32")
    return {"hyperparameters": hp, "fit_seconds": seconds, "rows": {"fit": len(fit_part), "tune": len(tune_part)},
            "test_roc_auc_fp32": predictor.evaluate(test)["roc_auc"]}


def auroc(predictor, table: pd.DataFrame) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(table[LABEL], predictor.predict_proba(table[FEATURES]).to_numpy()[:, 1]))


def set_int8(predictor, on: bool) -> None:
    for name in predictor.spec_.adapters:
        predictor.net_.encoder(name).merged_quantize = "int8" if on else None


def calibrated(predictor, fit_part, tune_part, test, int8: bool) -> dict:
    """Fusion and heads refitted on the merged encoders' int8 (or fp32) features; AUROCs after."""
    from transmodal.transfer.int8_calibration import calibrate_heads

    for adapter in predictor.spec_.adapters.values():  # as a fit with inference_quantize="int8" records it
        adapter["inference_quantize"] = "int8" if int8 else None
    start = time.perf_counter()
    record, _ = calibrate_heads(predictor.net_, predictor.config_, predictor.dataset(fit_part, with_targets=True),
                                predictor.dataset(tune_part, with_targets=True), predictor.spec_.eval_metric,
                                predictor.spec_.adapters, epochs=CALIBRATE_EPOCHS, seed=0)
    return {"calibration_seconds": time.perf_counter() - start, "record": record,
            "tune_roc_auc": auroc(predictor, tune_part), "test_roc_auc": auroc(predictor, test)}


def part_compare() -> dict:
    from transmodal import MultimodalPredictor

    fit_part, tune_part, test = tables()
    predictor = MultimodalPredictor.load(WORK / "lora_fp32")
    out = {}
    for name, on in (("fp32", False), ("int8_head_as_trained", True)):
        set_int8(predictor, on)
        out[name] = {"tune_roc_auc": auroc(predictor, tune_part), "test_roc_auc": auroc(predictor, test)}
        print(name, out[name], flush=True)
    out["int8_calibrated"] = calibrated(predictor, fit_part, tune_part, test, int8=True)
    print("int8_calibrated", out["int8_calibrated"], flush=True)
    predictor.save(WORK / "lora_int8_calibrated")
    # control: the same extra head epochs on fp32 features (what the extra training alone gives)
    out["fp32_calibrated"] = calibrated(MultimodalPredictor.load(WORK / "lora_fp32"), fit_part, tune_part, test,
                                        int8=False)
    print("fp32_calibrated", out["fp32_calibrated"], flush=True)
    for name in ("int8_head_as_trained", "int8_calibrated", "fp32_calibrated"):
        out[name]["test_minus_fp32"] = out[name]["test_roc_auc"] - out["fp32"]["test_roc_auc"]
    out["int8_calibrated"]["test_minus_fp32_calibrated"] = (out["int8_calibrated"]["test_roc_auc"]
                                                            - out["fp32_calibrated"]["test_roc_auc"])
    return out


def main() -> None:
    part = sys.argv[1] if len(sys.argv) > 1 else "compare"
    WORK.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine(), "part": part, "work": str(WORK)}
    if part == "fit":
        results["fit"] = part_fit(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    elif part == "compare":
        results["compare"] = part_compare()
    else:
        raise SystemExit(f"unknown part {part!r}: fit or compare")
    print(results)
    print("saved", save_json(f"issue-15-lora-int8-{part}", results))


if __name__ == "__main__":
    main()
