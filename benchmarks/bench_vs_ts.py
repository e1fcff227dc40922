"""Python next to the official TypeScript client, on the same bytes and the same server:
``python benchmarks/bench_vs_ts.py [--rounds 3] [--repeat 5] [--calls 2000]``.

One command for issue 14's figures. It writes the benchmark messages if missing
(``make_bench_messages.py``), installs the pinned TypeScript client the way the tests do
(``tests/ts_harness.py``: ``npm ci`` in ``tests/ts_client``), bundles ``benchmarks/ts/``, then:

* receiving a message (``bench_apply.py`` and ``bench_apply_ts.mjs``, each run in its own
  process, Python and TypeScript alternating, ``--rounds`` times): the 100k-row
  ``SubscribeApplied`` of ``message`` and of ``entity``, and a ``TransactionUpdate`` of 10k
  updated ``entity`` rows applied to a cache holding all 100k; receipt, receipt plus reading
  every row once, receipt with a callback touching one field per row, and the memory held per
  cached row;
* a reducer round trip against one local server with the chat module, ``--rounds`` times: each
  round runs ``bench_roundtrip.py --driver asyncio``, ``--driver threaded`` and
  ``bench_roundtrip_ts.mjs`` back to back, each in its own process, the first of one round
  going last in the next, so that a change of load between clients biases no side.

Prints a table (receiving: the best run, memory the median process; round trip: the median
over rounds of each figure, and of the rounds' Python/TypeScript ratios) and, with
``--json FILE``, writes every raw result. Run it under ``flock /tmp/...bench.lock`` on a
shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

import bench_roundtrip  # noqa: E402  (this directory, as when run as a script)
import make_bench_messages  # noqa: E402

from tests.ts_harness import ensure_ts_client, node_executable  # noqa: E402

MODULE_DEF = REPO / "tests" / "fixtures" / "module_defs" / "bench.moduledef.bsatn"
DATA = HERE / "data"
ENTITY = DATA / "subscribe_applied_entity_100k.bsatn"
#: (label, message, prefill): what is received.
CASES = (
    ("message 100k SubscribeApplied", DATA / "subscribe_applied_message_100k.bsatn", None),
    ("entity 100k SubscribeApplied", ENTITY, None),
    ("entity TransactionUpdate 10k updates", DATA / "transaction_update_entity_10k.bsatn", ENTITY),
)
MODES = ("receipt", "read", "callback")
#: Issue 14's goals for Python time / TypeScript time (reading and callbacks).
GOALS = {"message": 0.5, "entity": 0.2}


def _json_of(cmd: list[str]) -> dict[str, Any]:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"{cmd} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    text = result.stdout
    return dict(json.loads(text[text.index("{") :]))  # the one JSON document printed


def _receive(rounds: int, repeat: int) -> dict[str, dict[str, list[dict[str, Any]]]]:
    node = node_executable()
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for label, message, prefill in CASES:
        py_cmd = [sys.executable, str(HERE / "bench_apply.py"), "--module-def", str(MODULE_DEF)]
        py_cmd += ["--message", str(message), "--repeat", str(repeat)]
        ts_cmd = [node, "--expose-gc", str(HERE / "ts" / "dist" / "bench_apply_ts.mjs")]
        ts_cmd += ["--message", str(message), "--repeat", str(repeat)]
        if prefill is not None:
            py_cmd += ["--prefill", str(prefill)]
            ts_cmd += ["--prefill", str(prefill)]
        runs: dict[str, list[dict[str, Any]]] = {"python": [], "typescript": []}
        for _ in range(rounds):
            runs["python"].append(_json_of(py_cmd))
            runs["typescript"].append(_json_of(ts_cmd))
        out[label] = runs
    return out


#: The round trip's clients, in the first round's order.
CLIENTS = ("asyncio", "threaded", "typescript")
#: The round trip's figures, each reported as its median over rounds.
RT_KEYS = ("p50_ms", "p90_ms", "p99_ms", "cpu_us_per_call")


def _roundtrip(rounds: int, calls: int, warmup: int) -> dict[str, Any]:
    """Every round's figures per client (``rounds``), the medians over rounds (``median``) and
    the median of the rounds' Python/TypeScript ratios (``ratio_median``)."""
    counts = ["--calls", str(calls), "--warmup", str(warmup)]
    py_cmd = [sys.executable, str(HERE / "bench_roundtrip.py"), *counts]
    ts_cmd = [node_executable(), str(HERE / "ts" / "dist" / "bench_roundtrip_ts.mjs"), *counts]
    per_round: list[dict[str, Any]] = []
    proc, url = bench_roundtrip._start_server()
    try:
        for r in range(rounds):
            # Rotated, not reversed: over 3 rounds each client runs once first, second and last.
            order = CLIENTS[r % 3 :] + CLIENTS[: r % 3]
            figures: dict[str, Any] = {"order": list(order)}
            for client in order:
                if client == "typescript":
                    figures[client] = _json_of([*ts_cmd, "--url", url])["typescript"]
                else:
                    run = _json_of([*py_cmd, "--url", url, "--driver", client])
                    figures[client] = run[client]
            figures["py_over_ts"] = {
                driver: {
                    key: float(figures[driver][key]) / float(figures["typescript"][key])
                    for key in RT_KEYS
                }
                for driver in CLIENTS[:2]
            }
            per_round.append(figures)
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "rounds": per_round,
        "median": {
            client: {key: _median([f[client] for f in per_round], key) for key in RT_KEYS}
            for client in CLIENTS
        },
        "ratio_median": {
            driver: {
                key: statistics.median(f["py_over_ts"][driver][key] for f in per_round)
                for key in RT_KEYS
            }
            for driver in CLIENTS[:2]
        },
    }


