"""Run ``transmodal demo`` and write what it printed into the README (issue 20, d).

The README's demo paragraph ends with a block between the markers ``<!-- demo-numbers -->`` and
``<!-- /demo-numbers -->``; this script is the only writer of that block, so the numbers there are
the ones the demo printed on this machine, with the wall and CPU time it took and the load of the
machine while it ran. Raw numbers: ``benchmarks/results/issue-20-demo.json``.

Run (a benchmark: alone on the machine)::

    flock /tmp/transmodal-bench.lock nice -n 0 .venv/bin/python -m benchmarks.readme_demo_numbers

``--check`` runs nothing and fails when the README block differs from the recorded JSON.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._machine import RESULTS_DIR, machine, save_json

README = Path(__file__).resolve().parents[1] / "README.md"
RESULT = "issue-20-demo"
START, END = "<!-- demo-numbers -->", "<!-- /demo-numbers -->"
LINES = {"both": "both modalities", "audio_emptied": "image only (audio column emptied)",
         "image_emptied": "audio only (image column emptied)"}


def run_demo() -> dict:
    """Run the demo in a fresh process; its printed accuracies, wall and CPU seconds, load average."""
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "transmodal", "demo", "--out", folder], capture_output=True,
                             text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    accuracies = {}
    for key, label in LINES.items():
        match = re.search(rf"^\s*{re.escape(label)}\s+([0-9.]+)\s*$", run.stdout, flags=re.M)
        if match is None:
            raise SystemExit(f"the demo did not print {label!r}:\n{run.stdout}")
        accuracies[key] = match.group(1)  # as printed (3 decimals)
    return {"machine": machine(), "stdout": run.stdout, "accuracy": accuracies, "wall_seconds": round(wall, 1),
            "cpu_seconds": round((cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime), 1),
            "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2)}


def paragraph(result: dict) -> str:
    """The README block for ``result``."""
    acc, m = result["accuracy"], result["machine"]
    load = max(result["load_average_before"], result["load_average_after"])
    busy = "the machine otherwise idle" if load < 1.5 else \
        f"the machine shared with other work, load average up to {load:.1f}"
    return (f"{START}\nOn the project's {m['cores']}-core CPU ({m['date'][:10]}, commit {m['commit']}, {busy}) "
            f"`transmodal demo` took {result['wall_seconds']:.0f} s ({result['cpu_seconds']:.0f} s of CPU) and "
            f"printed test accuracy {acc['both']} with both modalities, {acc['audio_emptied']} with the audio "
            f"column emptied and {acc['image_emptied']} with the image column emptied (written by "
            f"`benchmarks/readme_demo_numbers.py`).\n{END}")


def rewrite(text: str, block: str) -> str:
    """``text`` with its demo block replaced by ``block``."""
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), flags=re.S)
    if not pattern.search(text):
        raise SystemExit(f"README has no {START} ... {END} block")
    return pattern.sub(lambda _: block, text)


def main(argv: list[str]) -> None:
    if "--check" in argv:
        recorded = json.loads((RESULTS_DIR / f"{RESULT}.json").read_text())
        text = README.read_text(encoding="utf-8")
        if rewrite(text, paragraph(recorded)) != text:
            raise SystemExit("the README's demo numbers differ from benchmarks/results/issue-20-demo.json")
        print("README demo numbers match the recorded run")
        return
    result = run_demo()
    save_json(RESULT, result)
    README.write_text(rewrite(README.read_text(encoding="utf-8"), paragraph(result)), encoding="utf-8")
    print(paragraph(result))


if __name__ == "__main__":
    main(sys.argv[1:])
