"""Fitting the members of a preset within a time budget, then selecting the ensemble.

The order, top to bottom: :func:`make_splits` (k folds over every row for a small table, else
one holdout split; tuning data given by the user is the holdout), then for each member of the
preset in order :func:`fit_member` (prepare on every row, one model per split, the predictions
of the selection rows kept) within its share of the time left, and with the preset's
``refit_full`` :func:`refit_member` (one model on every row replaces the split models of a kind
that can be refitted, within the same share), then
:func:`transmodal.ensemble.selection.greedy_weights` on the split models' predictions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from transmodal.ensemble.members.base import CLASSICAL_SKIP, MEMBERS, Member, MemberContext, NoFeatures, take
from transmodal.ensemble.presets import Preset

RESERVE = 0.05  # share of the time limit kept for selection and saving


class TimeUp(Exception):
    """A member's time ran out before every split was fitted."""


@dataclass
class MemberResult:
    """One member's outcome (a leaderboard row).

    Attributes:
        name: The member's name in the preset.
        kind: Its kind (a name of the member registry).
        options: Its options.
        member: The fitted member (None when skipped, stopped or failed).
        predictions: Its predictions of the selection rows (None without a member).
        tuning_score: Its eval-metric value on the selection rows (NaN without a member).
        fit_seconds: Seconds spent on it.
        status: ``ok``, or why it is not in the ensemble (skipped, stopped, failed).
    """

    name: str
    kind: str
    options: dict[str, Any]
    member: Member | None = None
    predictions: np.ndarray | None = None
    tuning_score: float = float("nan")
    fit_seconds: float = 0.0
    status: str = "ok"


