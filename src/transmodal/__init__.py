"""transmodal: learning across modalities and tasks from a table.

The public names load lazily, so ``import transmodal`` stays fast; heavy libraries (torch,
transformers, Lightning) are imported only when a model is built or trained.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["MultimodalPredictor", "AutoPredictor", "FitConfig", "DataError", "ModelLoadError", "__version__"]

_LAZY = {
    "MultimodalPredictor": "transmodal.predictor",
    "AutoPredictor": "transmodal.ensemble.auto",
    "FitConfig": "transmodal.config",
    "DataError": "transmodal.errors",
    "ModelLoadError": "transmodal.errors",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'transmodal' has no attribute {name!r}")
