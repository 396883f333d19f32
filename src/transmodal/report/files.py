"""Files a fit leaves beside the model: ``report.json``, ``report.html``, ``fit.log`` (the fit's
status lines), ``metrics.csv`` (one row per epoch), ``bad_rows.csv`` (skipped rows) and, after a
hyperparameter search, ``trials.csv``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from transmodal.config import save_json
from transmodal.engine.run_log import METRICS_CSV, write_fit_log, write_metrics_csv

REPORT_JSON, REPORT_HTML, BAD_ROWS, TRIALS = "report.json", "report.html", "bad_rows.csv", "trials.csv"


def write_run_files(predictor, folder: Path) -> None:
    """Write the run files of a freshly fitted ``predictor`` into its model folder and re-seal the
    manifest. Bad rows are written only when some were skipped, trials only after a search; ``fit.log``
    only by the predictor that ran the fit (a loaded one has no log to write)."""
    from transmodal.persistence import write_manifest

    folder = Path(folder)
    bad = getattr(predictor, "bad_rows_", [])
    if bad:
        from transmodal.errors import row_number

        # rows as the messages name them: the spreadsheet row (JSON lines: the line; a DataFrame: iloc)
        frame = pd.DataFrame([{"file": b.file, "row": row_number(b.file, b.row) if b.row >= 0 else None,
                               "column": b.column, "reason": b.reason} for b in bad])
        tmp = folder / (BAD_ROWS + ".tmp")
        frame.to_csv(tmp, index=False)
        tmp.replace(folder / BAD_ROWS)
    epochs = (getattr(predictor, "history_", None) or {}).get("epochs")
    if epochs:
        write_metrics_csv(epochs, folder / METRICS_CSV)
    lines = getattr(predictor, "fit_log_", None)
    if lines is not None:
        write_fit_log(lines, folder)
    report = getattr(predictor, "report_", None)
    trials = ((report or {}).get("tuning") or {}).get("trials")
    if trials:  # every trial of a search: parameters, score, state, time
        tmp = folder / (TRIALS + ".tmp")
        pd.DataFrame(trials).to_csv(tmp, index=False)
        tmp.replace(folder / TRIALS)
    if report is not None:
        save_json(report, folder / REPORT_JSON)
        write_html(folder, predictor.saved_config(), report)
    write_manifest(folder)


def write_html(folder: Path, config: dict, report: dict) -> Path:
    """Render ``report.html`` into ``folder`` atomically."""
    from transmodal.report.render import render_report

    path = Path(folder) / REPORT_HTML
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_report(config, report), encoding="utf-8")
    tmp.replace(path)
    return path


def render_folder(folder: Path, out: Path | None = None) -> Path:
    """Re-render the report of a saved (verified) model folder; returns the HTML path."""
    from transmodal.errors import ModelLoadError
    from transmodal.persistence import folder_lock, verify_folder, write_manifest

    config = verify_folder(folder)
    path = Path(folder) / REPORT_JSON
    if not path.is_file():
        raise ModelLoadError(f"{folder} has no {REPORT_JSON}; it was saved without a fit report")
    report = json.loads(path.read_text(encoding="utf-8"))
    if out is not None:
        from transmodal.report.render import render_report

        Path(out).write_text(render_report(config, report), encoding="utf-8")
        return Path(out)
    with folder_lock(folder):  # no other writer in between; readers check the manifest
        html = write_html(Path(folder), config, report)
        write_manifest(folder)
    return html
