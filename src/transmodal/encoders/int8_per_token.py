"""Int8 Linear layers whose activations are scaled per token (``quantize="int8_per_token"``).

torch's dynamic quantisation (``quantize="int8"``) scales a Linear layer's whole input by one
number, its largest value over the batch, so a text's features move with the other texts of its
batch: on the packaged MiniLM, a served clothing review's probability moved by up to 0.10 between
being predicted alone and among 64 (``benchmarks/RESULTS.md``, "with int8, a row's features and
prediction depend on the rows encoded with it"). :class:`PerTokenInt8Linear` scales each row (token)
of the input by its own largest absolute value instead: a row's output is computed from that row
alone, and its rounding is finer (the scale of one token, not of the batch's largest).

The product runs through fbgemm's int8 kernel with a fixed input scale on the rescaled rows
(``y = s * (W_int8 . q(x / s)) + b``), so it costs one int8 matrix product plus three passes over
the rows (their range, the division, the rescaling). Activations take 7 bits (0..127 around 64),
as torch's own dynamic quantisation does on x86: fbgemm sums pairs of unsigned x signed 8-bit
products in 16 bits, which full-range activations could overflow.
"""

from __future__ import annotations

import torch
from torch import nn

LEVELS = 63       # a row rescaled to [-1, 1] is rounded to steps of 1/63: codes 1..127
ZERO_POINT = 64
TINY = 1e-12      # scale of an all-zero row (its output is the bias)


class PerTokenInt8Linear(nn.Module):
    """A frozen Linear layer with int8 weights (per output channel) and int8 activations scaled per row.

    Args:
        packed: fbgemm's packed int8 weight, without the bias.
        bias: (out_features,) float32, or None.
    """

    def __init__(self, packed: torch.ScriptObject, bias: torch.Tensor | None, in_features: int,
                 out_features: int) -> None:
        super().__init__()
        self.packed, self.bias = packed, bias
        self.in_features, self.out_features = in_features, out_features

    @classmethod
    def from_dynamic(cls, layer: nn.Module) -> "PerTokenInt8Linear":
        """The same int8 weights as ``layer``, a ``torch.ao.nn.quantized.dynamic.Linear``."""
        weight, bias = layer._packed_params._weight_bias()  # (out, in) qint8 per channel, (out,) float
        packed = torch.ops.quantized.linear_prepack(weight, None)  # the bias is added after the rescaling
        return cls(packed, None if bias is None else bias.detach().float(), layer.in_features, layer.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in) -> (..., out)
        scale = torch.maximum(x.amax(-1, keepdim=True), -x.amin(-1, keepdim=True)).clamp_min(TINY)  # (..., 1)
        y = torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(
            x / scale, 1.0 / LEVELS, ZERO_POINT, self.packed)  # (..., out)
        return torch.addcmul(self.bias, y, scale) if self.bias is not None else y * scale

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, activations=per token"


def scale_per_token(model: nn.Module) -> nn.Module:
    """``model`` (dynamically quantised) with each dynamic int8 Linear layer replaced, in place, by a
    :class:`PerTokenInt8Linear` of the same weights."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, DynamicLinear):
                setattr(parent, name, PerTokenInt8Linear.from_dynamic(child))
    return model
