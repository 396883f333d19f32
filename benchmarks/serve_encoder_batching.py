"""Why micro-batching cannot reach 3x on this CPU (issue 19, acceptance d): the MiniLM text encoder's
wall time per text at batch 1, for 32 texts padded to their longest, and for 32 texts in
length-bucketed batches (:func:`transmodal.engine.encoding.length_batches`), fp32 and int8.

The texts are the clothing test rows' Review Text (about 80 tokens) and Title (about 6 tokens), three
sets of 32 distinct rows, ``max_length`` 256 as in the served model; each mode is timed on the same
texts after a warm-up call, with the machine's torch threads (2).

Run: ``flock /tmp/transmodal-bench.lock nice -n 0 .venv/bin/python -m benchmarks.serve_encoder_batching``
"""

from __future__ import annotations

import os
import time

import torch

from benchmarks._machine import machine, save_json
from benchmarks.serve_model import test_rows

MODES = ("batch 1", "32 padded to longest", "32 length-bucketed")


def groups(mode: str, lengths: list[int]) -> list[list[int]]:
    """The positions of each encoder call for ``mode``."""
    from transmodal.engine.encoding import length_batches

    if mode == "batch 1":
        return [[i] for i in range(len(lengths))]
    if mode == "32 padded to longest":
        return [list(range(len(lengths)))]
    return [[int(i) for i in b] for b in length_batches(lengths, 64)]


def main() -> None:
    from transmodal.encoders.text_hf import HFTextEncoder

    rows = test_rows()
    out = {"machine": machine(), "load_average_before": os.getloadavg(), "torch_threads": torch.get_num_threads(),
           "ms_per_text": {}}
    for quantize in (None, "int8"):
        encoder = HFTextEncoder(max_length=256, frozen=True, quantize=quantize).eval()

        def run(calls: list[list[int]], texts: list[str]) -> float:
            start = time.perf_counter()
            with torch.no_grad():
                for call in calls:
                    encoder(encoder.prepare([texts[i] for i in call]))
            return time.perf_counter() - start

        totals: dict[str, float] = {}
        for part in range(3):
            for column in ("Review Text", "Title"):
                texts = [r[column] or "" for r in rows[400 + 32 * part:432 + 32 * part]]
                lengths = encoder.input_lengths(texts)
                if part == 0:
                    run([[0]], texts), run([list(range(32))], texts)  # warm-up
                for mode in MODES:
                    key = f"{quantize or 'fp32'} {column} {mode}"
                    totals[key] = totals.get(key, 0.0) + run(groups(mode, lengths), texts) / 96
        for key, seconds in totals.items():
            out["ms_per_text"][key] = 1000 * seconds
            print(f"{key}: {1000 * seconds:.1f} ms/text", flush=True)
    out["load_average_after"] = os.getloadavg()
    print("saved", save_json("issue-19-encoder-batching", out))


if __name__ == "__main__":
    main()
