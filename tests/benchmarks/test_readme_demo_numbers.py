"""The README's demo numbers are the ones ``transmodal demo`` printed (issue 20, d): the block between
the README's markers is exactly what ``benchmarks/readme_demo_numbers.py`` writes for the recorded run
(``benchmarks/results/issue-20-demo.json``), and the recorded accuracies are the demo's printed lines."""

from __future__ import annotations

import json
import re

import pytest

from benchmarks import readme_demo_numbers as script


def test_readme_block_is_the_recorded_run():
    path = script.RESULTS_DIR / f"{script.RESULT}.json"
    if not path.is_file():
        pytest.skip("the demo has not been recorded yet (benchmarks/readme_demo_numbers.py writes it)")
    recorded = json.loads(path.read_text())
    text = script.README.read_text(encoding="utf-8")
    assert script.rewrite(text, script.paragraph(recorded)) == text
    for key, label in script.LINES.items():  # the JSON holds what the demo printed
        assert re.search(rf"{re.escape(label)}\s+{re.escape(recorded['accuracy'][key])}\s*$", recorded["stdout"],
                         flags=re.M)
        assert recorded["accuracy"][key] in text


def test_rewrite_replaces_only_the_block():
    text = f"before\n{script.START}\nold numbers\n{script.END}\nafter\n"
    assert script.rewrite(text, f"{script.START}\nnew\n{script.END}") == f"before\n{script.START}\nnew\n{script.END}\nafter\n"
    with pytest.raises(SystemExit):
        script.rewrite("no block here", "x")
