"""``transmodal tune``: bad settings are one clear message before any trial."""

from __future__ import annotations

import pytest

from transmodal.cli import main
from tunetools import write_numbers


def run_cli(args, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("space, words", [
    ("learnin_rate: {low: 1.0e-4, high: 1.0e-2}\n", ["'learnin_rate'", "did you mean 'learning_rate'"]),
    ("dropout: {low: 0.0, high: 1.5}\n", ["'dropout' = 1.5", "out of range"]),
])
def test_a_bad_search_space_is_one_message_naming_the_key(tmp_path, capsys, space, words):
    table = write_numbers(tmp_path)
    (tmp_path / "bad.yaml").write_text(space, encoding="utf-8")
    code, err = run_cli(["tune", str(table), "--label", "label", "--trials", "2", "--search-space",
                         str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "model")], capsys)
    assert code == 1 and err.count("error: ") == 1 and "Traceback" not in err
    assert all(word in err for word in words)
    assert not (tmp_path / "model").exists()


def test_several_jobs_without_a_storage_are_refused(tmp_path, capsys):
    table = write_numbers(tmp_path)
    code, err = run_cli(["tune", str(table), "--label", "label", "--jobs", "2", "--out", str(tmp_path / "m")], capsys)
    assert code == 1 and "--jobs 2" in err and "give --storage" in err


def test_a_bad_cv_folds_is_one_message_naming_the_setting(tmp_path, capsys):
    table = write_numbers(tmp_path)
    code, err = run_cli(["tune", str(table), "--label", "label", "--cv-folds", "0", "--out", str(tmp_path / "m")], capsys)
    assert code == 1 and err.count("error: ") == 1 and "tune.cv_folds=0 is out of range" in err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_cv_folds_score_trials_on_folds_and_save_the_refitted_model(tmp_path, capsys):
    import pandas as pd

    table = write_numbers(tmp_path)
    main(["tune", str(table), "--label", "label", "--trials", "2", "--cv-folds", "2", "--pruner", "none",
          "--final-fit", "all_rows", "--search-space", str(tmp_path / "space.yaml"), "--set", "max_epochs=2",
          "--out", str(tmp_path / "m")])
    printed = capsys.readouterr()
    out = printed.out
    assert printed.err.count("trial 0 complete") == 1  # one status line per trial, not one per handler
    trials = pd.read_csv(tmp_path / "m" / "trials.csv")
    assert [len(str(s).split()) for s in trials["fold_scores"]] == [2, 2]
    assert [len(str(s).split()) for s in trials["fold_epochs"]] == [2, 2]
    assert "over 2 folds, its configuration fitted again on every row for" in out
    report = (tmp_path / "m" / "report.html").read_text(encoding="utf-8")
    assert "the mean over 2 folds), its configuration fitted again on every training row for" in report


@pytest.mark.slow
def test_final_fit_holdout_and_no_base_trial_reach_the_study(tmp_path, capsys):
    import pandas as pd

    table = write_numbers(tmp_path)
    main(["tune", str(table), "--label", "label", "--trials", "1", "--cv-folds", "2", "--pruner", "none",
          "--final-fit", "holdout", "--no-base-trial", "--search-space", str(tmp_path / "space.yaml"),
          "--set", "max_epochs=2", "--out", str(tmp_path / "m")])
    assert "its configuration fitted again with the holdout" in capsys.readouterr().out
    trials = pd.read_csv(tmp_path / "m" / "trials.csv")
    assert trials["params.learning_rate"][0] != 1e-3  # drawn, not the base value


def test_a_bad_final_fit_is_one_message(tmp_path, capsys):
    table = write_numbers(tmp_path)
    code, err = run_cli(["tune", str(table), "--label", "label", "--cv-folds", "2", "--final-fit", "all",
                         "--out", str(tmp_path / "m")], capsys)
    assert code == 1 and err.count("error: ") == 1 and "tune.final_fit='all' is not a valid choice" in err
