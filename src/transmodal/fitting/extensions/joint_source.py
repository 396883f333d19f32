"""``fit(target, source_data=TABLE, source_label=COL)``: joint source and target training
(:mod:`transmodal.transfer.joint`). The source rows and their task join in ``prepare_targets``; the
task weights ``L_source + lambda * L_target`` apply to training only; the source head is dropped in
``finish``, so the saved model is a plain target model."""

from __future__ import annotations

from transmodal.errors import ConfigError
from transmodal.fitting.state import Extension, FitRequest, FitState


class JointSource(Extension):
    """Trains a source task beside the target tasks on shared encoders."""

    options = ("source_data", "source_label")

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        if request.options.get("source_data") is None and request.options.get("source_label") is not None:
            raise ConfigError("source_label needs source_data=TABLE")
        return request.options.get("source_data") is not None

    def __init__(self) -> None:
        self.task_name = ""

    def prepare_targets(self, state: FitState) -> None:
        from transmodal.transfer.joint import joint_weights, source_rows, with_source_rows

        labels = [t.name for t in state.tasks]
        self.task_name, rows, task = source_rows(state.options["source_data"], state.options.get("source_label"),
                                                 state.column_types, labels, state.root)
        state.tasks.append(task)
        state.train, state.tune = with_source_rows(state.train, state.tune, rows, self.task_name)
        weight = float((state.config.transfer or {}).get("lambda", 1.0))
        multitask = state.config.multitask or {}
        state.training.config_overrides["multitask"] = {
            **multitask, "weights": joint_weights(multitask, labels, self.task_name, weight)}

    def finish(self, state: FitState) -> None:
        from transmodal.fusion.base import module_key

        state.tasks = [t for t in state.tasks if t.name != self.task_name]
        state.net.tasks = [t for t in state.net.tasks if t.name != self.task_name]
        del state.net.heads[module_key(self.task_name)]
        weights = state.training.config_overrides["multitask"]["weights"]
        state.records["joint_source"] = {"task": self.task_name, "weights": weights,
                                         "rows": int(state.train.frame[self.task_name].notna().sum())}
