"""``export_model``: write ONNX or TorchScript and check it against PyTorch on real rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from transmodal.errors import ConfigError
from transmodal.export.graph import InferenceGraph, flatten_batch, layout_of, names_of

FORMATS = ("onnx", "torchscript")
TOLERANCE = 1e-4


def sample_batches(predictor, table, batch_size: int = 16, count: int = 2) -> list[dict[str, Any]]:
    """The first ``count`` batches of ``table`` as the network sees them at inference."""
    from transmodal.engine.training import make_loader

    loader = make_loader(predictor.dataset(table), predictor.net_, predictor.config_, shuffle=False)
    loader = torch.utils.data.DataLoader(loader.dataset, batch_size=batch_size, collate_fn=loader.collate_fn)
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == count:
            break
    return batches


def export_model(predictor, table, out: str | Path, fmt: str, check_batches: int = 2,
                 batch_size: int = 16) -> dict[str, Any]:
    """Export ``predictor``'s inference graph to ``out`` and verify it on rows of ``table``.

    Every input of the graph has a dynamic batch dimension. ``out + ".json"`` describes the inputs
    and outputs.

    Args:
        predictor: A fitted ``MultimodalPredictor``.
        table: Rows to trace with and to check the export on.
        out: The file to write.
        fmt: ``"onnx"`` or ``"torchscript"``.
        check_batches: How many batches of ``table`` to compare with PyTorch (at least two sizes).
        batch_size: Rows per checked batch.

    Returns:
        ``{"path", "format", "inputs", "outputs", "max_abs_diff", "rows_checked", "layout"}``.

    Raises:
        ConfigError: unknown format, or outputs differ from PyTorch by more than 1e-4.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; use one of {list(FORMATS)}")
    predictor._check_fitted()
    batches = sample_batches(predictor, table, batch_size=batch_size, count=check_batches)
    if len(batches) > 1 and len(batches[-1]["index"]) == len(batches[0]["index"]):
        batches[-1] = _shrink(batches[-1])  # a second batch size proves the batch axis is dynamic
    layout = layout_of(batches[0], predictor.net_)
    graph = InferenceGraph(predictor.net_, layout).eval()
    example = flatten_batch(batches[0], layout)
    input_names, output_names = names_of(layout, predictor.net_)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        run = _export_onnx(graph, example, out, input_names, output_names) if fmt == "onnx" \
            else _export_torchscript(graph, example, out)
        diff = 0.0
        for batch in batches:
            flat = flatten_batch(batch, layout)
            expected = [t.numpy() for t in graph(*flat)]
            got = run(flat)
            diff = max(diff, max(float(np.abs(e - g).max()) if e.size else 0.0 for e, g in zip(expected, got)))
    if diff > TOLERANCE:
        raise ConfigError(f"the {fmt} export differs from PyTorch by {diff:.2e} (> {TOLERANCE}); "
                          "an operation of this model does not export faithfully")
    summary = {"path": str(out), "format": fmt, "inputs": input_names, "outputs": output_names,
               "max_abs_diff": diff, "rows_checked": sum(len(b["index"]) for b in batches), "layout": layout}
    Path(str(out) + ".json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _shrink(batch: dict[str, Any]) -> dict[str, Any]:
    keep = max(1, len(batch["index"]) - 3)
    cut = lambda t: t[:keep] if isinstance(t, torch.Tensor) and t.dim() > 0 else t  # noqa: E731
    return {"index": batch["index"][:keep], "masks": {k: cut(v) for k, v in batch["masks"].items()},
            "inputs": {n: {k: cut(v) for k, v in d.items()} for n, d in batch["inputs"].items()},
            "targets": {}}


def _export_onnx(graph, example, out: Path, input_names, output_names):
    import onnxruntime

    auto = torch.export.Dim.AUTO  # batch and padded lengths stay dynamic where the graph allows
    dynamic = (tuple({i: auto for i in range(t.dim())} for t in example),)  # *flat is one (varargs) argument
    torch.onnx.export(graph, tuple(example), str(out), input_names=input_names, output_names=output_names,
                      dynamic_shapes=dynamic, opset_version=18, dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    feed_names = {i.name for i in session.get_inputs()}  # unused inputs are pruned by the exporter
    return lambda flat: session.run(output_names, {n: t.numpy() for n, t in zip(input_names, flat) if n in feed_names})


def _export_torchscript(graph, example, out: Path):
    traced = torch.jit.trace(graph, tuple(example), check_trace=False)
    traced.save(str(out))
    loaded = torch.jit.load(str(out))
    return lambda flat: [t.numpy() for t in loaded(*flat)]
