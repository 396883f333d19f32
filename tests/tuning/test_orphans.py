"""A trial left running by a worker that died before its first heartbeat is failed and replaced."""

from __future__ import annotations

from datetime import datetime, timedelta

import optuna
from optuna.trial import TrialState

from transmodal.tuning.orphans import fail_orphaned_trials
from transmodal.tuning.settings import TuneSettings


def test_an_unmarked_running_trial_is_failed_once_older_than_the_grace_period_and_a_marked_one_is_kept():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    orphan = study.ask()  # running, never marked by an objective: its process died at once
    live = study.ask()
    live.set_user_attr("worker", "host:1")  # the objective marks a trial as it starts
    settings = TuneSettings.from_dict({"n_trials": 3, "heartbeat_seconds": 1})

    assert fail_orphaned_trials(study, settings) == []  # just started: not failed yet
    later = datetime.now() + timedelta(seconds=60)
    assert fail_orphaned_trials(study, settings, now=later) == [orphan.number]

    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert states == {orphan.number: TrialState.FAIL, live.number: TrialState.RUNNING}
    failed = study.get_trials(deepcopy=False)[orphan.number]
    assert "error" not in failed.user_attrs  # failed like a stale trial: it does not count as done
    assert fail_orphaned_trials(study, settings, now=later) == []
