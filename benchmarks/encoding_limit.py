"""Encoding at the machine's limit (issue 15): side-by-side numbers from one run per part.

Parts (``python -m benchmarks.encoding_limit PART``):

- ``encode`` (a): packaged all-MiniLM-L6-v2 over the 6,000 training Review Texts of the clothing
  split (issue-2 protocol): today's path (random-order batches of 64 padded to their longest text,
  fp32), the new default (token-length-sorted batches), and the new path with int8; texts/s, the
  encoder's FLOPs per text, the machine's fp32 matmul GFLOP/s and each path's share of it; the
  frozen-probe ``Recommended IND`` AUROC (logistic regression on the mean-pooled review embedding,
  test = the 2,000 test reviews) for fp32 and int8.
- ``refit`` (b): ``transmodal fit`` of the clothing training table twice, each in a new process,
  other head hyperparameters the second time, one fresh store: encoding seconds of each.
- ``predict`` (c): ``transmodal predict`` of the 2,000 test rows in a fresh process (model load
  included) with a cold store, for the frozen-MiniLM model of ``refit`` (``--frozen``: fitted first
  when missing), for a LoRA model (``--lora``:
  trained here on 600 rows) and for any ``NAME=FOLDER`` given (e.g. ``benchmarks.lora_int8_quality``'s).
- ``latency`` (d): one-row ``predict`` of a loaded predictor, 1,000 calls on distinct test rows.
- ``images`` (e): frozen EfficientNet-Lite0 over the 9,583 fashion_mm photos, cold then warm store.
- ``quantize-modes``: the default text encoder (every layer) over the same 6,000 Review Texts in fp32,
  per-batch int8 and per-token int8 (``quantize="int8_per_token"``), batches of 64 and 16: texts/s
  and the frozen probe's test AUROC.

Run alone on the machine (timings): ``flock /tmp/transmodal-bench.lock .venv/bin/python -m
benchmarks.encoding_limit encode``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.datasets.clothing import build_clothing

MINILM = {"name": "hf_text", "checkpoint": "packaged:all-MiniLM-L6-v2", "frozen": True, "max_length": 128}
FEATURES = ["Title", "Review Text", "Age", "Positive Feedback Count", "Division Name", "Department Name"]
LABEL = "Recommended IND"
FASHION = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion_mm"


def matmul_gflops(size: int = 1024, repeats: int = 30) -> float:
    """Measured fp32 matmul throughput of this machine (all threads torch uses)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def minilm_flops(tokens: np.ndarray, layers: int = 6, hidden: int = 384, ffn: int = 1536) -> np.ndarray:
    """Forward FLOPs per text of a BERT-like encoder for its token counts: per layer and token
    2*(4*H*H + 2*H*F) for the projections and feed-forward, plus 4*T*H for attention scores and mix."""
    per_token = layers * (2 * (4 * hidden * hidden + 2 * hidden * ffn))
    return tokens * per_token + layers * 4 * tokens * tokens * hidden


def encode_random(encoder, texts: list[str], batch_size: int = 64, seed: int = 0) -> tuple[np.ndarray, int]:
    """Today's path: random-order batches padded to their longest text; features in row order and
    the padded tokens processed."""
    import torch

    order = np.random.default_rng(seed).permutation(len(texts))
    out = np.zeros((len(texts), encoder.output_dim), np.float32)
    padded = 0
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            chunk = order[start:start + batch_size]
            inputs = encoder.prepare([texts[i] for i in chunk])
            padded += int(inputs["input_ids"].numel())
            out[chunk] = encoder(inputs).numpy()
    return out, padded


