"""Serving under load (issue 19, acceptance d): a loopback load test of ``transmodal serve``.

The saved clothing predictor of :mod:`benchmarks.serve_model` (the default text encoder: frozen MiniLM,
int8 on this CPU) is served by ``transmodal serve`` in its own process, twice: micro-batched
(``--max-batch 64 --max-wait-ms 5``, the defaults) and with one row per forward pass (``--max-batch 1
--max-wait-ms 0``). For each, after an unmeasured warm-up of ``--warmup`` (30) seconds at concurrency 32,
an asyncio client (aiohttp, this process) keeps 1, 8 and 32 requests in flight for ``--seconds`` (60)
each; every request is ``POST /predict`` with one clothing test row (the 2,000 distinct test rows in
turn; the persistent embedding store is off in the server, ``TRANSMODAL_CACHE=off``, so a row seen
again is encoded again, never looked up: both servers do the same work per row). Recorded per run:
requests per second, p50/p99 latency, errors (any non-200 answer or failed request), the server's RSS
at the start and end of the run (sampled every second; the start is after the warm-up, whose first
requests load lazy parts and fill the allocator's pools), the batches run and their sizes (rows per
forward -> calls, from ``GET /health``), the server's and the client's CPU time per request (both share
the machine's cores), glibc's heap before and after each level (``GET /health``'s ``heap``: in use,
free, mapped), and the load average of the machine. Target: zero errors,
RSS growth <= 10% per run, and micro-batching >= 3x the one-row throughput at concurrency 32.

Run (one benchmark at a time on the machine):
``flock /tmp/transmodal-bench.lock nice -n 0 .venv/bin/python -m benchmarks.serve_load``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import machine, save_json
from benchmarks.serve_model import saved_model, test_rows

MODES = {"micro-batched": ["--max-batch", "64", "--max-wait-ms", "5"],
         "one row per forward": ["--max-batch", "1", "--max-wait-ms", "0"]}
CONCURRENCY = (1, 8, 32)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, options: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``transmodal serve`` in a new process on a free loopback port; returns it and its URL once healthy."""
    import urllib.request

    port = free_port()
    command = [sys.executable, "-m", "transmodal", "serve", str(model), "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", *options]
    # the persistent embedding store (issue 15) is off: every request encodes its texts, as a server
    # seeing new rows does (with it on, the repeated test rows would be store look-ups)
    server = subprocess.Popen(command, env={**os.environ, "TRANSMODAL_DEBUG": "1", "TRANSMODAL_CACHE": "off", **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("the server did not answer /health within 300 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


async def load(url: str, rows: list[dict], concurrency: int, seconds: float, pid: int) -> dict:
    """``concurrency`` clients posting one row each, back to back, for ``seconds``; latencies and errors."""
    import aiohttp

    latencies: list[float] = []
    errors: list[str] = []
    rss: list[float] = [rss_mib(pid)]
    stop_at = time.perf_counter() + seconds
    timeout = aiohttp.ClientTimeout(total=120)

    async def client(k: int, session) -> None:
        i = k
        while time.perf_counter() < stop_at:
            body = json.dumps({"rows": [rows[i % len(rows)]]}).encode()
            i += concurrency
            start = time.perf_counter()
            try:
                async with session.post(f"{url}/predict", data=body,
                                        headers={"content-type": "application/json"}) as response:
                    payload = await response.read()
                    if response.status != 200 or b"predictions" not in payload:
                        errors.append(f"{response.status}: {payload[:200]!r}")
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                errors.append(f"{type(err).__name__}: {err}")
                continue
            latencies.append(time.perf_counter() - start)

    async def sample_rss() -> None:
        while time.perf_counter() < stop_at:
            await asyncio.sleep(1.0)
            rss.append(rss_mib(pid))

    connector = aiohttp.TCPConnector(limit=concurrency)
    began, server_cpu, client_cpu = time.perf_counter(), cpu_seconds(pid), time.process_time()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(sample_rss(), *(client(k, session) for k in range(concurrency)))
    elapsed = time.perf_counter() - began
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    rss.append(rss_mib(pid))
    ms = np.asarray(latencies) * 1000
    done = max(1, len(latencies))
    return {"concurrency": concurrency, "seconds": elapsed, "requests": len(latencies) + len(errors),
            "ok": len(latencies), "errors": len(errors), "error_examples": errors[:5],
            "requests_per_second": len(latencies) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)) if len(ms) else None,
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else None,
            "rss_start_mib": rss[0], "rss_end_mib": rss[-1], "rss_max_mib": max(rss),
            "rss_growth": rss[-1] / rss[0] - 1, "rss_series_mib": [round(v, 1) for v in rss],
            # CPU time (user + system, all threads) per answered request: where the 2 cores go
            "server_cpu_ms_per_request": 1000 * server_cpu / done, "client_cpu_ms_per_request": 1000 * client_cpu / done}


def health(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        return json.loads(response.read())


def run_mode(model: Path, options: list[str], rows: list[dict], seconds: float, warmup: float,
             levels: tuple[int, ...] = CONCURRENCY, env: dict[str, str] | None = None) -> dict:
    """One server: an unmeasured warm-up at the highest concurrency (first forward passes, lazy imports,
    the allocator's pools for the largest batches), then each concurrency level in turn."""
    server, url = start_server(model, options, env)
    try:
        warm = asyncio.run(load(url, rows[::-1], max(CONCURRENCY), warmup, server.pid))  # other rows than measured first
        print(f"  warm-up {warmup:.0f} s at c={max(CONCURRENCY)}: {warm['ok']} requests, {warm['errors']} errors, "
              f"RSS {warm['rss_start_mib']:.0f} -> {warm['rss_end_mib']:.0f} MiB", flush=True)
        rss_before = rss_mib(server.pid)
        runs = []
        for concurrency in levels:
            before, load_before = health(url), os.getloadavg()
            result = asyncio.run(load(url, rows, concurrency, seconds, server.pid))
            after = health(url)
            result["load_average_before"], result["load_average_after"] = load_before, os.getloadavg()
            result["batches"] = after["batches"] - before["batches"]
            result["heap_trims"] = after.get("heap_trims", 0) - before.get("heap_trims", 0)
            result["heap_before"], result["heap_after"] = before.get("heap"), after.get("heap")  # glibc mallinfo2, MiB
            result["rows_per_batch"] = (after["rows"] - before["rows"]) / max(1, result["batches"])
            sizes = {int(k): v - before["batch_sizes"].get(k, 0) for k, v in after["batch_sizes"].items()}
            result["batch_sizes"] = {k: v for k, v in sorted(sizes.items()) if v}  # rows per forward -> calls
            runs.append(result)
            print(f"  c={concurrency:>2}: {result['requests_per_second']:7.1f} req/s, p50 {result['p50_ms']:.0f} ms, "
                  f"p99 {result['p99_ms']:.0f} ms, errors {result['errors']}, rows/batch "
                  f"{result['rows_per_batch']:.1f}, RSS {result['rss_start_mib']:.0f} -> {result['rss_end_mib']:.0f} "
                  f"MiB ({100 * result['rss_growth']:+.1f}%), load {result['load_average_after'][0]:.1f}, CPU ms per "
                  f"request: server {result['server_cpu_ms_per_request']:.1f}, client {result['client_cpu_ms_per_request']:.1f}",
                  flush=True)
            print(f"       rows per forward -> calls: {result['batch_sizes']}", flush=True)
        rss_after = rss_mib(server.pid)
        return {"options": options, "env": env or {}, "warmup": warm, "runs": runs, "rss_after_warmup_mib": rss_before, "rss_end_mib": rss_after,
                "rss_growth_all_runs": rss_after / rss_before - 1}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="Seconds per concurrency level.")
    parser.add_argument("--warmup", type=float, default=30.0,
                        help="Seconds of unmeasured load at the highest concurrency before measuring.")
    parser.add_argument("--name", default="issue-19-serve-load", help="Results file name (benchmarks/results).")
    parser.add_argument("--commit", default=None, help="The commit measured (an export of it has no git folder).")
    parser.add_argument("--allocator-check", action="store_true",
                        help="Also serve micro-batched on glibc (--allocator glibc) with its mmap threshold fixed "
                             "(MALLOC_MMAP_THRESHOLD_=131072: large freed buffers go back to the system) at "
                             "concurrency 32: its RSS and throughput.")
    parser.add_argument("--trim-every-s", type=float, default=None,
                        help="Both servers' --trim-every-s (default: the server's own default).")
    parser.add_argument("--trim-check", action="store_true",
                        help="Also serve micro-batched without heap trims (--trim-every-s 0) at concurrency 32: "
                             "what the server's periodic malloc_trim costs in throughput and saves in RSS.")
    parser.add_argument("--allocator", default=None, choices=("auto", "glibc", "jemalloc"),
                        help="Both servers' --allocator (default: the server's own default, auto).")
    args = parser.parse_args(argv)
    model = saved_model()
    rows = test_rows()
    results = {"machine": {**machine(), **({"commit": args.commit} if args.commit else {})}, "model": str(model),
               "load_average_at_start": os.getloadavg(),
               "seconds_per_level": args.seconds,
               "warmup_seconds": args.warmup, "modes": {}}
    trim = [] if args.trim_every_s is None else ["--trim-every-s", str(args.trim_every_s)]
    results["trim_every_s"] = args.trim_every_s
    allocator = [] if args.allocator is None else ["--allocator", args.allocator]
    results["allocator_option"] = args.allocator  # the allocator each server ran on: its heap statistics' "allocator"
    for mode, options in MODES.items():
        options = options + trim + allocator
        print(f"{mode} ({' '.join(options)}):", flush=True)
        results["modes"][mode] = run_mode(model, options, rows, args.seconds, args.warmup)
    batched = results["modes"]["micro-batched"]["runs"][-1]["requests_per_second"]
    single = results["modes"]["one row per forward"]["runs"][-1]["requests_per_second"]
    results["speedup_at_32"] = batched / single
    if args.trim_check:
        mode = "micro-batched, no heap trim"
        print(f"{mode}:", flush=True)
        results["modes"][mode] = run_mode(model, MODES["micro-batched"] + ["--trim-every-s", "0"], rows, args.seconds,
                                          args.warmup, (32,))
    if args.allocator_check:
        mode = "micro-batched, MALLOC_MMAP_THRESHOLD_=131072"
        print(f"{mode}:", flush=True)
        # glibc's setting: this server runs on glibc whatever --allocator says (jemalloc ignores it)
        results["modes"][mode] = run_mode(model, MODES["micro-batched"] + ["--allocator", "glibc"], rows, args.seconds,
                                          args.warmup, (32,), {"MALLOC_MMAP_THRESHOLD_": "131072"})
    print(f"micro-batching / one row per forward at concurrency 32: {results['speedup_at_32']:.2f}x")
    results["load_average_at_end"] = os.getloadavg()
    print("saved", save_json(args.name, results))


if __name__ == "__main__":
    main()
