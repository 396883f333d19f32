"""``transmodal serve`` on the command line: its options, and a clear error (no traceback) for a bad
model folder or out-of-range options, before anything listens."""

from __future__ import annotations

import pytest

from transmodal.cli import main


def test_serve_help_lists_the_options(capsys):
    try:
        main(["serve", "--help"])
    except SystemExit as exit_info:
        assert exit_info.code in (0, None)
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--workers", "--max-batch", "--max-wait-ms", "--allowed-root", "--max-body-mb"):
        assert option in out


def test_serve_a_folder_that_is_no_model(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.startswith("error:") and "Traceback" not in err


@pytest.mark.parametrize("option", [["--max-batch", "0"], ["--workers", "0"], ["--max-wait-ms", "-1"]])
def test_serve_out_of_range_options(model_dir, capsys, option):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", str(model_dir), *option])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and option[0].strip("-").replace("-", "_") in err


def test_serve_an_allowed_root_that_is_no_folder(model_dir, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["serve", str(model_dir), "--allowed-root", str(tmp_path / "nowhere")])
    assert "--allowed-root" in capsys.readouterr().err