def encode_sorted(encoder, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """The new path (engine.encoding.fill_cache, no store), ``batch_size`` texts per batch at most."""
    from transmodal.data.dataset import TableDataset
    from transmodal.data.readers import read_table
    from transmodal.data.schema import InputSpec
    from transmodal.engine.cache import EmbeddingCache
    from transmodal.engine.encoding import fill_cache

    class One:
        input_names = ["text"]

        def encoder(self, name):
            return encoder

    dataset = TableDataset(read_table(pd.DataFrame({"text": texts})), [InputSpec("text", "text", ["text"])])
    cache = EmbeddingCache(len(texts), {"text": encoder.output_dim})
    fill_cache(One(), dataset, cache, store=None, batch_size=batch_size)
    return cache.values["text"].numpy()


def probe_auroc(train_x, train_y, test_x, test_y) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    model = LogisticRegression(max_iter=2000, C=1.0).fit(train_x, train_y)
    return float(roc_auc_score(test_y, model.predict_proba(test_x)[:, 1]))


def part_encode() -> dict:
    from transmodal.encoders.base import build_encoder

    paths = build_clothing()
    train, test = pd.read_csv(paths["train"]), pd.read_csv(paths["test"])
    texts = train["Review Text"].fillna("").astype(str).tolist()
    test_texts = test["Review Text"].fillna("").astype(str).tolist()
    fp32 = build_encoder("text", dict(MINILM))
    int8 = build_encoder("text", {**MINILM, "quantize": "int8"})
    tokens = np.array(fp32.input_lengths(texts))
    flops = minilm_flops(tokens)
    result = {"texts": len(texts), "mean_tokens": float(tokens.mean()), "gflop_per_text": float(flops.mean() / 1e9),
              "matmul_gflops": matmul_gflops()}
    runs = {}
    for name, run in (("fp32_random_order", lambda: encode_random(fp32, texts)[0]),
                      ("fp32_length_sorted", lambda: encode_sorted(fp32, texts)),
                      ("int8_length_sorted", lambda: encode_sorted(int8, texts))):
        start = time.perf_counter()
        features = run()
        seconds = time.perf_counter() - start
        runs[name] = {"seconds": seconds, "texts_per_second": len(texts) / seconds,
                      "useful_gflops": float(flops.sum()) / seconds / 1e9}
        runs[name]["share_of_matmul_peak"] = runs[name]["useful_gflops"] / result["matmul_gflops"]
        runs[name]["features"] = features
        print(name, {k: round(v, 3) for k, v in runs[name].items() if k != "features"}, flush=True)
    base = runs["fp32_random_order"]["seconds"]
    for name in runs:
        runs[name]["speedup_vs_random_fp32"] = base / runs[name]["seconds"]
    diff = np.abs(runs["fp32_random_order"]["features"] - runs["fp32_length_sorted"]["features"]).max()
    result["max_abs_diff_sorted_vs_random_fp32"] = float(diff)
    y_train, y_test = train[LABEL].to_numpy(), test[LABEL].to_numpy()
    test_fp32, test_int8 = encode_sorted(fp32, test_texts), encode_sorted(int8, test_texts)
    result["probe_auroc"] = {"fp32": probe_auroc(runs["fp32_length_sorted"]["features"], y_train, test_fp32, y_test),
                             "int8": probe_auroc(runs["int8_length_sorted"]["features"], y_train, test_int8, y_test)}
    result["probe_auroc"]["int8_minus_fp32"] = result["probe_auroc"]["int8"] - result["probe_auroc"]["fp32"]
    for run in runs.values():
        run.pop("features")
    result["runs"] = runs
    return result


def timed_default_encoding(texts: list[str], quantize: str | None, batch_size: int):
    """A new default text encoder (every MiniLM layer) with ``quantize``, ``texts``' features (N, D)
    in batches of at most ``batch_size``, and the seconds they took (the int8 copy made on the first
    batch included)."""
    from transmodal.encoders.base import build_encoder, default_encoder_spec

    encoder = build_encoder("text", {**default_encoder_spec("text"), "quantize": quantize})
    start = time.perf_counter()
    features = encode_sorted(encoder, texts, batch_size)
    return encoder, features, time.perf_counter() - start


def part_quantize_modes() -> dict:
    """The default text encoder (every MiniLM layer) over the 6,000 training Review Texts in fp32,
    per-batch int8 and per-token int8, in batches of 64 and 16: texts per second (the int8 copy made
    on the first batch included), and a frozen probe's test AUROC on the 2,000 test texts encoded the
    same way."""
    paths = build_clothing()
    train, test = pd.read_csv(paths["train"]), pd.read_csv(paths["test"])
    texts = train["Review Text"].fillna("").astype(str).tolist()
    test_texts = test["Review Text"].fillna("").astype(str).tolist()
    y_train, y_test = train[LABEL].to_numpy(), test[LABEL].to_numpy()
    runs = {}
    for quantize in ("int8", "int8_per_token", None):
        for batch_size in (64, 16):
            encoder, features, seconds = timed_default_encoding(texts, quantize, batch_size)
            test_features = encode_sorted(encoder, test_texts, batch_size)
            name = f"{quantize or 'fp32'}_batch_{batch_size}"
            runs[name] = {"seconds": seconds, "texts_per_second": len(texts) / seconds,
                          "probe_auroc": probe_auroc(features, y_train, test_features, y_test)}
            print(name, {k: round(v, 4) for k, v in runs[name].items()}, flush=True)
    return {"texts": len(texts), "runs": runs}


def cli(*args: str, store: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``transmodal ARGS`` in a new process with the store at ``store``; wall seconds and result."""
    env = {**os.environ, "TRANSMODAL_CACHE": str(store), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "transmodal", *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"transmodal {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds, done


def encoding_seconds(model: Path) -> dict:
    history = json.loads((model / "config.json").read_text())["history"]
    stats = history["encoding"]
    return {"seconds": sum(e["seconds"] for stage in stats.values() for e in stage.values()),
            "encoded": sum(e["encoded"] for stage in stats.values() for e in stage.values()),
            "from_store": sum(e["from_store"] for stage in stats.values() for e in stage.values()),
            "per_input": stats}


REFIT_OPTIONS = ["--label", LABEL, "--eval-metric", "roc_auc", "--column-type", "Age=numeric",
                 "--set", "progress_bar=false", "--set", "max_epochs=8"]


def fit_first(work: Path) -> float:
    """``transmodal fit`` of the clothing training table with the frozen MiniLM default (the model of
    ``refit``'s first fit and of ``predict``), into ``work/first``; wall seconds."""
    paths = build_clothing()
    table = work / "train.csv"
    pd.read_csv(paths["train"])[FEATURES + [LABEL]].to_csv(table, index=False)
    return cli("fit", str(table), "--out", str(work / "first"), *REFIT_OPTIONS, store=work / "store")[0]


def part_refit(work: Path) -> dict:
    table, store, common = work / "train.csv", work / "store", REFIT_OPTIONS
    first_s = fit_first(work)
    second_s, _ = cli("fit", str(table), "--out", str(work / "second"), *common,
                      "--set", "learning_rate=3e-4", "--set", "dropout=0.3", store=store)
    first, second = encoding_seconds(work / "first"), encoding_seconds(work / "second")
    return {"first_fit": {"wall_seconds": first_s, **first}, "second_fit": {"wall_seconds": second_s, **second},
            "encoding_speedup": first["seconds"] / max(second["seconds"], 1e-9)}


def part_predict(work: Path, lora_model: Path | None, given: dict[str, Path] | None = None) -> dict:
    """``given``: more models by name (``--model NAME=FOLDER``), predicted after the others, in order."""
    paths = build_clothing()
    test = pd.read_csv(paths["test"])[FEATURES + [LABEL]]
    table = work / "test.csv"
    test.to_csv(table, index=False)
    out = {}
    models = {"frozen_minilm": work / "first"} if (work / "first").is_dir() else {}  # made by the refit part
    if lora_model is not None:
        models["lora"] = lora_model
    models.update(given or {})
    for name, model in models.items():
        cold = Path(tempfile.mkdtemp(prefix="cold-store-", dir=work))
        seconds, _ = cli("predict", str(model), str(table), "--out", str(work / f"pred-{name}.csv"), store=cold)
        out[name] = {"rows": len(test), "wall_seconds_fresh_process_cold_store": seconds}
        print(name, out[name], flush=True)
    if lora_model is not None:
        out["lora"]["auroc"] = merged_int8_vs_fp32(lora_model, test)
    return out


def merged_int8_vs_fp32(model: Path, test: pd.DataFrame) -> dict:
    """Test AUROC of a LoRA predictor with its merged encoders in int8 (as loaded) and in fp32."""
    from sklearn.metrics import roc_auc_score

    from transmodal import MultimodalPredictor

    predictor = MultimodalPredictor.load(model)
    adapted = [n for n, spec in predictor.spec_.adapters.items() if spec.get("inference_quantize") == "int8"]
    y = test[LABEL].to_numpy()
    scores = {"int8": predictor.predict_proba(test[FEATURES]).to_numpy()[:, 1]}
    for name in adapted:
        predictor.net_.encoder(name).merged_quantize = None
    scores["fp32"] = predictor.predict_proba(test[FEATURES]).to_numpy()[:, 1]
    return {"int8_inputs": adapted, **{k: float(roc_auc_score(y, v)) for k, v in scores.items()}}


def part_lora_model(work: Path) -> Path:
    """A LoRA predictor as in the transfer benchmark (LoRA in both text encoders), trained briefly:
    prediction cost does not depend on how long it trained."""
    paths = build_clothing()
    table = work / "train_small.csv"
    pd.read_csv(paths["train"])[FEATURES + [LABEL]].head(600).to_csv(table, index=False)
    cli("fit", str(table), "--out", str(work / "lora"), "--label", LABEL, "--column-type", "Age=numeric",
        "--set", "progress_bar=false", "--set", "max_epochs=1", "--set", "transfer.strategy=lora",
        "--set", "transfer.r=8", "--set", "transfer.inputs=[Title, Review Text]",
        "--set", "transfer.inference_quantize=int8", store=work / "store")
    return work / "lora"


def part_latency(work: Path, calls: int = 1000) -> dict:
    from transmodal import MultimodalPredictor

    paths = build_clothing()
    test = pd.read_csv(paths["test"])[FEATURES]
    predictor = MultimodalPredictor.load(work / "first")
    predictor.predict(test.iloc[[0]])  # first call: lazy imports
    times = []
    for i in range(calls):
        row = test.iloc[[1 + i % (len(test) - 1)]]
        start = time.perf_counter()
        predictor.predict(row)
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    return {"calls": calls, "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean())}


def part_images(work: Path) -> dict:
    from transmodal.data.dataset import TableDataset
    from transmodal.data.readers import read_table
    from transmodal.data.schema import InputSpec
    from transmodal.embedding_store import EmbeddingStore
    from transmodal.encoders.base import build_encoder
    from transmodal.engine.cache import EmbeddingCache
    from transmodal.engine.encoding import fill_cache

    frame = pd.read_csv(FASHION / "data.csv")
    table = read_table(frame[["image"]], base_dir=FASHION)
    encoder = build_encoder("image", {"name": "efficientnet_lite0", "frozen": True})

    class One:
        input_names = ["image"]

        def encoder(self, name):
            return encoder

    store = EmbeddingStore(work / "image-store")
    out = {"images": len(frame)}
    for name in ("first_pass_cold_store", "second_pass_warm_store"):
        dataset = TableDataset(table, [InputSpec("image", "image", ["image"])])
        cache = EmbeddingCache(len(frame), {"image": encoder.output_dim})
        start = time.perf_counter()
        stats = fill_cache(One(), dataset, cache, EmbeddingStore(store.root), batch_size=64, min_write=1)
        seconds = time.perf_counter() - start
        out[name] = {"seconds": seconds, "images_per_second": len(frame) / seconds, **stats["image"]}
        print(name, out[name], flush=True)
    return out


def main() -> None:
    part = sys.argv[1] if len(sys.argv) > 1 else "encode"
    work = Path(os.environ.get("ENCODING_BENCH_WORK", tempfile.mkdtemp(prefix="encoding-bench-")))
    work.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine(), "part": part, "work": str(work)}
    if part == "encode":
        results["encode"] = part_encode()
    elif part == "refit":
        results["refit"] = part_refit(work)
    elif part == "predict":
        if "--frozen" in sys.argv and not (work / "first").is_dir():
            fit_first(work)
        lora = part_lora_model(work) if "--lora" in sys.argv else None
        given = dict(arg.split("=", 1) for arg in sys.argv[2:] if "=" in arg)
        results["predict"] = part_predict(work, lora, {name: Path(folder) for name, folder in given.items()})
    elif part == "latency":
        results["latency"] = part_latency(work)
    elif part == "images":
        results["images"] = part_images(work)
    elif part == "quantize-modes":
        results["quantize_modes"] = part_quantize_modes()
    else:
        raise SystemExit(f"unknown part {part!r}: encode, refit, predict, latency, images or quantize-modes")
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=1, default=str))
    print("saved", save_json(f"issue-15-{part}", results))


if __name__ == "__main__":
    main()
