"""``fit(..., init_from=FOLDER_OR_PREDICTOR)`` with a saved predictor: its encoders and fusion (and
its heads for the same tasks) start the new network (:mod:`transmodal.transfer.source`).

``initialise`` takes the source's encoder settings for every shared input and its architecture, so
the network is built once in its final shape; ``load_weights`` copies the source's weights into it.
Alignment-model folders are :class:`~transmodal.fitting.extensions.aligned_init.AlignedInit`'s.
"""

from __future__ import annotations

from transmodal.errors import ConfigError
from transmodal.fitting.state import Extension, FitRequest, FitState


class SourceModel(Extension):
    """Initialise from a saved predictor (a folder or a fitted predictor object)."""

    options = ("init_from",)

    def __init__(self) -> None:
        self.source = None
        self.shared: list[str] = []

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        from transmodal.alignment.model import is_alignment_folder

        source = request.options.get("init_from")
        return source is not None and not is_alignment_folder(source)

    def initialise(self, state: FitState) -> None:
        from transmodal.transfer.source import load_source, shared_inputs

        self.source = load_source(state.options["init_from"])
        if self.source is None:  # a folder that is neither a saved predictor nor an alignment model
            raise ConfigError(f"init_from {state.options['init_from']}: not a saved predictor or alignment model "
                              "folder (it has no transmodal config.json)")
        self.shared = shared_inputs(state.inputs, self.source)
        if not self.shared:
            raise ConfigError("init_from: the source predictor shares no input column with this table "
                              f"(source inputs {[s.name for s in self.source.inputs_]})")
        for name in self.shared:
            state.fixed_encoders[name] = dict(self.source.encoder_settings_[name])
        state.architecture = self.source.spec_.architecture

    def load_weights(self, state: FitState) -> None:
        from transmodal.transfer.source import copy_state, same_task

        heads = [t.name for t in state.tasks if any(same_task(t, s) for s in self.source.tasks_)]
        copied = copy_state(state.net, self.source.net_, self.shared, heads)
        init_from = state.options["init_from"]
        state.records["transfer"] = {"inputs": self.shared, "heads": heads, "copied": len(copied),
                                     "init_from": "<predictor>" if hasattr(init_from, "net_") else str(init_from)}

