"""The server's malloc (``serving/allocator.py``): jemalloc when the system has it (``auto``), glibc
otherwise or when asked; ``transmodal serve`` restarts itself with jemalloc preloaded (same process),
and the heap statistics and trims follow the allocator the process runs on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.cli import main
from transmodal.errors import ConfigError
from transmodal.serving import allocator
from transmodal.serving.settings import SETTINGS_ENV, ServeSettings

JEMALLOC = allocator.find_jemalloc()
needs_jemalloc = pytest.mark.skipif(JEMALLOC is None or not sys.platform.startswith("linux"),
                                    reason="the system has no libjemalloc.so.2 (Debian/Ubuntu: apt install libjemalloc2)")


@pytest.fixture
def no_jemalloc_loaded(monkeypatch):
    monkeypatch.setattr(allocator, "jemalloc_loaded", lambda: False)


def test_auto_takes_jemalloc_when_the_system_has_it_and_glibc_otherwise(monkeypatch, no_jemalloc_loaded):
    found = allocator.choose_allocator("auto", library="/lib/libjemalloc.so.2")
    assert (found.name, found.library, found.needs_preload) == ("jemalloc", "/lib/libjemalloc.so.2", True)
    monkeypatch.setattr(allocator, "find_jemalloc", lambda: None)
    assert allocator.choose_allocator("auto") == allocator.Allocator("glibc")
    assert not allocator.choose_allocator("auto").needs_preload


def test_glibc_is_kept_when_asked_even_with_jemalloc_on_the_system(no_jemalloc_loaded):
    assert allocator.choose_allocator("glibc", library="/lib/libjemalloc.so.2") == allocator.Allocator("glibc")


def test_a_process_already_on_jemalloc_is_not_started_again(monkeypatch):
    monkeypatch.setattr(allocator, "jemalloc_loaded", lambda: True)
    chosen = allocator.choose_allocator("auto")
    assert chosen.name == "jemalloc" and chosen.loaded and not chosen.needs_preload


def test_jemalloc_asked_for_but_missing_says_what_to_install(monkeypatch, no_jemalloc_loaded):
    monkeypatch.setattr(allocator, "find_jemalloc", lambda: None)
    with pytest.raises(ConfigError, match=r"--allocator jemalloc: libjemalloc.so.2 was not found.*apt install "
                                          r"libjemalloc2.*--allocator glibc"):
        allocator.choose_allocator("jemalloc")


def test_an_unknown_allocator_is_refused_when_the_settings_are_built(tmp_path):
    assert ServeSettings(str(tmp_path)).allocator == "auto"
    with pytest.raises(ConfigError, match="allocator='tcmalloc' is out of range; valid: auto, glibc, jemalloc"):
        ServeSettings(str(tmp_path), allocator="tcmalloc")


def test_the_command_line_reports_a_missing_jemalloc_without_a_traceback(tmp_path, monkeypatch, capsys,
                                                                         no_jemalloc_loaded):
    monkeypatch.setattr(allocator, "find_jemalloc", lambda: None)
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", str(tmp_path), "--allocator", "jemalloc"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "apt install libjemalloc2" in err and "Traceback" not in err


def test_the_preload_keeps_a_users_preload_and_malloc_conf():
    chosen = allocator.Allocator("jemalloc", "/lib/libjemalloc.so.2")
    env = allocator.preload_environment(chosen, {"LD_PRELOAD": "/lib/other.so", "PATH": "/bin"})
    assert env == {"LD_PRELOAD": "/lib/libjemalloc.so.2 /lib/other.so", "PATH": "/bin",
                   "MALLOC_CONF": allocator.JEMALLOC_CONF}
    mine = allocator.preload_environment(chosen, {"MALLOC_CONF": "narenas:2"})
    assert mine["MALLOC_CONF"] == "narenas:2" and mine["LD_PRELOAD"] == "/lib/libjemalloc.so.2"


def test_a_failed_preload_serves_on_glibc_configured(tmp_path, monkeypatch, no_jemalloc_loaded):
    """The restarted server without jemalloc loaded (the loader could not preload it) configures
    glibc's heap rather than serving on an unconfigured one."""
    from transmodal.cli import serve as serve_command

    served = []
    monkeypatch.setattr(serve_command, "_serve", lambda settings, level, configure_glibc: served.append(
        (settings.model_dir, level, configure_glibc)))
    monkeypatch.setenv(SETTINGS_ENV, ServeSettings(str(tmp_path), allocator="jemalloc").to_json())
    serve_command.serve_preloaded(["--log-level", "warning"])
    assert served == [(str(tmp_path), "warning", True)]


_UNDER_JEMALLOC = """
    import time
    from transmodal.serving import memory
    stats = memory.heap_stats()
    assert stats["allocator"] == "jemalloc" and stats["allocated_mib"] > 0 and stats["arenas"] >= 1, stats
    assert memory.arena_count() is not None  # glibc's malloc_info stream freed by jemalloc's free: no abort
    trimmer = memory.HeapTrimmer(0.001)
    time.sleep(0.01)
    trimmer.after_batch()
    assert trimmer.available and trimmer.trims == 1
    print("ok")
"""


@needs_jemalloc
def test_heap_statistics_and_trims_under_jemalloc():
    env = {**os.environ, "LD_PRELOAD": JEMALLOC, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_UNDER_JEMALLOC)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.slow
@needs_jemalloc
def test_serve_restarts_itself_on_jemalloc_in_the_same_process(tmp_path):
    from test_predictor_kinds import _health, cli_server

    from transmodal.predictor import MultimodalPredictor

    frame = write_table(tmp_path, n=30)[["review", "size", "color", "label"]]
    model = MultimodalPredictor(label="label").fit(frame, hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 1})
    folder = model.save(tmp_path / "model")
    rows = frame.drop(columns=["label"]).head(5).to_json(orient="records")
    for options, expected in (((), "jemalloc"), (("--allocator", "glibc"), "glibc")):
        started: list[subprocess.Popen] = []
        with cli_server(folder, *options, started=started) as url:
            request = urllib.request.Request(f"{url}/predict", data=f'{{"rows": {rows}}}'.encode(),
                                             headers={"content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert json.loads(response.read())["predictions"] == model.predict(frame.head(5)).tolist()
            assert _health(url)["heap"]["allocator"] == expected
            # the process started is the one serving (execve, not a child), with jemalloc mapped or not
            assert ("libjemalloc" in Path(f"/proc/{started[0].pid}/maps").read_text()) is (expected == "jemalloc")
