"""``quantize="int8_per_token"``: int8 Linear layers whose activations are scaled per token, so a
row's output does not depend on the rows computed with it (``quantize="int8"`` scales per batch)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tinycheckpoints import save_tiny_bert
from transmodal.encoders.base import build_encoder
from transmodal.encoders.int8_per_token import PerTokenInt8Linear
from transmodal.encoders.quantization import quantize_int8
from transmodal.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("bert"))


def layers() -> tuple[nn.Linear, nn.Module, nn.Module]:
    """A Linear layer, its per-batch int8 copy and its per-token int8 copy."""
    torch.manual_seed(0)
    linear = nn.Linear(48, 32)
    return (linear, quantize_int8(nn.Sequential(linear))[0],
            quantize_int8(nn.Sequential(linear), "int8_per_token")[0])


def mixed_rows() -> torch.Tensor:
    """(6, 48) rows whose ranges differ by up to 1,000x (as tokens of one batch can)."""
    torch.manual_seed(1)
    return torch.randn(6, 48) * torch.tensor([0.01, 0.1, 1.0, 10.0, 0.5, 2.0])[:, None]


def test_the_per_token_copy_replaces_every_linear_layer() -> None:
    _, per_batch, per_token = layers()
    assert isinstance(per_token, PerTokenInt8Linear) and not isinstance(per_batch, PerTokenInt8Linear)


def test_a_rows_output_is_the_same_alone_and_in_any_batch() -> None:
    _, per_batch, per_token = layers()
    x = mixed_rows()
    with torch.no_grad():
        together = per_token(x)  # (6, 32)
        alone = torch.cat([per_token(x[i:i + 1]) for i in range(len(x))])
        reversed_batch = per_token(x.flip(0)).flip(0)
        assert torch.equal(together, alone) and torch.equal(together, reversed_batch)
        # the per-batch copy is what this guards against: the small rows move with the large ones
        assert not torch.allclose(per_batch(x), torch.cat([per_batch(x[i:i + 1]) for i in range(len(x))]), atol=1e-3)


def test_per_token_scales_are_closer_to_fp32_than_per_batch_ones_on_rows_of_mixed_range() -> None:
    linear, per_batch, per_token = layers()
    x = mixed_rows()
    with torch.no_grad():
        reference = linear(x)
        token_error = (per_token(x) - reference).abs().amax(dim=1)  # (6,)
        batch_error = (per_batch(x) - reference).abs().amax(dim=1)
        scale = reference.abs().amax(dim=1)
    assert (token_error / scale).max() < 0.05  # every row within a few percent of its own range
    assert token_error[0] < batch_error[0] / 10  # the smallest row: rounded at its own scale
    assert torch.equal(per_token(torch.zeros(2, 48)), linear.bias.detach().expand(2, 32))  # a zero row: the bias


def test_a_text_encoders_features_do_not_depend_on_its_batch(tiny_bert) -> None:
    texts = ["a short one", "a much longer review that pads every other text of its batch a lot", "mid length text"]

    def gaps(quantize: str) -> float:
        encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True,
                                         "quantize": quantize})
        with torch.no_grad():
            together = encoder(encoder.prepare(texts))  # (3, H)
            alone = torch.cat([encoder(encoder.prepare([t])) for t in texts])
        return float((together - alone).abs().max())

    assert gaps("int8_per_token") < 1e-4 < gaps("int8")


def test_the_setting_is_checked_and_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="int8_per_token"):
        build_encoder("text", {"name": "hf_text", "frozen": True, "quantize": "int4"})
    with pytest.raises(ConfigError, match="needs frozen=True"):
        build_encoder("text", {"name": "hf_text", "frozen": False, "quantize": "int8_per_token"})
