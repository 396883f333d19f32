"""The multi-task fit hook: checks the ``multitask`` settings early and records the task weights."""

from __future__ import annotations

from transmodal.fitting import FIT_HOOKS, FitContext, FitHook
from transmodal.multitask.settings import MultitaskSettings


@FIT_HOOKS.register("multitask")
class MultitaskHook(FitHook):
    """Active for several labels or a ``multitask`` section. After the fit, the history (saved in
    the model's config.json) gains ``history["multitask"] = {"architecture", "weighting",
    "weights": {task: last epoch's mean weight}}``; every epoch already holds ``weight/<task>``."""

    def active(self, ctx: FitContext) -> bool:
        return len(ctx.predictor.labels) > 1 or bool(ctx.config.multitask)

    def on_data(self, ctx: FitContext) -> None:
        MultitaskSettings.from_config(ctx.config.multitask, [t.name for t in ctx.predictor.tasks_])

    def after_fit(self, ctx: FitContext) -> None:
        settings = MultitaskSettings.from_config(ctx.config.multitask)
        epochs = ctx.history.get("epochs") or [{}]
        weights = {t.name: epochs[-1].get(f"weight/{t.name}") for t in ctx.predictor.tasks_}
        ctx.history["multitask"] = {"architecture": settings.architecture, "weighting": settings.weighting,
                                    "weights": weights}
