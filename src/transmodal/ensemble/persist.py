"""Saving and loading an :class:`~transmodal.ensemble.auto.AutoPredictor` (layout in
:mod:`transmodal.ensemble.files`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from transmodal.engine.run_log import METRICS_CSV, write_fit_log, write_metrics_csv
from transmodal.ensemble.files import read_members, state_of, write_members
from transmodal.errors import ModelLoadError

FORMAT_VERSION = 1  # of an ensemble's config.json


def ensemble_config(auto) -> dict[str, Any]:
    """Everything but the members' files, as JSON-serialisable data."""
    return {"version": FORMAT_VERSION, "params": auto.get_params(), "task": auto.task_.to_dict(),
            "column_types": dict(auto.column_types_), "eval_metric": auto.eval_metric_, "preset": auto.preset_,
            "time_limit": auto.time_limit_, "fit_seconds": auto.fit_seconds_, "tuning_score": auto.tuning_score_,
            "bagged": auto.bagged_, "weights": dict(auto.weights_), "tuning": getattr(auto, "tuning_", None),
            "blend": auto.blend_,
            "members": [{**row, "saved": row["member"] in saved_members(auto)} for row in auto.results_]}


def saved_members(auto) -> list[str]:
    """The members a folder keeps: those with a weight."""
    return [name for name in auto.members_ if auto.weights_.get(name, 0.0) > 0]


def save_ensemble(auto, path: str | Path) -> Path:
    """Write the ensemble's folder under the manifest (see :func:`transmodal.persistence.save_folder`)."""
    from transmodal.persistence import save_folder

    saved = {name: auto.members_[name].save() for name in saved_members(auto)}
    tensors, external = state_of(saved)

    def extra(staging: Path) -> None:
        write_members(staging, saved)
        board = auto.leaderboard()
        board.to_csv(staging / "leaderboard.csv", index=False)
        if getattr(auto, "trials_", None):  # a search's fold models (ensemble.tuned): its trials
            import pandas as pd

            pd.DataFrame(auto.trials_).to_csv(staging / "trials.csv", index=False)
        (staging / "report.html").write_text(report_html(auto, board), encoding="utf-8")
        write_metrics_csv(member_epochs(auto), staging / METRICS_CSV)
        if getattr(auto, "fit_log_", None) is not None:  # the ensemble that ran the fit (a loaded one has no log)
            write_fit_log(auto.fit_log_, staging)

    return save_folder(path, {"ensemble": ensemble_config(auto)}, tensors, extra=extra, external=external)


def member_epochs(auto) -> list[dict[str, Any]]:
    """``metrics.csv``'s rows: every training epoch of each neural member's models (``model``: the
    fold or split it was fitted on, in order), and one row for each classical member that was fitted
    (it trains in one pass: its fit seconds and tuning score). Epochs counted from 0, as histories do."""
    rows: list[dict[str, Any]] = []
    for result in auto.results_:
        name, member = result["member"], auto.members_.get(result["member"])
        if member is not None and member.kind == "neural":
            for index, model in enumerate(member.models):
                epochs = (getattr(model, "history_", None) or {}).get("epochs") or []
                rows += [{"member": name, "model": index, **epoch} for epoch in epochs]
        elif result.get("fit_seconds") and not math.isnan(result.get("tuning_score", math.nan)):  # fitted
            rows.append({"member": name, "epoch": 0, "epoch_seconds": result["fit_seconds"],
                         "val_score": result["tuning_score"]})
    return rows


def load_ensemble(cls, path: str | Path, trust_remote_code: bool = False, allowed_root: str | Path | None = None):
    """Read an ensemble folder: manifest and digests first, then each member from its files."""
    from transmodal.ensemble.members.base import MEMBERS, MemberContext
    from transmodal.heads.task import TaskSpec
    from transmodal.persistence import WEIGHTS_FILE, read_folder, weights_from_bytes
    from transmodal.saved.loader import effective_root

    path = Path(path)
    folder = read_folder(path, weights=True)
    config = folder.config.get("ensemble")
    if not isinstance(config, dict):
        raise ModelLoadError(f"{path} holds a single predictor, not an ensemble; load it with "
                             "transmodal.MultimodalPredictor.load")
    weights = weights_from_bytes(folder.weights, path / WEIGHTS_FILE)
    try:
        params = dict(config["params"])
        params["allowed_root"] = effective_root(allowed_root, params.get("allowed_root"))
        auto = cls(**params)
        auto.task_ = TaskSpec(**config["task"])
        auto.column_types_, auto.eval_metric_ = dict(config["column_types"]), config["eval_metric"]
        auto.preset_, auto.time_limit_, auto.fit_seconds_ = config["preset"], config["time_limit"], config["fit_seconds"]
        auto.tuning_score_, auto.bagged_ = config["tuning_score"], config["bagged"]
        auto.tuning_ = config.get("tuning")  # a search's summary (ensemble.tuned); None for a preset's fit
        auto.blend_ = config.get("blend", "mean")  # folders saved before the option: probabilities averaged
        auto.weights_, auto.results_, auto.bad_rows_ = dict(config["weights"]), list(config["members"]), []
        entries = [{"name": r["member"], "kind": r["kind"], "saved": r["saved"]} for r in auto.results_]
        files = read_members(path, folder.manifest, weights, entries)
        context = MemberContext(auto.label, auto.task_, auto.column_types_, auto.eval_metric_, 0, params["allowed_root"])
        auto.members_ = {}
        for row in auto.results_:
            if row["saved"]:
                kind = MEMBERS.get(row["kind"])
                auto.members_[row["member"]] = kind.load(context, row["options"], files[row["member"]], path=path,
                                                         trust_remote_code=trust_remote_code,
                                                         allowed_root=params["allowed_root"])
    except ModelLoadError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise ModelLoadError(f"{path / 'config.json'} is malformed: {type(err).__name__}: {err}") from None
    return auto


def report_html(auto, board) -> str:
    """The run report of an ensemble: what was fitted and the leaderboard (text escaped)."""
    import html

    limit = "" if auto.time_limit_ is None else f" of {auto.time_limit_:g} s"
    rows = "".join(f"<li>{html.escape(str(c))}: {html.escape(m)}</li>" for c, m in auto.column_types_.items())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>transmodal ensemble: "
            f"{html.escape(auto.label)}</title></head><body><h1>Ensemble for {html.escape(auto.label)}</h1>"
            f"<p>preset {html.escape(auto.preset_)}, {html.escape(auto.task_.problem_type)}, selected on "
            f"{html.escape(auto.eval_metric_)}; fit {auto.fit_seconds_:.1f} s{limit}; "
            f"{'k-fold bagged' if auto.bagged_ else 'holdout'} tuning rows</p><h2>Leaderboard</h2>"
            f"{board.to_html(index=False, float_format=lambda v: f'{v:.4f}', na_rep='')}"
            f"<h2>Columns</h2><ul>{rows}</ul></body></html>")
