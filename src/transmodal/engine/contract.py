"""What the engine needs from a network: its inputs and their encoders.

``MultimodalNet`` (inputs are the predictor's columns) and ``AlignmentNet`` (inputs are the aligned
columns, one tower each) both satisfy it, so loaders, caches and parameter groups serve both.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from transmodal.encoders.base import Encoder


@runtime_checkable
class EncoderNet(Protocol):
    """A network whose inputs are each read by one encoder."""

    @property
    def input_names(self) -> list[str]:
        """Names of the inputs (table columns or column groups), in a fixed order."""
        ...

    def encoder(self, name: str) -> Encoder:
        """The encoder of input ``name``."""
        ...


def named_encoders(net: EncoderNet) -> dict[str, Encoder]:
    """Input name -> encoder, in ``net.input_names`` order."""
    return {name: net.encoder(name) for name in net.input_names}
