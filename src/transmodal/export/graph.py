"""The inference graph with flat tensor inputs, as exporters need it.

A batch's ``inputs`` (``{input: {key: Tensor}}``, the output of each encoder's ``prepare``) and
``masks`` are flattened in a fixed order: for every input (sorted), its tensors by sorted key, then its
mask. Outputs are the scores of every task (probabilities, or values for regression) followed by the
fused embedding.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transmodal.model import MultimodalNet, outputs_to_scores


class InferenceGraph(nn.Module):
    """``forward(*flat_tensors) -> (scores of each task..., embedding)``.

    Args:
        net: The trained network (used in eval mode).
        layout: ``[(input name, [tensor keys])]`` in flattening order (see :func:`layout_of`).
    """

    def __init__(self, net: MultimodalNet, layout: list[tuple[str, list[str]]]) -> None:
        super().__init__()
        self.net = net.eval()
        self.layout = layout

    def forward(self, *flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inputs, masks, position = {}, {}, 0
        for name, keys in self.layout:
            inputs[name] = {key: flat[position + i] for i, key in enumerate(keys)}
            masks[name] = flat[position + len(keys)]
            position += len(keys) + 1
        out = self.net(inputs, masks)
        scores = [outputs_to_scores(out["outputs"][t.name].float(), t) for t in self.net.tasks]
        return (*scores, out["embedding"])


def layout_of(batch: dict[str, Any], net: MultimodalNet) -> list[tuple[str, list[str]]]:
    """The flattening order of a batch."""
    return [(name, sorted(batch["inputs"][name])) for name in net.input_names]


def flatten_batch(batch: dict[str, Any], layout: list[tuple[str, list[str]]]) -> list[torch.Tensor]:
    """A batch as the flat tensor list of :class:`InferenceGraph`."""
    flat = []
    for name, keys in layout:
        flat += [batch["inputs"][name][key] for key in keys]
        flat.append(batch["masks"][name])
    return flat


def names_of(layout: list[tuple[str, list[str]]], net: MultimodalNet) -> tuple[list[str], list[str]]:
    """Input and output names of the exported graph."""
    inputs = [f"input.{name}.{key}" for name, keys in layout for key in [*keys, "mask"]]
    outputs = [f"output.scores.{t.name}" for t in net.tasks] + ["output.embedding"]
    return inputs, outputs
