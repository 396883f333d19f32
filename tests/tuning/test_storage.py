"""Studies in SQLite: a killed study resumes to N trials in total; two workers share one study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
import os
import signal
import sys

import lightning as L

from transmodal import MultimodalPredictor
from tunetools import SPACE, TRIAL_HYPERPARAMETERS, numbers_table


class KillAtTrainingStart(L.Callback):
    \"\"\"SIGKILL this process when its ``n``-th trial starts training (0: never).\"\"\"

    def __init__(self, n):
        self.n, self.started = n, 0

    def on_train_start(self, trainer, module):
        self.started += 1
        if self.started == self.n:
            os.kill(os.getpid(), signal.SIGKILL)


url, n_trials, kill_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
predictor = MultimodalPredictor(label="label").fit(
    numbers_table(), hyperparameters=TRIAL_HYPERPARAMETERS, seed=0, callbacks=[KillAtTrainingStart(kill_at)],
    tune={"n_trials": n_trials, "search_space": SPACE, "pruner": "none", "storage": url, "heartbeat_seconds": 1})
print("best", predictor.history_["tuning"]["best_trial"], predictor.history_["tuning"]["states"])
"""

def stored_trials(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=STUDY, storage=url).get_trials(deepcopy=False)


def test_a_study_killed_after_two_trials_resumes_to_n_trials_in_total(tmp_path):
    script = tmp_path / "study.py"
    script.write_text(RESUMABLE, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    # the process kills itself as its third trial starts training: two trials complete, one left running
    killed = subprocess.run([sys.executable, str(script), url, "5", "3"], env=ENV, cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    first = {t.number: t.params for t in stored_trials(url) if t.state == TrialState.COMPLETE}
    assert sorted(first) == [0, 1]
    assert [t.number for t in stored_trials(url) if t.state == TrialState.RUNNING] == [2]

    resumed = subprocess.run([sys.executable, str(script), url, "5", "0"], env=ENV, cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    trials = stored_trials(url)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    lost = [t for t in trials if t.state != TrialState.COMPLETE]
    assert len(complete) == 5  # N in total, not N more
    assert {t.number: t.params for t in complete if t.number in first} == first  # the first run's trials kept
    # the trial running at the kill: failed by its stale heartbeat, not counted, replaced
    assert [t.number for t in lost] == [2]
    assert lost[0].state == TrialState.FAIL and "error" not in lost[0].user_attrs


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
