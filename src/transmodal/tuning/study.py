"""``run_study``: an Optuna study whose trials are fits of the fit pipeline.

Read top to bottom: the search space is loaded and checked against the fit's config; the study is
opened (in memory, or created or loaded in a database); worker processes start when ``n_jobs`` > 1;
this process runs trials until the study holds ``n_trials`` finished ones (or the timeout passes);
the best trial's fit is the result (fitted again with its parameters when another process ran it;
when trials were scored on folds, ``tune.cv_folds``, :mod:`transmodal.tuning.folds`, its fold fits,
or its configuration fitted on every row or with the holdout: ``tune.final_fit``,
:mod:`transmodal.tuning.final`); the trials table
and the parameter importances go to the history and the run report. A new study's first trial is
the fit's own hyperparameters (``tune.base_trial``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from transmodal.config import FitConfig
from transmodal.errors import ConfigError, DataError
from transmodal.fitting.pipeline import FitResult, run_fit
from transmodal.fitting.state import FitRequest
from transmodal.tuning.final import final_model
from transmodal.tuning.orphans import fail_orphaned_trials
from transmodal.tuning.settings import TuneSettings
from transmodal.tuning.storage import make_storage
from transmodal.tuning.space import SearchSpace
from transmodal.tuning.trials import param_importances, trial_row

LOG = logging.getLogger("transmodal.tuning")
IDENTITY_IGNORES = ("progress_bar", "num_workers")  # config keys that may differ between a study's runs
IDENTITY_WAIT_SECONDS = 10.0  # how long a worker that loads a new study waits for its creator to start it


class TrialFailed(Exception):
    """A trial's fit raised: the trial is recorded as failed (with the error) and the study goes on."""


@dataclass
class TuneOutcome:
    """What a study produced.

    Attributes:
        results: The model's fits: the best trial's fit (or its configuration's final fit), one;
            with ``tune.final_fit="fold_models"``, its k fold fits, in fold order.
        config: The best trial's hyperparameters (as the final fit used them).
        summary: The study in a few numbers (joins the predictor's history as ``tuning``).
        trials: One row per trial of the study (``trials.csv``).
    """

    results: list[FitResult]
    config: FitConfig
    summary: dict[str, Any]
    trials: list[dict[str, Any]]

    @property
    def result(self) -> FitResult:
        """The model's one fit (not for ``fold_models``, which keeps k)."""
        if len(self.results) != 1:
            raise ValueError(f"the study kept {len(self.results)} fold fits, not one")
        return self.results[0]


def run_study(request: FitRequest, train, tune, settings: TuneSettings) -> TuneOutcome:
    """Search hyperparameters: every trial is a fit of ``request`` with the trial's config.

    Args:
        request: The fit asked for; its config is the base every trial changes.
        train: The training table.
        tune: The tuning table, or None (the fit's holdout, the same rows in every trial).
        settings: The ``tune`` section.

    Each finished trial is logged (INFO) on the ``transmodal.tuning`` logger; the CLI prints it.

    Raises:
        ConfigError: a bad search space (naming the key), storage or study, or no trial completed.
        DataError: the tables cannot be used (raised by the first trial, not retried).
    """
    if tune is None and request.config.holdout_fraction == 0 and settings.cv_folds == 1:
        raise ConfigError("tuning compares trials on tuning rows: give tuning_data, holdout_fraction > 0 "
                          "or tune.cv_folds >= 2")
    space = SearchSpace.load(settings.search_space)
    base = request.config.to_dict()
    space.check(base)
    study = open_study(request, settings, space, base)
    objective = Objective(request, train, tune, space, base, settings)
    started = time.monotonic()
    workers = start_workers(request, train, tune, settings)
    run_trials(study, objective, settings, started)
    failures = [f"worker {p.pid} exited with code {p.exitcode}" for p in join_workers(workers) if p.exitcode]
    results, config, refit, final = final_model(study, objective)
    rows = [trial_row(t) for t in study.get_trials(deepcopy=False)]
    summary = study_summary(study, settings, space, request, rows)
    summary.update(seconds=time.monotonic() - started, refit=refit, worker_failures=failures,
                   importances=param_importances(study, request.seed), **final)
    return TuneOutcome(results, config, summary, rows)