def make_splits(y: np.ndarray, problem_type: str, preset: Preset, seed: int,
                tuning_rows: np.ndarray | None = None) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The training splits and the selection rows.

    Tuning rows given by the user form the one holdout split; a table of at most
    ``preset.bag_max_rows`` rows is split in ``preset.bag_folds`` folds (stratified for
    classification where every class has enough rows) whose validation parts cover every row;
    otherwise a stratified holdout of ``preset.holdout_fraction``.
    """
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    rows = np.arange(len(y))
    if tuning_rows is not None:
        return [(np.setdiff1d(rows, tuning_rows), np.asarray(tuning_rows))], np.asarray(tuning_rows)
    classify = problem_type != "regression"
    counts = np.bincount(y.astype(int)) if classify else np.array([0])
    if len(y) <= preset.bag_max_rows:
        folds = min(preset.bag_folds, len(y))
        stratify = classify and counts[counts > 0].min() >= folds
        splitter = (StratifiedKFold if stratify else KFold)(n_splits=folds, shuffle=True, random_state=seed)
        return [(a, b) for a, b in splitter.split(rows, y if stratify else None)], rows
    stratify = y if classify and counts[counts > 0].min() >= 2 else None
    fit_rows, tune_rows = train_test_split(rows, test_size=preset.holdout_fraction, random_state=seed,
                                           stratify=stratify)
    fit_rows, tune_rows = np.sort(fit_rows), np.sort(tune_rows)
    return [(fit_rows, tune_rows)], tune_rows


def fit_member(member: Member, frame: pd.DataFrame, y: np.ndarray, splits, selection: np.ndarray,
               deadline: float, must_fit: bool = False) -> tuple[np.ndarray, str]:
    """Fit one model per split; return the predictions of the selection rows (each row predicted
    by the model that did not train on it) and a status.

    A split is not started when the time left is less than the splits so far took on average: with
    at least one split fitted, the rows of the splits not fitted are NaN and the status says
    ``stopped``. With ``must_fit`` the first split is fitted however late it is.

    Raises:
        TimeUp: the deadline passed before any split was fitted.
        NoFeatures: the member reads no column of the table.
        EncodingTimeUp: the frozen embeddings a classical member reads would not be encoded by
            ``deadline`` (a ``TimeoutError``; see :func:`_prepare`).
    """
    _prepare(member, frame, deadline)
    x = member.features(frame)
    if not isinstance(x, pd.DataFrame) and x.shape[1] == 0:
        raise NoFeatures(CLASSICAL_SKIP)
    out: np.ndarray | None = None
    begin, status = time.monotonic(), "ok"
    for i, (train_rows, val_rows) in enumerate(splits):
        left = deadline - time.monotonic()
        if (left <= 0 and not (must_fit and i == 0)) or (i and left < (time.monotonic() - begin) / i):
            status = f"stopped: time limit ({i} of {len(splits)} folds fitted)"
            if not i:
                raise TimeUp(status)
            break
        started = time.monotonic()
        model = member.fit_model(take(x, train_rows), y[train_rows], take(x, val_rows), y[val_rows],
                                 left / (len(splits) - i))
        member.models.append(model)
        member.split_seconds.append((time.monotonic() - started) * len(y) / max(len(train_rows), 1))
        scores = member.validation_scores(model, take(x, val_rows))
        if out is None:
            out = np.full((len(y),) + scores.shape[1:], np.nan, dtype=np.float64)
        out[val_rows] = scores
    return out[selection], status


def _prepare(member: Member, frame: pd.DataFrame, deadline: float) -> None:
    """``member.prepare(frame)``; a member with frozen ``embeddings`` prepares under the encoding
    deadline (:func:`transmodal.engine.encoding.encoding_deadline`), so a cold encoding that would
    overrun its time stops it instead (the other members never import torch here)."""
    if not member.options.get("embeddings"):
        member.prepare(frame)
        return
    from transmodal.engine.encoding import encoding_deadline

    with encoding_deadline(deadline):
        member.prepare(frame)


def refit_member(member: Member, frame: pd.DataFrame, y: np.ndarray, deadline: float) -> str:
    """Replace ``member``'s split models by one model fitted on every row (``refit_full``);
    return what was done, for its status.

    Skipped (the split models are kept) when the kind is not refitted, or when the time left is
    less than :meth:`Member.refit_seconds` (about what a split model took, scaled to every row).
    """
    if type(member).refit_model is Member.refit_model:
        return ""
    left = deadline - time.monotonic()
    needed = member.refit_seconds()
    if left < needed:
        return f"; not refitted on every row (needs about {needed:.0f} s, {max(left, 0):.0f} s left)"
    model = member.refit_model(member.features(frame), y, left)
    if model is None:
        return ""
    member.models = [model]
    return f"; refitted on all {len(y)} rows"


def fit_members(preset: Preset, context: MemberContext, frame: pd.DataFrame, y: np.ndarray, splits,
                selection: np.ndarray, time_limit: float, score: Callable[[np.ndarray, np.ndarray], float],
                log: Callable[[str], None] = lambda message: None) -> list[MemberResult]:
    """Fit the preset's members in order within ``time_limit`` seconds in all.

    A member gets the time left times its budget over the budgets of the members not yet fitted
    (time a member leaves unused goes to the later ones; members whose ``skip_reason`` says they
    cannot read the table are skipped first and get no share); it is skipped when less than its
    ``min_seconds`` is left, unless no member is fitted yet (it then gets ``min_seconds`` and fits
    at least its first split). A member that fails is reported in its row and the fit goes on.
    """
    start = time.monotonic()
    deadline = start + time_limit * (1 - RESERVE)
    reasons = [_skip_reason(plan, context) for plan in preset.members]
    results = []
    for i, plan in enumerate(preset.members):
        result = MemberResult(plan.name, plan.kind, dict(plan.options))
        results.append(result)
        if reasons[i]:
            result.status = reasons[i]
            log(f"{plan.name}: {result.status}")
            continue
        left = deadline - time.monotonic()
        share = plan.budget / sum(p.budget for p, reason in zip(preset.members[i:], reasons[i:]) if not reason)
        allowed = left * min(1.0, share)
        first = not any(r.member for r in results)  # nothing fitted yet: never return nothing
        if first:
            allowed = max(allowed, plan.min_seconds)
        elif allowed < plan.min_seconds:
            result.status = (f"skipped: its share is {max(allowed, 0):.0f} s of the {max(left, 0):.0f} s left, "
                             f"needs {plan.min_seconds:g} s")
            log(f"{plan.name}: {result.status}")
            continue
        begin = time.monotonic()
        try:
            member = MEMBERS.get(plan.kind)(context, dict(plan.options))
            result.predictions, result.status = fit_member(member, frame, y, splits, selection, begin + allowed,
                                                               must_fit=first)
            result.member = member
            result.tuning_score = score_rows(score, result.predictions)
            if preset.refit_full:
                result.status += refit_member(member, frame, y, begin + allowed)
        except (TimeUp, NoFeatures) as stop:
            result.status = str(stop)
        except TimeoutError as stop:  # e.g. its encoding would not end in its time (EncodingTimeUp)
            result.status = f"stopped: {stop}"
        except Exception as err:  # noqa: BLE001 - one member failing leaves the others' ensemble
            if i == len(preset.members) - 1 and not any(r.member for r in results):
                raise
            result.status = f"failed: {type(err).__name__}: {err}"
        result.fit_seconds = time.monotonic() - begin
        log(f"{plan.name}: {result.status}, tuning score {result.tuning_score:.4f}, {result.fit_seconds:.1f} s")
    return results


def _skip_reason(plan, context: MemberContext) -> str | None:
    """The plan's own reason (:meth:`MemberPlan.skip_reason`: ``only_with``, ``only_for``), else the
    member kind's :meth:`Member.skip_reason` for ``plan`` (an unknown kind: None; its fit then
    reports the error in its row)."""
    reason = plan.skip_reason(context.column_types, context.task.problem_type)
    if reason:
        return reason
    try:
        kind = MEMBERS.get(plan.kind)
    except Exception:  # noqa: BLE001 - reported by the member's own fit
        return None
    return kind.skip_reason(context, {**kind.OPTIONS, **plan.options})


def covered(predictions: np.ndarray) -> np.ndarray:
    """The selection rows a member predicted (False where its fold was not fitted)."""
    finite = np.isfinite(predictions)
    return finite if finite.ndim == 1 else finite.all(axis=1)


def score_rows(score: Callable[[np.ndarray, np.ndarray], float], predictions: np.ndarray,
               rows: np.ndarray | None = None) -> float:
    """``score`` of the predictions on ``rows`` (default: the rows the member covered); ``score``
    takes the predictions of the selection rows and a row mask."""
    return score(predictions, covered(predictions) if rows is None else rows)
