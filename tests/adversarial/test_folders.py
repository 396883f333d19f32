"""Output folders (issue 21, items 1 and 2): transmodal writes only into a folder that is new,
empty or its own; a user's files survive every fit and save; saving is atomic and locked, so two
concurrent saves into one folder leave one complete model, never a mix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from tabletools import TINY_HYPERPARAMETERS
from transmodal.cli import main
from transmodal.errors import ConfigError
from transmodal.persistence import (CHECKPOINT_DIR, CHECKPOINT_MARKER, MANIFEST_FILE, folder_lock,
                                    prepare_checkpoint_folder, save_folder)
from transmodal.predictor import MultimodalPredictor


def run_cli(args, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr().err


def _fit_args(table_dir: Path, out: Path, *extra: str) -> list[str]:
    return ["fit", str(table_dir / "table.csv"), "--label", "label", "--out", str(out), "--set", "max_epochs=1",
            "--set", "hidden_dim=16", "--set", "progress_bar=false", *extra]


def _assert_refused(code: int, err: str, *names: str) -> None:
    assert code == 1 and "Traceback" not in err and err.count("error: ") == 1
    for name in names:
        assert name in err


def test_fit_refuses_a_folder_of_user_files(table_dir, tmp_path, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "IMPORTANT.txt").write_text("mine")
    code, err = run_cli(_fit_args(table_dir, out), capsys)
    _assert_refused(code, err, str(out), "IMPORTANT.txt")
    assert (out / "IMPORTANT.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["IMPORTANT.txt"]


def test_fit_never_deletes_a_users_checkpoints_folder(table_dir, tmp_path, capsys):
    """The red-team case: ``mkdir -p d/checkpoints; echo x > d/checkpoints/IMPORTANT.txt``."""
    out = tmp_path / "d"
    (out / CHECKPOINT_DIR).mkdir(parents=True)
    (out / CHECKPOINT_DIR / "IMPORTANT.txt").write_text("x")
    code, err = run_cli(_fit_args(table_dir, out), capsys)
    _assert_refused(code, err, str(out), CHECKPOINT_DIR)
    assert (out / CHECKPOINT_DIR / "IMPORTANT.txt").read_text() == "x"


def test_a_file_is_not_an_output_folder(table_dir, tmp_path, capsys):
    out = tmp_path / "model"
    out.write_text("a file")
    code, err = run_cli(_fit_args(table_dir, out), capsys)
    _assert_refused(code, err, str(out), "not a folder")
    assert out.read_text() == "a file"


def test_save_refuses_user_files_and_never_seals_them(fitted, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="notes.txt"):
        fitted.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    # a model folder with a user's file added is not transmodal's any more: refused too, file kept
    other = fitted.save(tmp_path / "model2")
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="notes.txt"):
        fitted.save(other)
    assert "notes.txt" not in json.loads((other / MANIFEST_FILE).read_text())["files"]
    assert (other / "notes.txt").read_text() == "mine"


def test_save_folder_checks_every_writer(tmp_path):
    """AlignmentModel.save and MultimodalPredictor.save both go through save_folder."""
    folder = tmp_path / "m"
    (folder / "sub").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"'sub'"):
        save_folder(folder, {"kind": "x"}, {"w": torch.zeros(2)})
    assert sorted(p.name for p in folder.iterdir()) == ["sub"]
    save_folder(tmp_path / "new", {"kind": "x"}, {"w": torch.zeros(2)})
    save_folder(tmp_path / "new", {"kind": "y"}, {"w": torch.ones(2)})  # replacing its own folder works
    assert json.loads((tmp_path / "new" / "config.json").read_text())["kind"] == "y"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".new.") and not p.name.endswith(".lock")]


def test_replacing_a_model_folder_keeps_working(fitted, table_dir, tmp_path):
    folder = fitted.save(tmp_path / "model")
    fitted.save(folder)
    loaded = MultimodalPredictor.load(folder).predict_proba(str(table_dir / "table.csv"))
    assert np.allclose(loaded.to_numpy(), fitted.predict_proba(str(table_dir / "table.csv")).to_numpy(), atol=1e-6)


@pytest.mark.slow
def test_fit_into_a_model_folder_needs_overwrite_and_keeps_nothing_stale(table_dir, tmp_path, capsys):
    out = tmp_path / "model"
    main(_fit_args(table_dir, out))
    assert not (out / CHECKPOINT_DIR).exists()
    code, err = run_cli(_fit_args(table_dir, out), capsys)
    _assert_refused(code, err, str(out), "--overwrite")
    main(_fit_args(table_dir, out, "--overwrite"))
    MultimodalPredictor.load(out)


def test_checkpoint_folders_are_marked_and_user_folders_refused(tmp_path):
    made = prepare_checkpoint_folder(tmp_path / "ck")
    assert (made / CHECKPOINT_MARKER).is_file()
    prepare_checkpoint_folder(made)  # reused
    user = tmp_path / "user"
    user.mkdir()
    (user / "IMPORTANT.txt").write_text("x")
    with pytest.raises(ConfigError, match="IMPORTANT.txt"):
        prepare_checkpoint_folder(user)
    assert sorted(p.name for p in user.iterdir()) == ["IMPORTANT.txt"]


def test_a_second_writer_waits_then_fails_clearly(tmp_path):
    folder = tmp_path / "m"
    code = textwrap.dedent(f"""
        import sys, time
        from transmodal.persistence import folder_lock
        with folder_lock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(30)
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match="another process is writing"):
            with folder_lock(folder, timeout=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(folder, timeout=5):  # released when its holder ends
        pass


WORKER = """
import sys
from transmodal.predictor import MultimodalPredictor
model = MultimodalPredictor.load(sys.argv[1])
target = sys.argv[2]
for line in sys.stdin:
    try:
        model.save(target)
        print("ok", flush=True)
    except Exception as err:
        print("error", type(err).__name__, str(err).replace("\\n", " "), flush=True)
"""


@pytest.mark.slow
def test_concurrent_saves_leave_one_complete_model(fitted, table_dir, tmp_path):
    """20 rounds of two processes saving different models into one folder at the same moment."""
    other = MultimodalPredictor(label="label").fit(str(table_dir / "table.csv"),
                                                   hyperparameters=TINY_HYPERPARAMETERS, seed=1)
    sources = [fitted.save(tmp_path / "a"), other.save(tmp_path / "b")]
    table = str(table_dir / "table.csv")
    expected = [MultimodalPredictor.load(s).predict_proba(table).to_numpy() for s in sources]
    assert not np.allclose(expected[0], expected[1])
    target = tmp_path / "target"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen([sys.executable, str(script), str(s), str(target)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env=env) for s in sources]
    try:
        for round_ in range(20):
            for worker in workers:
                worker.stdin.write("save\n")
                worker.stdin.flush()
            answers = [worker.stdout.readline().strip() for worker in workers]
            for answer in answers:
                assert answer == "ok" or "another process is writing" in answer, (round_, answer)
            got = MultimodalPredictor.load(target).predict_proba(table).to_numpy()
            matches = [np.allclose(got, e, atol=1e-6) for e in expected]
            assert sum(matches) == 1, f"round {round_}: the saved model is a mix of both"
            assert sorted(p.name for p in target.iterdir()) == sorted(
                [*json.loads((target / MANIFEST_FILE).read_text())["files"], MANIFEST_FILE])
    finally:
        for worker in workers:
            worker.stdin.close()
            worker.wait(timeout=60)
    assert not [p for p in tmp_path.iterdir() if ".new-" in p.name or ".old-" in p.name]


@pytest.mark.slow
def test_resume_after_the_model_was_saved_trains_again_and_replaces_it(table_dir, tmp_path, capsys):
    """A fit killed after its model was saved leaves the model and no checkpoint: ``--resume`` (the
    user's consent to continue this run in OUT) replaces it instead of asking for --overwrite."""
    out = tmp_path / "d"
    main(_fit_args(table_dir, out))
    first = MultimodalPredictor.load(out).predict_proba(str(table_dir / "table.csv")).to_numpy()
    main(_fit_args(table_dir, out, "--resume"))  # refused with exit 1 before: "pass --overwrite"
    np.testing.assert_allclose(MultimodalPredictor.load(out).predict_proba(str(table_dir / "table.csv")).to_numpy(),
                               first, atol=1e-6)  # same settings and seed: the same model
