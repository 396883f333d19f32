"""What every fit keeps of its run: ``fit.log`` (its status lines) and ``metrics.csv`` (one row per
training epoch).

Every part of transmodal reports status with the standard :mod:`logging` module, on a logger named
after its module (``logging.getLogger(__name__)``). While a fit runs, :func:`captured_log` collects
the lines of every ``transmodal.*`` logger (INFO and above); the model folder of the fit keeps them
as ``fit.log``, whatever the fit was (a predictor, an ensemble of a preset or of a search's fold
models, an aligned model). The command line also shows the lines as they come; Python users see them
when they configure logging, e.g. ``logging.basicConfig(level="INFO")``.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
ROOT = "transmodal"
FIT_LOG, METRICS_CSV = "fit.log", "metrics.csv"
LEADING_COLUMNS = ("member", "model", "epoch", "epoch_seconds", "train_loss", "val_score")


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


def write_fit_log(lines: list[str], folder: Path) -> None:
    """Write ``lines`` as the folder's ``fit.log``, atomically."""
    path = Path(folder) / FIT_LOG
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    tmp.replace(path)


def write_metrics_csv(epochs: list[dict], path: Path) -> None:
    """One row per epoch (``epoch`` counted from 1, as the fit's log shows it; the rows hold it counted
    from 0, as the training history does): seconds, training loss and every tuning metric, written
    atomically. Rows of several models (an ensemble's) name them in ``member`` and ``model``."""
    import pandas as pd

    frame = pd.DataFrame(epochs, columns=None if epochs else list(LEADING_COLUMNS[2:]))
    frame["epoch"] = frame["epoch"] + 1
    first = [c for c in LEADING_COLUMNS if c in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
