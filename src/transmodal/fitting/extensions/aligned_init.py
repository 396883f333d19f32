"""``fit(..., init_from=ALIGN_DIR)``: an aligned model's towers become the predictor's encoders.

Active only when ``init_from`` is an alignment model folder (saved predictors are
:class:`~transmodal.fitting.extensions.source_model.SourceModel`'s). Every predictor input named like
an aligned column, with the same modality, is built with that tower's encoder settings
(``initialise``) and starts from its weights (``load_weights``). Only ``frozen`` is taken from
``hyperparameters["encoders"][column]`` (a frozen tower stays frozen unless it says False).
"""

from __future__ import annotations

from transmodal.errors import ConfigError
from transmodal.fitting.state import Extension, FitRequest, FitState


class AlignedInit(Extension):
    """Initialise encoders from an aligned model's towers."""

    options = ("init_from",)

    def __init__(self) -> None:
        self.model = None
        self.columns: list[str] = []

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        from transmodal.alignment.model import is_alignment_folder

        source = request.options.get("init_from")
        return source is not None and is_alignment_folder(source)

    def initialise(self, state: FitState) -> None:
        from transmodal.alignment.model import AlignmentModel

        folder = state.options["init_from"]
        self.model = AlignmentModel.load(folder)
        types = self.model.column_types_
        self.columns = [spec.name for spec in state.inputs if spec.name in types and types[spec.name] == spec.modality]
        if not self.columns:
            raise ConfigError(f"init_from {folder}: none of the aligned columns {list(self.model.columns)} "
                              "is an input of this table")
        for column in self.columns:
            user = state.encoder_choices.get(column)
            frozen = {"frozen": user["frozen"]} if isinstance(user, dict) and "frozen" in user else {}
            state.encoder_choices[column] = {**self.model.encoder_settings_[column], **frozen}

    def load_weights(self, state: FitState) -> None:
        from transmodal.encoders.adapters import folded_state

        for column in self.columns:
            encoder = state.net.encoder(column)
            encoder.load_state_dict(folded_state(self.model.net_.encoder(column)))  # a LoRA tower's adapters folded in
            encoder.freeze(encoder.frozen)
        state.records["init_from_alignment"] = {"folder": str(state.options["init_from"]), "columns": self.columns}
