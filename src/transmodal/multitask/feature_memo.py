"""``fit(..., feature_memo=True)``: frozen encoders read the process-wide feature memo of
:mod:`transmodal.engine.feature_memo`, so fits on the same rows encode each row once."""

from __future__ import annotations

from transmodal.engine.feature_memo import memoize_frozen
from transmodal.fitting import FIT_HOOKS, FitContext, FitHook


@FIT_HOOKS.register("feature_memo")
class FeatureMemoHook(FitHook):
    """Active when ``fit(..., feature_memo=True)``."""

    options = ("feature_memo",)

    def active(self, ctx: FitContext) -> bool:
        return bool(ctx.options.get("feature_memo"))

    def on_net(self, ctx: FitContext) -> None:
        memoize_frozen(ctx.net)
