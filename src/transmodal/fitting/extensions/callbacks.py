"""``fit(..., callbacks=[...])``: Lightning callbacks that watch the training (e.g. the tuning
layer's pruning callback), added in ``attach`` after the engine's own (best state, history, early
stopping, cache switch). They observe the fit and may stop it; they never replace the network."""

from __future__ import annotations

from transmodal.errors import ConfigError
from transmodal.fitting.state import Extension, FitState


class Callbacks(Extension):
    """Appends the given callbacks to the training additions, in the order given."""

    options = ("callbacks",)

    def attach(self, state: FitState) -> None:
        import lightning as L

        callbacks = list(state.options["callbacks"])
        strange = [type(c).__name__ for c in callbacks if not isinstance(c, L.Callback)]
        if strange:
            raise ConfigError(f"callbacks must be lightning.Callback instances; got {strange}")
        state.training.callbacks.extend(callbacks)
