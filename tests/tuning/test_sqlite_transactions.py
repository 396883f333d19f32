"""Workers sharing a SQLite study: a trial is popped by one worker only; a new study starts once."""

from __future__ import annotations

import threading
import time

import optuna
from optuna.trial import TrialState
from sqlalchemy import event

from transmodal.tuning import study as study_module
from transmodal.tuning.settings import TuneSettings
from transmodal.tuning.storage import make_storage
from transmodal.tuning.study import create_or_load, stored_identity

PAUSE_S = 0.5  # worker A's pause between reading a trial and writing it: B tries to take the trial then


def settings_for(tmp_path) -> TuneSettings:
    return TuneSettings(n_trials=2, storage=f"sqlite:///{tmp_path / 'study.db'}", heartbeat_seconds=1)


def test_two_workers_that_both_read_a_waiting_trial_do_not_both_run_it(tmp_path):
    settings = settings_for(tmp_path)
    storage_a, storage_b = make_storage(settings), make_storage(settings)
    study = optuna.create_study(storage=storage_a, study_name="s")
    study.enqueue_trial({"x": 1.0})
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))[0]._trial_id
    results: dict[str, bool] = {}
    took_b = threading.Thread(
        target=lambda: results.update(b=storage_b.set_trial_state_values(waiting, TrialState.RUNNING)))

    def pause_after_reading_the_trial(conn, cursor, statement, parameters, context, executemany):
        # A has read the trial (WAITING) and not yet written it: B tries to take it meanwhile
        if statement.lstrip().upper().startswith("SELECT") and "FROM trials" in statement and not took_b.is_alive() \
                and "b" not in results:
            took_b.start()
            time.sleep(PAUSE_S)

    event.listen(storage_a.engine, "after_cursor_execute", pause_after_reading_the_trial)
    results["a"] = storage_a.set_trial_state_values(waiting, TrialState.RUNNING)
    took_b.join(timeout=30)
    assert not took_b.is_alive()
    assert sorted(results.values()) == [False, True]  # exactly one worker runs the trial
    assert results["a"] is True  # A read it first and holds it; B saw it running
    assert optuna.load_study(study_name="s", storage=storage_b).trials[0].state == TrialState.RUNNING


def test_a_worker_loading_a_study_its_creator_is_starting_waits_for_the_creators_identity(tmp_path):
    settings = settings_for(tmp_path)
    created, was_created = create_or_load(settings, "s", optuna.pruners.NopPruner(), None)
    loaded, was_loaded = create_or_load(settings, "s", optuna.pruners.NopPruner(), None)
    assert (was_created, was_loaded) == (True, False)
    identity = {"labels": ["label"], "seed": 0}
    starter = threading.Timer(0.5, lambda: created.set_user_attr("transmodal", identity))
    starter.start()
    assert stored_identity(loaded) == identity  # waited for the creator, did not start the study itself
    starter.join()


def test_a_study_whose_creator_stopped_before_starting_it_is_started_by_the_next_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(study_module, "IDENTITY_WAIT_SECONDS", 0.3)
    settings = settings_for(tmp_path)
    create_or_load(settings, "s", optuna.pruners.NopPruner(), None)  # created, never started
    loaded, was_created = create_or_load(settings, "s", optuna.pruners.NopPruner(), None)
    started = time.monotonic()
    assert not was_created and stored_identity(loaded) is None
    assert time.monotonic() - started >= 0.3
