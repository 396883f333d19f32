"""Studies in SQLite: a killed study resumes to N trials in total; two workers share one study."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

import transmodal
from tunetools import SPACE, TRIAL_HYPERPARAMETERS, numbers_table, write_numbers

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(transmodal.__file__).resolve().parents[1]), str(HERE)])}
STUDY = "transmodal-label"

RESUMABLE = """
import sys
from transmodal import MultimodalPredictor
from tunetools import SPACE, TRIAL_HYPERPARAMETERS, numbers_table

url, n_trials = sys.argv[1], int(sys.argv[2])
predictor = MultimodalPredictor(label="label").fit(
    numbers_table(), hyperparameters=TRIAL_HYPERPARAMETERS, seed=0,
    tune={"n_trials": n_trials, "search_space": SPACE, "pruner": "none", "storage": url, "heartbeat_seconds": 1})
print("best", predictor.history_["tuning"]["best_trial"], predictor.history_["tuning"]["states"])
"""


def stored_trials(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=STUDY, storage=url).get_trials(deepcopy=False)


def count(url: str, state: TrialState) -> int:
    try:
        return sum(t.state == state for t in stored_trials(url))
    except KeyError:  # the study is not created yet
        return 0


def test_a_study_killed_after_two_trials_resumes_to_n_trials_in_total(tmp_path):
    script = tmp_path / "study.py"
    script.write_text(RESUMABLE, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    process = subprocess.Popen([sys.executable, str(script), url, "5"], env=ENV, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while count(url, TrialState.COMPLETE) < 2:
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline, "two trials did not finish in time"
        time.sleep(0.1)
    process.kill()
    process.wait()
    first = {t.number: t.params for t in stored_trials(url) if t.state == TrialState.COMPLETE}
    assert 2 <= len(first) < 5

    resumed = subprocess.run([sys.executable, str(script), url, "5"], env=ENV, cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    trials = stored_trials(url)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    lost = [t for t in trials if t.state != TrialState.COMPLETE]
    assert len(complete) == 5  # N in total, not N more
    assert {t.number: t.params for t in complete if t.number in first} == first  # the first run's trials kept
    assert len(lost) <= 1  # the trial running at the kill, failed by its stale heartbeat, not counted
    assert all(t.state == TrialState.FAIL and "error" not in t.user_attrs for t in lost)


def test_two_workers_sharing_one_sqlite_study_complete_n_trials_without_duplicates(tmp_path):
    # ~1.5 s trials (1,000 rows, 4 epochs): six of them outlast the few seconds by which one worker's start
    # (imports, a lost race to create the tables) can lag the other's, so both get trials
    table = write_numbers(tmp_path, n=1000)
    config = tmp_path / "base.yaml"
    config.write_text(yaml.safe_dump({**TRIAL_HYPERPARAMETERS, "max_epochs": 4}), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    command = [sys.executable, "-m", "transmodal", "tune", str(table), "--label", "label", "--trials", "6",
               "--storage", url, "--search-space", str(tmp_path / "space.yaml"), "--pruner", "none",
               "--config", str(config)]
    workers = [subprocess.Popen(command + ["--out", str(tmp_path / f"model{i}")], env=ENV, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outputs = [w.communicate(timeout=900)[0] for w in workers]
    shown = "\n----- next worker -----\n".join(out[-4000:] for out in outputs)  # a string: shown whole on failure
    assert [w.returncode for w in workers] == [0, 0], shown
    assert not any("error" in out.lower() for out in outputs), shown
    trials = stored_trials(url)
    assert len(trials) == 6 and all(t.state == TrialState.COMPLETE for t in trials)
    assert sorted(t.number for t in trials) == list(range(6))
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6  # no parameters drawn twice
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both processes ran trials
    for i in range(2):  # each worker saved the study's best trial
        assert (tmp_path / f"model{i}" / "trials.csv").read_text().count("\n") == 7


def test_n_jobs_starts_worker_processes_on_one_study(tmp_path):
    from transmodal import MultimodalPredictor

    url = f"sqlite:///{tmp_path / 'study.db'}"
    predictor = MultimodalPredictor(label="label").fit(
        numbers_table(), hyperparameters=TRIAL_HYPERPARAMETERS, seed=0,
        tune={"n_trials": 4, "search_space": SPACE, "pruner": "none", "storage": url, "n_jobs": 2})
    trials = stored_trials(url)
    assert len(trials) == 4 and all(t.state == TrialState.COMPLETE for t in trials)
    assert predictor.history_["tuning"]["worker_failures"] == []
    assert predictor.history_["tuning"]["states"]["complete"] == 4