class Objective:
    """One trial: the trial's hyperparameters, its fit (or one fit per fold) with pruning, the
    (mean) best tuning score.

    Keeps the best trial's fits this process ran (their networks): without folds its fit, with
    ``tune.final_fit="fold_models"`` its fold fits, so that the saved model is the best trial's
    without training it again when this process ran it.
    """

    def __init__(self, request: FitRequest, train, tune, space: SearchSpace, base: dict[str, Any],
                 settings: TuneSettings) -> None:
        self.request, self.train, self.tune = request, train, tune
        self.space, self.base, self.settings = space, base, settings
        self.folds = trial_folds(request, train, settings)  # None: trials are scored on ``tune``
        self.best: tuple[int, float, list[FitResult], FitConfig] | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        config = FitConfig.from_dict(self.space.suggest(trial, self.base))
        try:
            fits = self.fit_trial(config, trial)
            scores = [float(result.history["best_score"]) for result in fits]
            score = sum(scores) / len(scores)
            if not math.isfinite(score):
                raise ConfigError(f"the tuning score is {score} (no finite score in any epoch)")
        except (optuna.TrialPruned, DataError):
            raise
        except Exception as err:  # noqa: BLE001 - any other failure belongs to this trial's config
            trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:1000])
            raise TrialFailed(str(err)) from err
        trial.set_user_attr("best_epoch", fits[0].history.get("best_epoch"))
        trial.set_user_attr("encoded_cells", sum(encoded_cells(result.history) for result in fits))
        trial.set_user_attr("epochs", sum(len(result.history.get("epochs", [])) for result in fits))
        if self.folds is not None:
            trial.set_user_attr("fold_scores", " ".join(f"{value:.4f}" for value in scores))
            trial.set_user_attr("fold_epochs", " ".join(str(int(r.history["best_epoch"]) + 1) for r in fits))
        if (self.folds is None or self.settings.final_fit == "fold_models") and (self.best is None or score > self.best[1]):
            self.best = (trial.number, score, fits, config)
        return score

    def fit_trial(self, config: FitConfig, trial: optuna.Trial) -> list[FitResult]:
        """The trial's fits: one on the tuning rows, or one per fold; the pruner watches the first."""
        if self.folds is None:
            return [run_fit(self.request_for(config, trial), self.train, self.tune)]
        return [run_fit(self.request_for(config, trial if i == 0 else None), train, tune)
                for i, (train, tune) in enumerate(self.folds)]

    def request_for(self, config: FitConfig, trial: optuna.Trial | None = None) -> FitRequest:
        """The fit request of a trial (with the pruning callback) or of a refit (``trial`` None)."""
        from transmodal.tuning.pruning import PruneOnScore

        options = dict(self.request.options)
        if self.settings.features_shared:
            options["feature_memo"] = True
        if trial is not None:
            options["callbacks"] = [*(options.get("callbacks") or ()), PruneOnScore(trial)]
        return dataclasses.replace(self.request, config=config, options=options)


def trial_folds(request: FitRequest, train, settings: TuneSettings) -> list | None:
    """The (training, tuning) tables of each fold when ``settings.cv_folds`` >= 2, else None;
    stratified on the first label, shuffled by the fit's seed."""
    if settings.cv_folds < 2:
        return None
    from transmodal.fitting.tables import prepare_tasks
    from transmodal.tuning.folds import fold_tables

    first = prepare_tasks(train, request.labels, request.problem_type)[0]
    return fold_tables(train, first.name, first.problem_type, settings.cv_folds, request.seed)


def encoded_cells(history: dict[str, Any]) -> int:
    """Cells a fit's frozen encoders encoded (not found in the embedding store): 0 once a study's
    features are shared."""
    stages = history.get("encoding") or {}
    return sum(int(stats.get("encoded", 0)) for inputs in stages.values() for stats in inputs.values())


def open_study(request: FitRequest, settings: TuneSettings, space: SearchSpace, base: dict[str, Any]) -> optuna.Study:
    """Create the study, or load it from the storage; a loaded study must be the same search.

    Raises:
        ConfigError: the storage URL is not one Optuna accepts, or the stored study was started with
            another search space, seed, labels or base config.
    """
    from transmodal.tuning.sampler import TrialSeededTPE

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trials are reported by transmodal
    name = settings.name_for(request.labels)
    try:
        study, created = create_or_load(settings, name, make_pruner(settings), TrialSeededTPE(request.seed))
    except ConfigError:
        raise
    except Exception as err:  # noqa: BLE001 - SQLAlchemy and Optuna raise many kinds here
        raise ConfigError(f"cannot open study {name!r} in tune.storage {redact(settings.storage)}: "
                          f"{type(err).__name__}: {err}") from err
    identity = {"labels": list(request.labels), "seed": request.seed, "search_space": space.to_dict(),
                "config": {k: v for k, v in base.items() if k not in IDENTITY_IGNORES}}
    if settings.cv_folds > 1:  # trials scored on folds are not comparable with trials scored on one holdout
        identity["cv_folds"] = settings.cv_folds
    identity = _json_roundtrip(identity)
    stored = None if created else stored_identity(study)
    if stored is None:  # base trial first: a worker that sees the identity finds the base trial queued
        enqueue_base(study, settings, space, base)
        study.set_user_attr("transmodal", identity)
    elif stored != identity:
        changed = sorted(k for k in identity if identity[k] != stored.get(k))
        raise ConfigError(f"study {name!r} in {redact(settings.storage)} was started with other {', '.join(changed)}; "
                          "run it with the same settings, or give another tune.study_name")
    return study


def create_or_load(settings: TuneSettings, name: str, pruner, sampler) -> tuple[optuna.Study, bool]:
    """The study named ``name``, and whether this process created it (else it was in the storage)."""
    storage = make_storage(settings)
    try:
        return optuna.create_study(storage=storage, study_name=name, direction="maximize", sampler=sampler,
                                   pruner=pruner), True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner), False


