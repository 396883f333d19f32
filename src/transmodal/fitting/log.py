"""What a fit tells its user while it runs, and the log it keeps.

Every part of transmodal reports status with the standard :mod:`logging` module, on a logger named
after its module (``logging.getLogger(__name__)``: ``transmodal.fitting.precheck``,
``transmodal.engine.callbacks``, ...). While a fit runs, :func:`captured_log` collects the lines of
every ``transmodal.*`` logger (INFO and above) for the model folder's ``fit.log``; the command line
also shows them as they come. Python users see them when they configure logging, e.g.
``logging.basicConfig(level="INFO")``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
ROOT = "transmodal"

log = logging.getLogger(__name__)


class _Lines(logging.Handler):
    """Keeps formatted records in memory."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - a log line never breaks a fit
            self.handleError(record)


@contextlib.contextmanager
def captured_log() -> Iterator[list[str]]:
    """Collect the ``transmodal.*`` log lines (INFO and above) written inside the block.

    Yields:
        The list the lines are appended to (``fit.log``'s content).
    """
    logger = logging.getLogger(ROOT)
    handler = _Lines()
    level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)  # no effect on what Python users see: no handler prints INFO by default
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


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
