"""Serving under load (issue 19 d): which glibc malloc settings of ``transmodal serve`` keep its RSS
bounded at what throughput, measured A/B at concurrency 32.

Each variant (a label and extra ``transmodal serve`` options, and optionally environment variables)
serves the clothing model of :mod:`benchmarks.serve_model` micro-batched, in its own process: an
unmeasured warm-up of 15 s at concurrency 32, then ``--seconds`` (30) at concurrency 32 (the client,
rows and measures of :mod:`benchmarks.serve_load`). The variants run in turn, ``--rounds`` times, so
that the VM's slow and fast phases fall on every variant alike. Printed per run: requests per second,
server CPU ms per request, RSS at the start and end, the machine's steal time, the server's malloc
arenas after the run.

Run (one benchmark at a time on the machine):
``flock /tmp/transmodal-bench.lock nice -n 0 .venv/bin/python -m benchmarks.serve_allocator_ab VARIANTS.json``
where VARIANTS.json is a list of ``[label, {env}, [serve options]]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks._machine import machine, save_json
from benchmarks.serve_load import MODES, run_mode
from benchmarks.serve_model import saved_model, test_rows


def steal_and_total() -> tuple[int, int]:
    """The machine's steal and total CPU ticks so far (/proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    return ticks[7], sum(ticks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", type=Path, help="JSON list of [label, {env}, [serve options]].")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--name", default="issue-19-serve-allocator-ab")
    parser.add_argument("--commit", default=None)
    args = parser.parse_args(argv)
    variants = json.loads(args.variants.read_text())
    model, rows = saved_model(), test_rows()
    runs = []
    for round_ in range(args.rounds):
        for label, env, options in variants:
            steal0, total0 = steal_and_total()
            run = run_mode(model, MODES["micro-batched"] + options, rows, args.seconds, 15, (32,), env)["runs"][0]
            steal1, total1 = steal_and_total()
            line = {"label": label, "round": round_, "options": options, "env": env,
                    "requests_per_second": run["requests_per_second"], "server_cpu_ms_per_request": run["server_cpu_ms_per_request"],
                    "rss_start_mib": run["rss_start_mib"], "rss_end_mib": run["rss_end_mib"], "errors": run["errors"],
                    "steal_percent": 100 * (steal1 - steal0) / max(1, total1 - total0),
                    "arenas": (run.get("heap_after") or {}).get("arenas")}
            print(json.dumps(line), flush=True)
            runs.append(line)
    print("saved", save_json(args.name, {"machine": {**machine(), **({"commit": args.commit} if args.commit else {})},
                                         "seconds": args.seconds, "runs": runs}))


if __name__ == "__main__":
    main()
