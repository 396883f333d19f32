"""The red-team regression suite (issue 21): each test feeds transmodal one hostile or broken input
(a table, a model folder, a CLI call, an API argument) that once lost data, gave a silently wrong
answer or hung. The run ends with the number of hostile inputs covered."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print how many hostile inputs (collected test cases of this folder) ran and how many passed."""
    stats = terminalreporter.stats
    ours = [r for key in ("passed", "failed", "error") for r in stats.get(key, [])
            if getattr(r, "when", "call") == "call" and Path(str(r.fspath)).resolve().is_relative_to(HERE)]
    if ours:
        passed = sum(1 for r in ours if r.passed)
        terminalreporter.write_line(f"adversarial suite: {len(ours)} hostile inputs run, {passed} handled")
