"""``report.html``: one self-contained page (inline CSS, PNGs as data URIs, no scripts)."""

from __future__ import annotations

import html
import json
from typing import Any

from transmodal.report import plots

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f0f0f0}h2{border-bottom:2px solid #ddd;padding-bottom:3px}img{max-width:100%}
pre{background:#f7f7f7;padding:.6em;font-size:12px;overflow:auto}"""


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(k))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape("" if value is None else str(value))


def _image(data: str | None, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">' if data else ""


def render_report(config: dict[str, Any], report: dict[str, Any]) -> str:
    """The HTML page of a model folder's ``config.json`` and ``report.json``."""
    history = config.get("history") or {}
    best = history.get("best_epoch")
    parts = [f"<h1>transmodal report: {html.escape(', '.join(t['name'] for t in config['tasks']))}</h1>",
             f"<p>Rows: {report.get('rows', {})}; best epoch {best + 1 if isinstance(best, int) else best} of "
             f"{len(history.get('epochs', []))}; tuning {html.escape(str(config.get('eval_metric')))} score "
             f"{_cell(history.get('best_score'))}; fit {_cell(history.get('fit_seconds'))} s.</p>"]
    data = report.get("data", {})
    parts += ["<h2>Data</h2>", _table(data.get("columns", [])),
              f"<p>Bad cells: {data.get('bad_cells', 0)} in {data.get('bad_rows', 0)} row(s) "
              "(listed in bad_rows.csv when skipped).</p>"]
    parts += ["<h2>Training curves</h2>", _image(plots.training_curves(history.get("epochs", [])), "training curves")]
    for name, task in report.get("tasks", {}).items():
        parts += [f"<h2>Task {html.escape(name)} ({task['problem_type']}), tuning data</h2>",
                  _table([{"metric": k, "value": v} for k, v in task["metrics"].items()])]
        if "confusion" in task:
            parts += [_image(plots.confusion(task["confusion"], task["classes"], f"Confusion matrix: {name}"),
                             "confusion matrix"), "<h3>Per-class metrics</h3>", _table(task["per_class"])]
        if "points" in task:
            parts.append(_image(plots.residuals(task["points"]["true"], task["points"]["pred"],
                                                f"Residuals: {name}"), "residual plot"))
    if report.get("importance"):
        parts += ["<h2>Modality importance</h2><p>Drop of the tuning score when the input is hidden.</p>",
                  _image(plots.bars(report["importance"], "Modality importance", "score drop"), "importance")]
    if report.get("tuning"):
        parts += tuning_section(report["tuning"])
    inputs = [{"input": s["name"], "modality": s["modality"], "encoder": config["encoders"][s["name"]].get("name")}
              for s in config.get("inputs", [])]
    parts += ["<h2>Model</h2>", _table(inputs),
              "<h2>Configuration</h2>", f"<pre>{html.escape(json.dumps(config.get('fit_config'), indent=2))}</pre>",
              "<h2>Environment</h2>", _table([{"name": k, "value": v} for k, v in report.get("environment", {}).items()])]
    body = "\n".join(parts)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>transmodal report</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def _kept(folds: int, final_epochs: int | None = None) -> str:
    """How the model relates to the best trial: its own fit, or (folds) its configuration fitted again
    (on every row for ``final_epochs`` epochs, or with the holdout)."""
    if folds > 1:
        where = f"on every training row for {final_epochs} epoch(s)" if final_epochs else "with the holdout"
        return f", the mean over {folds} folds), its configuration fitted again {where} as this model"
    return "), kept as this model"


def tuning_section(tuning: dict[str, Any]) -> list[str]:
    """The hyperparameter search: counts, the best trial, score per trial, parameter importances and
    the trials table (also in trials.csv)."""
    states = tuning.get("states", {})
    parts = ["<h2>Hyperparameter search</h2>",
             f"<p>Study {html.escape(str(tuning.get('study_name')))} in {html.escape(str(tuning.get('storage')))}, "
             f"space {html.escape(str(tuning.get('search_space')))}, pruner {html.escape(str(tuning.get('pruner')))}: "
             f"{tuning.get('trials')} trial(s), {html.escape(str(states))}; best trial {tuning.get('best_trial')} "
             f"(tuning score {_cell(tuning.get('best_score'))}{_kept(tuning.get('cv_folds') or 1, tuning.get('final_epochs'))}.</p>",
             _image(plots.trial_scores(tuning.get("trials", [])), "score per trial")]
    if tuning.get("importances"):
        parts.append(_image(plots.bars(tuning["importances"], "Parameter importance (fANOVA)", "importance"),
                            "parameter importances"))
    parts.append(_table(tuning.get("trials", [])))
    return parts
