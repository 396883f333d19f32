"""``import transmodal`` wall time: median of 5 fresh interpreter runs (core issue, acceptance g).

Run: ``.venv/bin/python -m benchmarks.import_time``
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from benchmarks._machine import machine, save_json


def time_import(runs: int = 5) -> list[float]:
    """Seconds for ``python -c "import transmodal"`` in ``runs`` fresh processes (after one warm-up)."""
    command = [sys.executable, "-c", "import transmodal"]
    subprocess.run(command, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    times = time_import()
    baseline = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - start)
    result = {"machine": machine(), "seconds": times, "median_seconds": statistics.median(times),
              "bare_python_median_seconds": statistics.median(baseline)}
    print(result)
    save_json("import_time", result)


if __name__ == "__main__":
    main()
