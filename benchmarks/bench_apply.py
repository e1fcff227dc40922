"""Apply one server message to a fresh client cache: ``bench_apply.py --module-def F --message F``.

The message file holds exactly one BSATN-encoded v2 ``ServerMessage`` (no compression tag byte,
no v3 framing); ``make_bench_messages.py`` writes the two 100k-row ``SubscribeApplied`` files.
Each run builds a fresh connection (over an in-memory socket), registers the query set the
message refers to -- as a real connection would have before the answer arrived -- then times
what a real receipt does: decoding the message, splitting and keying rows (rows are decoded
lazily, so only as far as the cache needs), applying the batch to the cache, and dispatching
callbacks (none are registered). Prints JSON: ``{rows, total_ms, ns_per_row,
peak_rss_delta_mb, ...}`` with the best of ``--repeat`` runs (and their median).

Also reported, outside ``total_ms``: ``first_iter_ms``, the time of the first full iteration of
the received table afterwards (when the lazily kept rows are decoded, in bulk).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from spacetimedb_sdk.client import DbConnection
from spacetimedb_sdk.client.testing import build_offline
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.messages import (
    InitialConnection,
    ServerMessage,
    SubscribeApplied,
    TransactionUpdate,
    UnsubscribeApplied,
    decode_server_message,
)
from spacetimedb_sdk.schema import ModuleSchema


def load_schema(path: Path) -> ModuleSchema:
    """A module definition from ``.bsatn`` (RawModuleDef) or ``.json`` (SATS-JSON)."""
    data = path.read_bytes()
    if path.suffix == ".json":
        return ModuleSchema.from_json(data)
    return ModuleSchema.from_bytes(data)


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _query_sets(msg: ServerMessage) -> dict[int, list[str]]:
    """The query sets a message refers to, with one ``SELECT *`` per table it mentions."""
    found: dict[int, list[str]] = {}
    if isinstance(msg, SubscribeApplied):
        found[msg.query_set_id.id] = [f'SELECT * FROM "{t.table}"' for t in msg.rows.tables]
    elif isinstance(msg, UnsubscribeApplied):
        found[msg.query_set_id.id] = ["SELECT 1"]
    elif isinstance(msg, TransactionUpdate):
        for qsu in msg.query_sets:
            found[qsu.query_set_id.id] = [f'SELECT * FROM "{t.table_name}"' for t in qsu.tables]
    return found


def _row_count(msg: ServerMessage) -> int:
    if isinstance(msg, SubscribeApplied):
        return sum(len(t.rows) for t in msg.rows.tables)
    if isinstance(msg, TransactionUpdate):
        return sum(
            len(getattr(r, "inserts", ())) + len(getattr(r, "deletes", ()))
            for qsu in msg.query_sets
            for t in qsu.tables
            for r in t.rows
        )
    return 0


def run_once(
    schema: ModuleSchema, data: bytes, probe: ServerMessage
) -> tuple[float, float, float, Any]:
    """One timed receipt of ``data`` by a fresh connection, then one timed full iteration of
    the tables it filled; returns (receipt seconds, peak RSS after the receipt in MiB,
    iteration seconds, connection)."""
    conn, socket = build_offline(
        DbConnection.builder()
        .with_uri("ws://bench.invalid")
        .with_database_name("bench")
        .with_module(schema)
    )
    socket.deliver(InitialConnection(Identity(1), ConnectionId(1), "bench-token"))
    for qid, queries in _query_sets(probe).items():
        qs = conn.core.subscribe(queries, query_set_id=qid)
        if isinstance(probe, (TransactionUpdate, UnsubscribeApplied)):
            qs.state = qs.state.APPLIED
    core = conn.core
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        conn._dispatcher.dispatch(core.receive_message(decode_server_message(data)))
        elapsed = time.perf_counter() - start
        rss = _peak_rss_mb()
        start = time.perf_counter()
        for handle in conn.db:
            for _ in handle.iter():
                pass
        iterated = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed, rss, iterated, conn


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--module-def", type=Path, required=True)
    parser.add_argument("--message", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    schema = load_schema(args.module_def)
    data = args.message.read_bytes()
    probe = decode_server_message(data)
    rows = _row_count(probe)
    del probe
    probe = decode_server_message(data)

    rss_before = _peak_rss_mb()
    times: list[float] = []
    iter_times: list[float] = []
    conn: Any = None
    for _ in range(max(1, args.repeat)):
        conn = None  # drop the previous cache before building the next one
        gc.collect()
        elapsed, rss, iterated, conn = run_once(schema, data, probe)
        times.append(elapsed)
        iter_times.append(iterated)
        if len(times) == 1:
            rss_delta = rss - rss_before
    cached = sum(t.count() for t in conn.db) if conn is not None else 0
    best = min(times)
    print(
        json.dumps(
            {
                "message": args.message.name,
                "rows": rows,
                "cached_rows": cached,
                "total_ms": round(best * 1e3, 3),
                "median_ms": round(statistics.median(times) * 1e3, 3),
                "ns_per_row": round(best * 1e9 / rows, 1) if rows else None,
                "peak_rss_delta_mb": round(rss_delta, 1),
                "first_iter_ms": round(min(iter_times) * 1e3, 3),
                "repeat": len(times),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
