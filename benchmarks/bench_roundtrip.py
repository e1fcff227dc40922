"""Reducer round-trip latency through the SDK's client: ``python benchmarks/bench_roundtrip.py``.

The local server runs as a separate process (``spacetimedb-sdk serve``, chat module, in memory)
so client and server do not share a GIL. A client built from the generated chat bindings in
``client/module_bindings`` subscribes to ``message`` and calls ``send_message`` ``--calls``
times, one at a time, waiting for each call to commit; the latency of each call is the time from
the call until its result (and its row delta) has been applied. Measured for the asyncio driver
(``await conn.reducers.send_message(...)``) and the threaded driver
(``conn.reducers.send_message(...).result()`` with ``run_threaded()``). Prints JSON with p50,
p90, p99 and max in milliseconds, and the client process's CPU time per call
(``cpu_us_per_call``, all threads). ``--url ws://...`` uses a running server's ``chat`` database
instead (``bench_vs_ts.py`` runs the TypeScript twin, ``benchmarks/ts/``, against the same one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "client"))

from module_bindings import DbConnection  # noqa: E402


def _percentiles(samples: list[float], cpu_s: float) -> dict[str, float]:
    """Latency percentiles, and the process's CPU time per measured call (all its threads:
    what the client itself spends on a call, apart from the server and the wake-ups)."""
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3, 3)

    return {
        "calls": len(ordered),
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1] * 1e3, 3),
        "cpu_us_per_call": round(cpu_s / len(ordered) * 1e6, 1),
    }


def _start_server() -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "spacetimedb_sdk", "serve", "--port", "0"]
    cmd += ["--log-level", "warning", f"chat={REPO / 'server'}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("Serving "):
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    proc.stdout.readline()  # the owner token
    return proc, line.rsplit(" ", 1)[1].strip()


async def _asyncio_driver(url: str, calls: int, warmup: int) -> dict[str, Any]:
    async with (
        DbConnection.builder().with_uri(url).with_database_name("chat").build_async() as conn
    ):
        handle = conn.subscription_builder().subscribe(["SELECT * FROM message"])
        await handle.applied
        samples: list[float] = []
        cpu = 0.0
        for i in range(warmup + calls):
            if i == warmup:
                cpu = time.process_time()
            start = time.perf_counter()
            await conn.reducers.send_message(f"asyncio {i}")
            if i >= warmup:
                samples.append(time.perf_counter() - start)
        return _percentiles(samples, time.process_time() - cpu)


def _threaded_driver(url: str, calls: int, warmup: int) -> dict[str, Any]:
    conn = DbConnection.builder().with_uri(url).with_database_name("chat").build()
    conn.run_threaded()
    try:
        handle = conn.subscription_builder().subscribe(["SELECT * FROM message"])
        handle.applied.result(timeout=30)
        samples: list[float] = []
        cpu = 0.0
        for i in range(warmup + calls):
            if i == warmup:
                cpu = time.process_time()
            start = time.perf_counter()
            conn.reducers.send_message(f"threaded {i}").result(timeout=30)
            if i >= warmup:
                samples.append(time.perf_counter() - start)
        return _percentiles(samples, time.process_time() - cpu)
    finally:
        conn.disconnect()
        conn.wait_closed(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=2000, help="measured calls per driver")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured calls first")
    parser.add_argument("--url", help="a running server with the chat module as `chat`")
    parser.add_argument(
        "--driver",
        choices=("asyncio", "threaded"),
        help="only this driver (bench_vs_ts.py orders the drivers and TypeScript per round)",
    )
    args = parser.parse_args()
    proc, url = (None, args.url) if args.url else _start_server()
    try:
        results: dict[str, Any] = {}
        if args.driver in (None, "asyncio"):
            results["asyncio"] = asyncio.run(_asyncio_driver(url, args.calls, args.warmup))
        if args.driver in (None, "threaded"):
            results["threaded"] = _threaded_driver(url, args.calls, args.warmup)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    report = {
        "benchmark": "reducer_round_trip",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        **results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
