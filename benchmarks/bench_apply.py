"""What a user pays to receive one server message: ``bench_apply.py --module-def F --message F``.

The message file holds exactly one BSATN-encoded v2 ``ServerMessage`` (no compression tag byte,
no v3 framing); ``make_bench_messages.py`` writes them. Each run builds a fresh connection over
an in-memory socket (``client.testing``), subscribes to the tables the message touches (the
message is retargeted at the ids the client chose, as ``benchmarks/ts/`` does for the official
TypeScript client), and, for a ``TransactionUpdate``, first delivers ``--prefill`` (untimed,
read once: the cache a running client has). Then it times, best of ``--repeat`` runs each:

* ``receipt_ms``: delivering the frame (message decode, validation, splitting and keying rows,
  cache apply, dispatch; no callbacks registered);
* ``read_ms``: the receipt and then reading every cached row once (one iteration of each table
  the message touches; after a ``TransactionUpdate`` most rows were read before, in the prefill);
* ``callback_ms``: the receipt with one callback registered that touches one field of each row
  (``on_insert`` for a ``SubscribeApplied``; ``on_update`` for a ``TransactionUpdate``, whose
  deletes and inserts pair up into updates);
* ``bytes_per_cached_row``: memory the cache holds after ``read`` (allocations made from before
  the first delivery that are still live, by ``tracemalloc``), divided by the cached rows.

Rows decode into the classes generated bindings would have (built at run time by
``codegen.dynamic``). The garbage collector stays on, as in a real program. ``--profile read|callback`` also runs
that mode once under cProfile and prints the top functions by own time to stderr. Prints JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import platform
import pstats
import statistics
import struct
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spacetimedb_sdk.client.testing import build_offline
from spacetimedb_sdk.codegen.dynamic import load_module
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.messages import (
    InitialConnectionMsg,
    ServerMessage,
    SubscribeAppliedMsg,
    SubscribeMsg,
    TransactionUpdateMsg,
    decode_server_message,
)
from spacetimedb_sdk.schema import ModuleSchema

MODES = ("receipt", "read", "callback")


def load_schema(path: Path) -> ModuleSchema:
    """A module definition from ``.bsatn`` (RawModuleDef) or ``.json`` (SATS-JSON)."""
    data = path.read_bytes()
    if path.suffix == ".json":
        return ModuleSchema.from_json(data)
    return ModuleSchema.from_bytes(data)


def _tables(msg: ServerMessage) -> list[str]:
    if isinstance(msg, SubscribeAppliedMsg):
        return [t.table for t in msg.rows.tables]
    if isinstance(msg, TransactionUpdateMsg):
        if len(msg.query_sets) != 1:
            raise SystemExit("a TransactionUpdate for one query set is expected")
        return [t.table_name for t in msg.query_sets[0].tables]
    raise SystemExit(f"unsupported message {type(msg).__name__}")


def _row_count(msg: ServerMessage) -> int:
    if isinstance(msg, SubscribeAppliedMsg):
        return sum(len(t.rows) for t in msg.rows.tables)
    if isinstance(msg, TransactionUpdateMsg):
        return sum(
            len(getattr(r, "inserts", ())) + len(getattr(r, "deletes", ()))
            for qsu in msg.query_sets
            for t in qsu.tables
            for r in t.rows
        )
    return 0


def _retarget(data: bytes, sub: SubscribeMsg) -> bytes:
    """``data`` (a SubscribeApplied or TransactionUpdate) aimed at ``sub``'s ids."""
    out = bytearray(data)
    if out[0] == 1:  # SubscribeApplied: tag, request_id u32, query_set_id u32
        struct.pack_into("<II", out, 1, sub.request_id, sub.query_set_id.id)
    elif out[0] == 4:  # TransactionUpdate: tag, query set count u32, first query_set_id u32
        struct.pack_into("<I", out, 5, sub.query_set_id.id)
    else:
        raise SystemExit(f"unsupported message tag {out[0]}")
    return bytes(out)


