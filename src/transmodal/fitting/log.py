"""What a fit tells its user about its tables while it runs (the lines land in the fit's ``fit.log``:
see :mod:`transmodal.engine.run_log`)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def log_schema(state) -> None:
    """Log the tables' rows, the inferred column types and the tasks (the ``read`` stage's result)."""
    from transmodal.errors import spelled

    tune = f", tuning table {state.tune.source}: {len(state.tune.frame):,} rows" if state.tune is not None else ""
    log.info("training table %s: %s rows%s", state.train.source, f"{len(state.train.frame):,}", tune)
    how = spelled("column_types={COLUMN: TYPE}", "--column-type COLUMN=TYPE")
    log.info("column types (change with %s): %s", how,
             ", ".join(f"{column} {modality}" for column, modality in state.column_types.items()))
    for task in state.tasks:
        classes = f", {len(task.classes)} classes" if task.classes else ""
        log.info("label %s: %s%s", task.name, task.problem_type, classes)