def stored_identity(study: optuna.Study) -> dict[str, Any] | None:
    """The search a loaded study was started with (``transmodal`` user attribute). A study created a
    moment ago by another worker gets it within milliseconds: wait for it up to
    ``IDENTITY_WAIT_SECONDS``; None after that (its creator stopped first: this worker starts it)."""
    deadline = time.monotonic() + IDENTITY_WAIT_SECONDS
    while (stored := study.user_attrs.get("transmodal")) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return stored


def enqueue_base(study: optuna.Study, settings: TuneSettings, space: SearchSpace, base: dict[str, Any]) -> None:
    """A new study's first trial: the base config's values of the space's keys (``tune.base_trial``);
    nothing when the base gives none of them a value the space holds."""
    values = space.base_values(base) if settings.base_trial else {}
    if values:
        study.enqueue_trial(values, skip_if_exists=True)  # a study resumed after its creator stopped: added once


def make_pruner(settings: TuneSettings) -> optuna.pruners.BasePruner:
    """The pruner of ``settings.pruner``, stepping on epochs."""
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=settings.startup_trials,
                                           n_warmup_steps=settings.warmup_epochs)
    if settings.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def run_trials(study: optuna.Study, objective: Objective, settings: TuneSettings, started: float) -> None:
    """Run trials one at a time until the study holds ``n_trials`` finished ones or the timeout
    passes. When the trials still running elsewhere would reach the count, wait for them instead of
    starting more (a killed worker's trial is failed once its heartbeat is stale, and replaced)."""
    callbacks = [lambda _study, frozen: LOG.info(describe(trial_row(frozen)))]
    while settings.timeout is None or time.monotonic() - started < settings.timeout:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        fail_orphaned_trials(study, settings)
        done, running = trial_counts(study)
        if settings.n_trials is not None and done >= settings.n_trials:
            return
        if settings.n_trials is not None and done + running >= settings.n_trials:
            time.sleep(min(2.0, settings.heartbeat_seconds))
            continue
        study.optimize(objective, n_trials=1, catch=(TrialFailed,), callbacks=callbacks)


def describe(row: dict[str, Any]) -> str:
    """One line about a finished trial: number, state, score, seconds, parameters or error."""
    score = "" if row["score"] is None else f" score {row['score']:.4f}"
    seconds = "" if row["seconds"] is None else f" in {row['seconds']:.1f} s"
    params = ", ".join(f"{k.removeprefix('params.')}={_short(v)}" for k, v in row.items() if k.startswith("params."))
    error = f": {row['error']}" if row.get("error") else ""
    return f"trial {row['number']} {row['state']}{score}{seconds} ({params}){error}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def trial_counts(study: optuna.Study) -> tuple[int, int]:
    """(finished trials that count, running trials): complete, pruned, and failed by their own error
    count; a trial failed because its process died (no error recorded) does not."""
    done = running = 0
    for t in study.get_trials(deepcopy=False):
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED) or (t.state == TrialState.FAIL and "error" in t.user_attrs):
            done += 1
        elif t.state == TrialState.RUNNING:
            running += 1
    return done, running


def study_summary(study: optuna.Study, settings: TuneSettings, space: SearchSpace, request: FitRequest,
                  rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The study in a few numbers: name, storage (password hidden), space, counts per state, best trial."""
    states = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail", "running")}
    finished = states["complete"] + states["pruned"] + states["fail"]
    best = study.best_trial
    return {"study_name": settings.name_for(request.labels), "storage": redact(settings.storage),
            "search_space": space.source, "pruner": settings.pruner, "cv_folds": settings.cv_folds,
            "trials": len(rows), "states": states,
            "pruned_share": states["pruned"] / finished if finished else 0.0, "best_trial": best.number,
            "best_score": best.value, "best_params": dict(best.params)}


def redact(url: str | None) -> str:
    """A storage URL with its password hidden ("memory" for None)."""
    if url is None:
        return "memory"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: show nothing of it
        return "<storage>"


def start_workers(request: FitRequest, train, tune, settings: TuneSettings) -> list:
    """``n_jobs - 1`` worker processes that run trials of the same study (through its storage)."""
    if settings.n_jobs <= 1:
        return []
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch threads
    workers = [context.Process(target=worker_main, args=(request, train, tune, settings), daemon=False)
               for _ in range(settings.n_jobs - 1)]
    for worker in workers:
        worker.start()
    return workers


def join_workers(workers: list) -> list:
    """Wait for the worker processes; returns them (their exit codes are read by the caller)."""
    for worker in workers:
        worker.join()
    return workers


def worker_main(request: FitRequest, train, tune, settings: TuneSettings) -> None:
    """A worker process: run trials of the study; the process that started it saves the model."""
    space = SearchSpace.load(settings.search_space)
    base = request.config.to_dict()
    study = open_study(request, settings, space, base)
    run_trials(study, Objective(request, train, tune, space, base, settings), settings, time.monotonic())


def _json_roundtrip(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))