class Case:
    """One message to receive, with everything prepared outside the timings."""

    def __init__(self, schema: ModuleSchema, data: bytes, prefill: bytes | None) -> None:
        self.schema = schema
        self.data = data
        self.prefill = prefill
        # Rows decode into classes, as with generated bindings (the same classes, built now).
        self.module = load_module(schema, name="bench")
        msg = decode_server_message(data)
        self.rows = _row_count(msg)
        self.tables = _tables(msg)
        self.is_update = isinstance(msg, TransactionUpdateMsg)

    def touched_field(self, table: str) -> str:
        """The column the callbacks read: the table's last one."""
        name = self.schema.table(table).columns[-1].name
        if not name.isidentifier():
            raise SystemExit(f"column {name!r} is not an identifier")
        return name

    def connect(self, prefill: bool = True) -> tuple[Any, Callable[[], None]]:
        """A fresh connection, subscribed and prefilled; returns it and the timed delivery."""
        conn, socket = build_offline(
            self.module.builder().with_uri("ws://bench.invalid").with_database_name("bench")
        )
        socket.deliver(InitialConnectionMsg(Identity(1), ConnectionId(1), "bench-token"))
        socket.take_sent()
        conn.subscription_builder().subscribe([f'SELECT * FROM "{t}"' for t in self.tables])
        (sub,) = socket.take_sent()
        assert isinstance(sub, SubscribeMsg)
        if self.prefill is not None and prefill:
            socket.deliver(b"\x00" + _retarget(self.prefill, sub))
            for handle in conn.db:
                for _ in handle.iter():
                    pass
        frame = b"\x00" + _retarget(self.data, sub)
        return conn, lambda: socket.deliver(frame)

    def prepare(self, conn: Any, mode: str) -> Callable[[], None]:
        """What ``mode`` does after the delivery (registering its callback now)."""
        if mode == "callback":
            for table in self.tables:
                field = self.touched_field(table)
                handle = conn.db[table]
                if self.is_update:
                    handle.on_update(eval(f"lambda ctx, old, new: new.{field}"))
                else:
                    handle.on_insert(eval(f"lambda ctx, row: row.{field}"))
        if mode != "read":
            return lambda: None
        handles = [conn.db[t] for t in self.tables]

        def read_all() -> None:
            for handle in handles:
                for _ in handle.iter():
                    pass

        return read_all

    def time(self, mode: str) -> float:
        """One timed run of ``mode`` on a fresh connection (seconds)."""
        conn, deliver = self.connect()
        after = self.prepare(conn, mode)
        gc.collect()
        start = time.perf_counter()
        deliver()
        after()
        return time.perf_counter() - start

    def retained_bytes_per_row(self) -> float:
        """Memory the cache keeps after ``read`` (prefill included), per cached row: what a
        connection holds then, less what an empty subscribed connection holds."""

        def retained(fill: bool) -> tuple[int, int]:
            gc.collect()
            tracemalloc.start()
            try:
                conn, deliver = self.connect(prefill=fill)
                if fill:
                    after = self.prepare(conn, "read")
                    deliver()
                    after()
                    del after
                del deliver
                gc.collect()
                held = tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
            return held, sum(handle.count() for handle in conn.db)

        empty, _ = retained(False)
        full, cached = retained(True)
        return (full - empty) / cached if cached else 0.0

    def profile(self, mode: str, top: int) -> str:
        """One run of ``mode`` under cProfile: the ``top`` functions by own time."""
        conn, deliver = self.connect()
        after = self.prepare(conn, mode)
        gc.collect()
        profiler = cProfile.Profile()
        profiler.enable()
        deliver()
        after()
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
        return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--module-def", type=Path, required=True)
    parser.add_argument("--message", type=Path, required=True)
    parser.add_argument("--prefill", type=Path, help="a SubscribeApplied to apply first")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", choices=MODES, action="append", default=[])
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args(argv)

    case = Case(
        load_schema(args.module_def),
        args.message.read_bytes(),
        args.prefill.read_bytes() if args.prefill else None,
    )
    per_row = case.retained_bytes_per_row()  # first, while nothing else of ours is live
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(max(1, args.repeat)):
        for mode in MODES:  # interleaved, so load changes hit every mode alike
            times[mode].append(case.time(mode))
    result: dict[str, Any] = {
        "message": args.message.name,
        "rows": case.rows,
        "touched_field": case.touched_field(case.tables[0]),
    }
    for mode in MODES:
        result[f"{mode}_ms"] = round(min(times[mode]) * 1e3, 3)
        result[f"{mode}_median_ms"] = round(statistics.median(times[mode]) * 1e3, 3)
    result["bytes_per_cached_row"] = round(per_row, 1)
    result["repeat"] = len(times["receipt"])
    result["python"] = platform.python_version()
    print(json.dumps(result))
    for mode in args.profile:
        print(f"== cProfile: {args.message.name}, {mode}", file=sys.stderr)
        print(case.profile(mode, args.profile_top), file=sys.stderr)


if __name__ == "__main__":
    main()
