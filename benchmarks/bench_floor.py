"""What reading 100k received rows cannot cost less than in CPython: ``bench_floor.py``.

Takes the same messages as ``bench_apply.py`` (``subscribe_applied_{message,entity}_100k``) and
times, on their rows, the least Python that still does each step of reading them, next to what
the SDK's generated decoder and ``bench_apply``'s ``receipt``, ``read`` and ``callback`` modes take
for the same message in this process. The loops here are hand-written for the one row type,
without the bounds checks and error offsets the SDK's generated code keeps.

Decoding, each piece alone (its own loop over the rows, so each line carries the loop's cost
once), then all together (``all: ...``, the floor of a decoder that makes one row object per
row), then the SDK's bulk decoder on the same input:

* ``entity`` (24-byte ``FixedSize`` rows, ``u64`` + 3 ``f32`` + ``u32``): one
  ``struct.iter_unpack`` pass; row objects (``object.__new__`` and five slot stores, kept in a
  list); both, i.e. one row object holding its five values per row.
* ``message`` (``Identity, Timestamp, String``, one ``bytes`` per row): the bare loop; one
  ``unpack_from`` per row; the text (slice and ``bytes.decode``); the Identity (64 senders, one
  object each, shared through a dict); a Timestamp object and its slot store; the row object.

Each is timed with the collector as the SDK's bulk decodes run it (generation-0 collections
only, ``bsatn/codec.py``, column ``ms``) and with the collector off (``gc off``); ``gc young`` is
the time the generation-0 collections took inside ``ms`` (``gc.callbacks``); ``gc deferred`` is
the collection of the older generation made right after (``gc.collect(1)``), which walks every
new object once more from memory: not inside ``read_ms``, it is paid at the next such collection,
as by any Python program that builds that many objects. ``faults`` counts the minor page
faults inside ``ms`` (fresh memory for the new objects, taken from the OS).

Then what follows decoding: the memo dict (100,000 ``bytes`` keys to rows), reading the rows back
(``list(d.values())`` and a ``for`` over it), and for callbacks one Python-level call per row (a
function taking ``(ctx, row)`` that reads one field). Times are the best of ``--repeat``;
``ns/row`` divides ``ms`` by the row count. Prints a table (``--json`` also writes JSON).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_apply import Case, load_schema

from spacetimedb_sdk.bsatn.codec import _gc_paused
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.messages import SubscribeAppliedMsg, decode_server_message
from spacetimedb_sdk.timestamp import Timestamp

HERE = Path(__file__).resolve().parent
DEFAULT_MODULE_DEF = HERE.parent / "tests" / "fixtures" / "module_defs" / "bench.moduledef.bsatn"
_new: Callable[[type], Any] = object.__new__


class _Tick:
    """Time spent in collections of generation 0 and of older generations (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.young = 0.0
        self.old = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif info["generation"] == 0:
            self.young += time.perf_counter() - self._start
        else:
            self.old += time.perf_counter() - self._start


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _timed(build: Callable[[], Any], collector: str) -> tuple[float, float, float, int]:
    """One run of ``build``: (seconds, seconds in generation-0 collections, seconds of the
    first older collection afterwards, minor page faults)."""
    tick = _Tick()
    gc.collect()
    gc.callbacks.append(tick)
    try:
        if collector == "off":
            gc.disable()
            try:
                faults = _faults()
                start = time.perf_counter()
                result = build()
                took = time.perf_counter() - start
                faults = _faults() - faults
            finally:
                gc.enable()
        else:
            faults = _faults()
            start = time.perf_counter()
            with _gc_paused():
                result = build()
            took = time.perf_counter() - start
            faults = _faults() - faults
        young = tick.young
        start = time.perf_counter()
        gc.collect(1)  # the pass the next older collection makes over the new objects
        deferred = time.perf_counter() - start
    finally:
        gc.callbacks.remove(tick)
    del result
    return took, young, deferred, faults


def _best(build: Callable[[], Any], collector: str, repeat: int) -> tuple[float, float, float, int]:
    runs = [_timed(build, collector) for _ in range(repeat)]
    return min(runs)


def entity_rows(data: bytes, cls: type) -> list[Any]:
    """The floor decoder of ``entity`` rows laid back to back: one row object per row."""
    out: list[Any] = []
    oa = out.append
    for a, x, y, z, hp in _ENTITY.iter_unpack(data):
        t = _new(cls)
        t.id = a
        t.x = x
        t.y = y
        t.z = z
        t.hp = hp
        oa(t)
    return out


_ENTITY = struct.Struct("<QfffI")


def _entity_steps(data: bytes, cls: type) -> list[tuple[str, Callable[[], Any]]]:
    unpack = struct.Struct("<QfffI").iter_unpack
    n = len(data) // 24

    def tuples() -> Any:
        for _ in unpack(data):
            pass

    def locals_() -> Any:
        for _a, _x, _y, _z, _hp in unpack(data):
            pass

    def objects() -> Any:
        out: list[Any] = []
        oa = out.append
        for _ in range(n):
            t = _new(cls)
            t.id = t.x = t.y = t.z = t.hp = 0
            oa(t)
        return out

    def rows() -> Any:
        return entity_rows(data, cls)

    return [
        ("iter_unpack pass (tuples made, dropped)", tuples),
        ("same, fields unpacked into locals", locals_),
        ("row objects alone (+5 slot stores, kept)", objects),
        ("all: one row object per row (the floor)", rows),
    ]


def _message_steps(rows: list[bytes], cls: type) -> list[tuple[str, Callable[[], Any]]]:
    head = struct.Struct("<32sqI")
    unpack_from = head.unpack_from
    skip = head.size

    def loop() -> Any:
        for _ in rows:
            pass

    def unpacked() -> Any:
        for buf in rows:
            unpack_from(buf)

    def texts() -> Any:
        return [buf[skip:].decode() for buf in rows]

    def identities() -> Any:
        shared: dict[bytes, Any] = {}
        for buf in rows:
            raw = buf[:32]
            sender = shared.get(raw)
            if sender is None:
                sender = shared[raw] = _new(Identity)
                sender._value = int.from_bytes(raw, "little")

    def stamps() -> Any:
        out: list[Any] = []
        oa = out.append
        for micros in range(len(rows)):
            sent = _new(Timestamp)
            sent._micros = micros
            oa(sent)
        return out

    def objects() -> Any:
        out: list[Any] = []
        oa = out.append
        for _ in rows:
            t = _new(cls)
            t.sender = t.sent = t.text = None
            oa(t)
        return out

    def all_() -> Any:
        out: list[Any] = []
        oa = out.append
        shared: dict[bytes, Any] = {}
        for buf in rows:
            raw, micros, _n = unpack_from(buf)
            sender = shared.get(raw)
            if sender is None:
                sender = shared[raw] = _new(Identity)
                sender._value = int.from_bytes(raw, "little")
            sent = _new(Timestamp)
            sent._micros = micros
            t = _new(cls)
            t.sender = sender
            t.sent = sent
            t.text = buf[skip:].decode()
            oa(t)
        return out

    return [
        ("loop over the row bytes", loop),
        ("unpack_from per row (dropped)", unpacked),
        ("text: slice + bytes.decode (kept)", texts),
        ("Identity: slice + shared-dict lookup", identities),
        ("Timestamp: object + slot store (kept)", stamps),
        ("row objects alone (+3 slot stores, kept)", objects),
        ("all: one row per row (the floor)", all_),
    ]


def _after_steps(
    rows: list[bytes], values: list[Any], field: str
) -> list[tuple[str, Callable[[], Any]]]:
    touch: Callable[[Any, Any], Any] = eval(f"lambda ctx, row: row.{field}")
    memo = dict(zip(rows, values, strict=True))
    ctx = object()

    def memo_dict() -> Any:
        return dict(zip(rows, values, strict=True))

    def read() -> Any:
        out = list(memo.values())
        for _ in out:
            pass
        return out

    def calls() -> Any:
        for row in values:
            touch(ctx, row)

    return [
        ("memo dict: 100k bytes keys -> rows", memo_dict),
        ("read back: list(d.values()) + for", read),
        ("one Python call per row (ctx, row) -> row.field", calls),
    ]


def measure(kind: str, message: Path, module_def: Path, repeat: int) -> dict[str, Any]:
    """The floor steps and the SDK's figures for one message."""
    data = message.read_bytes()
    msg = decode_server_message(data)
    assert isinstance(msg, SubscribeAppliedMsg)
    (table_rows,) = msg.rows.tables
    rows = table_rows.rows.rows()
    case = Case(load_schema(module_def), data, None)
    conn, _ = case.connect()
    codec = conn.db[table_rows.table]._layout.codec
    cls = type(codec.decode(rows[0]))
    field = case.touched_field(table_rows.table)
    result: dict[str, Any] = {"message": message.name, "rows": len(rows), "steps": []}

    if kind == "entity":
        joined = b"".join(rows)
        steps = _entity_steps(joined, cls)

        def sdk_decode() -> Any:
            return codec.decode_concatenated(joined)
    else:
        steps = _message_steps(rows, cls)

        def sdk_decode() -> Any:
            return codec.decode_many(rows)

    values = sdk_decode()
    steps.append(("SDK: generated bulk decoder (codec)", sdk_decode))
    steps += _after_steps(rows, values, field)
    for name, build in steps:
        took, young, deferred, faults = _best(build, "sdk", repeat)
        off = _best(build, "off", repeat)[0]
        result["steps"].append(
            {
                "step": name,
                "ms": took * 1e3,
                "gc_off_ms": off * 1e3,
                "gc_young_ms": young * 1e3,
                "gc_deferred_ms": deferred * 1e3,
                "page_faults": faults,
            }
        )
    for mode in ("receipt", "read", "callback"):
        result[f"sdk_{mode}_ms"] = min(case.time(mode) for _ in range(repeat)) * 1e3
    return result


def _print(result: dict[str, Any]) -> None:
    n = result["rows"]
    print(f"\n{result['message']} ({n:,} rows)")
    print(
        f"{'step':<50} {'ms':>7} {'ns/row':>7} {'gc off':>7} {'gc young':>9} {'gc deferred':>12} {'faults':>7}"
    )
    for step in result["steps"]:
        ms = step["ms"]
        print(
            f"{step['step']:<50} {ms:7.1f} {ms * 1e6 / n:7.0f} "
            f"{step['gc_off_ms']:7.1f} {step['gc_young_ms']:9.1f} {step['gc_deferred_ms']:12.1f} "
            f"{step['page_faults']:7d}"
        )
    print(
        f"SDK (bench_apply modes): receipt {result['sdk_receipt_ms']:.1f} ms, "
        f"read {result['sdk_read_ms']:.1f} ms, callback {result['sdk_callback_ms']:.1f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the floor measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--module-def", type=Path, default=DEFAULT_MODULE_DEF)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", choices=("message", "entity"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    kinds = [args.only] if args.only else ["message", "entity"]
    results = []
    for kind in kinds:
        path = args.data / f"subscribe_applied_{kind}_100k.bsatn"
        if not path.exists():
            raise SystemExit(f"{path} is missing: run benchmarks/make_bench_messages.py first")
        result = measure(kind, path, args.module_def, max(1, args.repeat))
        _print(result)
        results.append(result)
    print(f"\nPython {platform.python_version()}, {platform.machine()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
