"""Several labels: the ``multitask`` section is checked before anything is built, and the task
weights of the last epoch are recorded in the history (``history["multitask"]``)."""

from __future__ import annotations

from transmodal.fitting.state import Extension, FitRequest, FitState
from transmodal.multitask.settings import MultitaskSettings


class Multitask(Extension):
    """Active for several labels or a ``multitask`` section. Every epoch of the history already holds
    ``weight/<task>``; the record adds ``{"architecture", "weighting", "weights": {task: weight}}``."""

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        return len(request.labels) > 1 or bool(request.config.multitask)

    def prepare_targets(self, state: FitState) -> None:
        MultitaskSettings.from_config(state.config.multitask, [t.name for t in state.tasks])

    def finish(self, state: FitState) -> None:
        settings = MultitaskSettings.from_config(state.training_config().multitask)
        epochs = state.history.get("epochs") or [{}]
        weights = {t.name: epochs[-1].get(f"weight/{t.name}") for t in state.tasks}
        state.records["multitask"] = {"architecture": settings.architecture, "weighting": settings.weighting,
                                      "weights": weights}
