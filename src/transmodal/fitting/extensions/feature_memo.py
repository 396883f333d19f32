"""``fit(..., feature_memo=True)``: frozen encoders' features shared across fits in one process
(:mod:`transmodal.engine.feature_memo`). Applied in ``attach``, after every stage that decides which
encoders are frozen, to the network that trains."""

from __future__ import annotations

from transmodal.fitting.state import Extension, FitRequest, FitState


class FeatureMemo(Extension):
    """Gives every frozen encoder of the network the process-wide memo."""

    options = ("feature_memo",)

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        return bool(request.options.get("feature_memo"))

    def attach(self, state: FitState) -> None:
        from transmodal.engine.feature_memo import memoize_frozen

        state.records["feature_memo"] = {"inputs": memoize_frozen(state.net)}
