"""A fitted :class:`~transmodal.predictor.MultimodalPredictor` inside a member's files: its saved
config (JSON) and weights (tensors under a key prefix), frozen pretrained weights by reference with
their digests, exactly as a predictor folder keeps them; and back (no fit stage runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transmodal.ensemble.members.base import MemberFiles


def add_predictor(files: MemberFiles, predictor, prefix: str) -> dict[str, Any]:
    """Put ``predictor``'s weights and reference digests into ``files`` under ``prefix``; return
    its saved config (for the member's JSON)."""
    from transmodal.saved.loader import reference_weights

    for key, tensor in predictor.saved_state().items():
        files.tensors[f"{prefix}{key}"] = tensor
    names = [s.name for s in predictor.inputs_]
    for name, record in reference_weights(predictor.net_, names).items():
        files.external[f"{prefix}{name}"] = record
    return predictor.saved_config()


def read_predictor(files: MemberFiles, saved: dict[str, Any], prefix: str, path: Path | None = None,
                   trust_remote_code: bool = False, allowed_root: str | Path | None = None):
    """The predictor ``add_predictor`` stored under ``prefix`` (adapters merged for prediction).

    Raises:
        ModelLoadError: see :func:`transmodal.saved.loader.fitted_from_saved`.
    """
    from transmodal.predictor import MultimodalPredictor
    from transmodal.saved.loader import fitted_from_saved

    weights = {k[len(prefix):]: v for k, v in files.tensors.items() if k.startswith(prefix)}
    external = {k[len(prefix):]: v for k, v in files.external.items() if k.startswith(prefix)}
    folder = Path(path or ".")
    return MultimodalPredictor.from_fitted(fitted_from_saved(saved, external, weights, folder, folder / "config.json",
                                                             trust_remote_code, allowed_root))
