"""Does a row's prediction depend on the rows predicted with it? (int8 vs fp32 frozen MiniLM)

Dynamic int8 quantisation (the CPU default of the frozen packaged MiniLM, ``quantize: int8``) scales
each Linear layer's input by the range of the whole batch, so a text's features can depend on the
other texts in its batch. This script measures that, on the clothing split of issue 2:

- features: the first ``--texts`` training Review Texts encoded by the default text encoder through
  the library's ``fill_cache`` with batches of 64 and of 16, int8 and fp32 (no store);
- predictions: the served clothing model of ``benchmarks.serve_model`` (``benchmarks/_work``), the first
  ``--rows`` test rows predicted one row per call (each call writes no shard: fewer than 16 cells),
  then in one call, with a new empty embedding store, so every call encodes its own texts.

Each of fp32 (``quantize: None``), per-batch int8 (``"int8"``, the CPU default) and per-token int8
(``"int8_per_token"``, :mod:`transmodal.encoders.int8_per_token`) is timed too (texts per second of
the ``fill_cache`` passes, 2 threads as the library runs them), its features compared with fp32's,
and the served model's gap measured with its text encoders switched to each int8 mode.

And the first candidate fix, timed (``--linear-cost``): a Linear layer with int8 weights (per output
channel) and int8 activations scaled **per token** (batch-invariant), through ``torch._int_mm``,
beside fp32 and ``quantize_dynamic``'s per-batch int8, on MiniLM's three Linear shapes for a batch
of 64 texts of 80 tokens (5,120 rows), 1 and 2 threads.

Run: ``python -m benchmarks.int8_batch_invariance [--texts 600] [--rows 64] [--linear-cost]``
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.datasets.clothing import load_clothing
from benchmarks.encoding_limit import timed_default_encoding

SERVED = os.path.join(os.path.dirname(__file__), "_work", "serve", "clothing-minilm-default")


def features_by_batch_size(texts: list[str], quantize: str | None,
                           sizes=(64, 16)) -> tuple[dict[int, np.ndarray], dict[int, float]]:
    """``{batch size: (N, D) features}`` of ``texts`` from the default text encoder with ``quantize``
    (a new encoder per size, so none reuses another's int8 copy), and ``{batch size: texts per
    second}`` (the int8 copy made on the first batch included)."""
    features, rates = {}, {}
    for size in sizes:
        _, features[size], seconds = timed_default_encoding(texts, quantize, size)
        rates[size] = len(texts) / seconds
    return features, rates


def prediction_gap(rows: pd.DataFrame, quantize: str = "int8") -> dict[str, float]:
    """Positive-class probability of each row predicted alone vs in one call with all ``rows``, the
    served model's int8 text encoders run in ``quantize`` mode."""
    from transmodal import MultimodalPredictor

    model = MultimodalPredictor.load(SERVED)
    for name in model.net_.input_names:
        encoder = model.net_.encoder(name)
        if encoder.settings.get("quantize"):
            encoder.settings["quantize"] = quantize  # before its first call: the store key and int8 copy follow
    alone = np.concatenate([model.predict_proba(rows.iloc[[i]]).to_numpy()[:, 1] for i in range(len(rows))])
    together = model.predict_proba(rows).to_numpy()[:, 1]
    gap = np.abs(alone - together)
    return {"rows": len(rows), "max_abs_probability_gap": float(gap.max()), "median_gap": float(np.median(gap)),
            "rows_over_0.01": int((gap > 0.01).sum()), "label_flips_at_0.5": int(((alone > 0.5) != (together > 0.5)).sum())}


def linear_cost(rows: int = 5120, repeats: int = 10) -> list[dict]:
    """Milliseconds and largest error (vs fp32) of fp32, per-batch int8 and per-token int8 Linear layers."""
    import time

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    def per_token_int8(linear):
        weight = linear.weight.detach()  # (out, in)
        weight_scale = weight.abs().amax(1) / 127  # (out,)
        weight_t = torch.round(weight / weight_scale[:, None]).clamp(-127, 127).to(torch.int8).t().contiguous()

        def forward(x):  # (rows, in) -> (rows, out)
            scale = x.abs().amax(1, keepdim=True).clamp_min(1e-8) / 127  # (rows, 1): one per token
            quantised = torch.round(x / scale).clamp(-127, 127).to(torch.int8)
            return torch._int_mm(quantised, weight_t).float() * scale * weight_scale + linear.bias
        return forward

    def milliseconds(fn, x):
        fn(x)
        start = time.perf_counter()
        for _ in range(repeats):
            fn(x)
        return (time.perf_counter() - start) / repeats * 1000

    out, before = [], torch.get_num_threads()
    torch.manual_seed(0)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for size_in, size_out in ((384, 1536), (1536, 384), (384, 384)):
            linear, x = torch.nn.Linear(size_in, size_out), torch.randn(rows, size_in)
            dynamic = quantize_dynamic(torch.nn.Sequential(linear), {torch.nn.Linear: per_channel_dynamic_qconfig},
                                       dtype=torch.qint8)
            row = {"threads": threads, "shape": f"{rows}x{size_in}->{size_out}"}
            with torch.inference_mode():
                reference = linear(x)
                for name, fn in (("fp32", linear), ("int8_per_batch", dynamic), ("int8_per_token", per_token_int8(linear))):
                    row[f"{name}_ms"] = milliseconds(fn, x)
                    row[f"{name}_max_error"] = float((fn(x) - reference).abs().max())
            out.append(row)
            print(row, flush=True)
    torch.set_num_threads(before)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--out", default="int8-batch-invariance")
    parser.add_argument("--linear-cost", action="store_true", help="only time the per-token int8 Linear candidate")
    args = parser.parse_args()
    if args.linear_cost:
        save_json(f"{args.out}-linear-cost", {"machine": machine(), "rows": linear_cost()})
        return
    os.environ["TRANSMODAL_CACHE"] = tempfile.mkdtemp(prefix="int8-invariance-")  # every call encodes
    train, test = load_clothing()
    texts = train["Review Text"].fillna("").astype(str).tolist()[:args.texts]
    result = {"machine": machine(), "texts": len(texts), "features": {}, "predictions_served_model": {}}
    reference = None
    for quantize in (None, "int8", "int8_per_token"):
        by_size, rates = features_by_batch_size(texts, quantize)
        reference = by_size[64] if quantize is None else reference  # fp32 at batches of 64
        gap = np.abs(by_size[64] - by_size[16])  # (N, D)
        scale = np.abs(by_size[64]).max(axis=1)  # (N,)
        error = np.abs(by_size[64] - reference)
        result["features"][str(quantize)] = {
            "max_abs_gap": float(gap.max()), "median_row_relative_gap": float(np.median(gap.max(axis=1) / scale)),
            "max_abs_error_vs_fp32": float(error.max()),
            "median_row_relative_error_vs_fp32": float(np.median(error.max(axis=1) / scale)),
            "texts_per_second": {str(size): rate for size, rate in rates.items()}}
        print(quantize, result["features"][str(quantize)], flush=True)
    for quantize in ("int8", "int8_per_token"):
        result["predictions_served_model"][quantize] = prediction_gap(test.head(args.rows), quantize)
        print(quantize, result["predictions_served_model"][quantize], flush=True)
    save_json(args.out, result)


if __name__ == "__main__":
    main()
