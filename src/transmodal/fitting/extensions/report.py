"""The report's numbers, collected in ``finish``: tuning-set evaluation per task, modality importance
and a data summary (rendered as ``report.html`` when the predictor is saved)."""

from __future__ import annotations

import pandas as pd

from transmodal.fitting.state import Extension, FitRequest, FitState


class Report(Extension):
    """Active unless the fit is given ``report=False`` (an ensemble's neural member: its extra
    passes over the tuning rows would cost the ensemble's time budget and nobody reads them)."""

    options = ("report",)

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        from transmodal.errors import ConfigError

        wanted = request.options.get("report", True)
        if not isinstance(wanted, bool):
            raise ConfigError(f"report must be True or False, got {wanted!r}")
        return wanted

    def finish(self, state: FitState) -> None:
        from transmodal.engine.inference import frozen_cache
        from transmodal.report.summary import data_summary, environment, evaluate_tasks, modality_importance
        from transmodal.saved.loader import FittedModel

        model = FittedModel({"allowed_root": state.request.allowed_root}, state.spec(), state.config, state.net)
        cache = frozen_cache(state.net, state.tune_set)  # frozen inputs encoded once for all passes
        state.report = {
            "data": data_summary(pd.concat([state.train.frame, state.tune.frame]), state.column_types,
                                 len(state.bad_rows), len({b.row for b in state.bad_rows if b.row >= 0})),
            "tasks": evaluate_tasks(model, state.tune_set, cache),
            "importance": modality_importance(model, state.tune_set, cache),
            "environment": environment(),
            "rows": {"train": len(state.train.frame), "tuning": len(state.tune.frame)},
        }
