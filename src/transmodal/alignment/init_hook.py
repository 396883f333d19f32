"""``fit(..., init_from=ALIGN_DIR)``: an aligned model's towers become the predictor's encoders.

Active only when ``init_from`` is an alignment model folder (saved predictors are the transfer
hook's). Every predictor input named like an aligned column, with the same modality, is built with
that tower's encoder settings and starts from its weights. Only ``frozen`` is taken from
``hyperparameters["encoders"][column]`` (a frozen tower stays frozen unless it says False).
"""

from __future__ import annotations

from transmodal.errors import ConfigError
from transmodal.fitting import FIT_HOOKS, FitContext, FitHook


@FIT_HOOKS.register("init_from_alignment")
class AlignedInitHook(FitHook):
    """Initialise encoders from an aligned model's towers."""

    options = ("init_from",)

    def __init__(self) -> None:
        self.model = None
        self.columns: list[str] = []

    def active(self, ctx: FitContext) -> bool:
        from transmodal.alignment.model import is_alignment_folder

        source = ctx.options.get("init_from")
        return source is not None and not hasattr(source, "net_") and is_alignment_folder(source)

    def on_data(self, ctx: FitContext) -> None:
        from transmodal.alignment.model import AlignmentModel

        self.model = AlignmentModel.load(ctx.options["init_from"])
        types = self.model.column_types_
        self.columns = [spec.name for spec in ctx.predictor.inputs_
                        if spec.name in types and types[spec.name] == spec.modality]
        if not self.columns:
            raise ConfigError(f"init_from {ctx.options['init_from']}: none of the aligned columns "
                              f"{list(self.model.columns)} is an input of this table")
        encoders = dict(ctx.config.encoders)
        for column in self.columns:
            user = encoders.get(column) if isinstance(encoders.get(column), dict) else {}
            frozen = {"frozen": user["frozen"]} if "frozen" in user else {}
            encoders[column] = {**self.model.encoder_settings_[column], **frozen}
        ctx.config.encoders = encoders

    def on_net(self, ctx: FitContext) -> None:
        for column in self.columns:
            encoder = ctx.net.encoder(column)
            encoder.load_state_dict(self.model.net_.encoder(column).state_dict())
            encoder.freeze(encoder.frozen)
        ctx.history["init_from_alignment"] = {"folder": str(ctx.options["init_from"]), "columns": self.columns}

    def after_fit(self, ctx: FitContext) -> None:
        ctx.predictor.history_["init_from_alignment"] = {"folder": str(ctx.options["init_from"]), "columns": self.columns}