def _best(runs: list[dict[str, Any]], key: str) -> float:
    return min(float(r[key]) for r in runs)


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)


def _table(receive: dict[str, dict[str, list[dict[str, Any]]]], roundtrip: dict[str, Any]) -> str:
    lines = [
        f"{'message':38} {'measure':22} {'Python':>10} {'TypeScript':>11} {'Py/TS':>7} {'goal':>6}",
    ]
    for label, runs in receive.items():
        goal = GOALS["message" if label.startswith("message") else "entity"]
        for mode in MODES:
            py, ts = _best(runs["python"], f"{mode}_ms"), _best(runs["typescript"], f"{mode}_ms")
            target = f"{goal:.1f}" if mode != "receipt" else ""
            lines.append(
                f"{label:38} {mode + ' ms':22} {py:10.1f} {ts:11.1f} {py / ts:7.2f} {target:>6}"
            )
        py = _median(runs["python"], "bytes_per_cached_row")
        ts = _median(runs["typescript"], "bytes_per_cached_row")
        lines.append(
            f"{label:38} {'bytes per cached row':22} {py:10.0f} {ts:11.0f} {py / ts:7.2f} {'1.0':>6}"
        )
    ts_rt = roundtrip["median"]["typescript"]
    for key in RT_KEYS:
        digits = 1 if key == "cpu_us_per_call" else 3
        for driver in CLIENTS[:2]:
            py = roundtrip["median"][driver][key]
            ratio = roundtrip["ratio_median"][driver][key]
            lines.append(
                f"{'reducer round trip (' + driver + ')':38} {key:22} {py:10.{digits}f} "
                f"{ts_rt[key]:11.{digits}f} {ratio:7.2f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run everything and print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--rounds", type=int, default=3, help="processes per side and message; round-trip rounds"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per mode in each process")
    parser.add_argument(
        "--calls", type=int, default=2000, help="measured reducer calls per client and round"
    )
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--json", type=Path, help="write every raw result here")
    args = parser.parse_args(argv)

    if not all(message.exists() for _, message, _ in CASES):
        make_bench_messages.main(["--out", str(DATA)])
    ensure_ts_client()
    subprocess.run([node_executable(), str(HERE / "ts" / "build.mjs")], check=True)

    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_before = os.getloadavg()
    receive = _receive(args.rounds, args.repeat)
    roundtrip = _roundtrip(args.rounds, args.calls, args.warmup)
    load_after = os.getloadavg()
    header = (
        f"{started}; Python {platform.python_version()}, "
        f"Node {receive[CASES[0][0]]['typescript'][0]['node']}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; receiving: best of {args.rounds} x {args.repeat} runs; "
        f"round trip: median of {args.rounds} rounds x {args.calls} calls"
    )
    print(header)
    print(_table(receive, roundtrip))
    if args.json:
        raw = {"header": header, "receive": receive, "roundtrip": roundtrip}
        args.json.write_text(json.dumps(raw, indent=2) + "\n")


if __name__ == "__main__":
    main()
