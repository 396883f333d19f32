"""Issue 7 benchmarks: bounded-memory prediction, export fidelity, the rendered report, 1 vs 2 DDP
processes, all on AV-digits (``benchmarks.datasets.av_digits``, degraded variant).

Parts (``--parts``):

- ``export``: fit image+audio CNNs (concat fusion), export ONNX and TorchScript, compare with PyTorch
  on all 2,000 test rows (max |difference| of the class probabilities).
- ``memory``: a 100,000-row Parquet table (the 2,000 test rows repeated, paths absolute) predicted by
  ``transmodal predict`` under ``/usr/bin/time -v``; peak resident memory recorded.
- ``report``: ``report.html`` of the fitted model rendered to PNG by headless Chromium.
- ``ddp``: the same fit with 1 process and with 2 processes (``strategy=ddp``, gloo on CPU; 64 rows per
  process per step, so the global batch stays 128); test
  accuracy of each.

Run: ``nice -n 5 .venv/bin/python -m benchmarks.issue7_scale --parts export memory report ddp``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from benchmarks._machine import RESULTS_DIR, machine
from benchmarks.av_digits_core import HYPERPARAMETERS
from benchmarks.datasets.av_digits import build_av_digits
from benchmarks.datasets.tables import read_csv_with_absolute_paths

WORK = Path(__file__).resolve().parent / "_work" / "issue7"
HP = dict(HYPERPARAMETERS)  # the AV-digits protocol's settings (benchmarks/av_digits_core.py)


def tables() -> dict[str, Path]:
    """AV-digits CSVs with absolute paths (so that copies of the table work from anywhere)."""
    paths = build_av_digits()
    if isinstance(paths, dict) and "train" not in paths:
        paths = paths.get("degraded", next(iter(paths.values())))
    out = {}
    WORK.mkdir(parents=True, exist_ok=True)
    for split in ("train", "tuning", "test"):
        source = Path(paths[split])
        out[split] = WORK / f"{split}.csv"
        read_csv_with_absolute_paths(source, ["image", "audio", "digit"]).to_csv(out[split], index=False)
    return out


def fit_model(data: dict[str, Path], folder: Path, extra: dict | None = None) -> dict:
    from transmodal import MultimodalPredictor

    start = time.perf_counter()
    predictor = MultimodalPredictor(label="digit").fit(str(data["train"]), tuning_data=str(data["tuning"]),
                                                       hyperparameters={**HP, **(extra or {})}, seed=0)
    seconds = time.perf_counter() - start
    if predictor.history_["global_rank"] == 0:
        predictor.save(folder)
    return {"fit_seconds": seconds, "accuracy": predictor.evaluate(str(data["test"]))["accuracy"],
            "rank": predictor.history_["global_rank"], "epochs": len(predictor.history_["epochs"])}


def part_export(data, folder) -> dict:
    from transmodal import MultimodalPredictor
    from transmodal.export.run import export_model

    predictor = MultimodalPredictor.load(folder)
    result = {}
    for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):  # every test row, batches of 64 and 16
        summary = export_model(predictor, str(data["test"]), WORK / f"model{suffix}", fmt,
                               check_batches=10**6, batch_size=64)
        result[fmt] = {"max_abs_diff": summary["max_abs_diff"], "rows_checked": summary["rows_checked"]}
    return result


def part_memory(data, folder, rows: int = 100_000) -> dict:
    test = pd.read_csv(data["test"])
    big = pd.concat([test] * (rows // len(test) + 1)).head(rows).drop(columns=["digit"]).reset_index(drop=True)
    path = WORK / "big.parquet"
    big.to_parquet(path, row_group_size=8192)
    command = ["/usr/bin/time", "-v", str(Path(sys.executable).parent / "transmodal"), "predict", str(folder),
               str(path), "--out", str(WORK / "big_predictions.csv")]
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seconds = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)
    predicted = len(pd.read_csv(WORK / "big_predictions.csv")) if run.returncode == 0 else 0
    return {"rows": rows, "returncode": run.returncode, "peak_rss_mib": int(peak.group(1)) / 1024 if peak else None,
            "seconds": seconds, "rows_predicted": predicted, "command": " ".join(command)}


def part_report(folder) -> dict:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return {"skipped": "chromium is not installed (apt-get install -y chromium)"}
    png = RESULTS_DIR / "issue-7-report.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,3000",
               f"--screenshot={png}", f"file://{Path(folder).resolve() / 'report.html'}"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return {"returncode": run.returncode, "png": str(png), "png_bytes": png.stat().st_size if png.exists() else 0}


def part_ddp(data) -> dict:
    """The fit with 1 and with 2 processes, each in a fresh ``python -m`` process (Lightning's DDP
    launcher re-runs the command line for rank 1, so it must be a module, not ``-c``)."""
    result = {}
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT", "RANK")}
    for devices in (1, 2):
        run = subprocess.run([sys.executable, "-m", "benchmarks.issue7_scale", "--ddp-child", str(devices)],
                             capture_output=True, text=True, env=env)
        lines = [json.loads(line[7:]) for line in run.stdout.splitlines() if line.startswith("RESULT ")]
        result[f"{devices}_process"] = {"returncode": run.returncode, "ranks": lines,
                                        "stderr_tail": run.stderr[-500:] if run.returncode else ""}
    return result


def ddp_child(devices: int) -> None:
    """One fit with ``devices`` processes; every rank prints its result."""
    extra = {"devices": devices, "strategy": "ddp" if devices > 1 else "auto",
             "batch_size": HP["batch_size"] // devices}
    print("RESULT", json.dumps(fit_model(tables(), WORK / f"ddp_{devices}", extra)), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", nargs="+", default=["export", "memory", "report", "ddp"])
    parser.add_argument("--ddp-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ddp_child:
        ddp_child(args.ddp_child)
        return
    data = tables()
    folder = WORK / "model"
    results = {"machine": machine()}
    if set(args.parts) & {"export", "memory", "report"}:
        results["fit"] = fit_model(data, folder)
        print("fit", results["fit"], flush=True)
    for part in args.parts:
        if part == "export":
            results["export"] = part_export(data, folder)
        elif part == "memory":
            results["memory"] = part_memory(data, folder)
        elif part == "report":
            results["report"] = part_report(folder)
        elif part == "ddp":
            results["ddp"] = part_ddp(data)
        print(part, json.dumps(results.get(part), default=str), flush=True)
    out = RESULTS_DIR / f"issue-7-{'-'.join(args.parts)}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print("wrote", out)


if __name__ == "__main__":
    main()
