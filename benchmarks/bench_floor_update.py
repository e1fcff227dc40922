"""What applying a steady-state ``TransactionUpdate`` cannot cost less than in CPython:
``bench_floor_update.py``.

Takes the same message as ``bench_apply.py`` (``transaction_update_entity_10k``: 10,000 deleted
``entity`` rows and 10,000 new versions, primary key ``id``, on a cache of 100,000 rows) and
times the least Python that still does each step the client must do, each as whole-list C
passes with no bookkeeping, next to what ``bench_apply`` measures for the SDK on the same bytes
in this process:

* ``split``: the two row lists into 20,000 ``bytes`` (one ``struct`` unpack per chunk);
* ``delete``: popping the 10,000 deleted rows (and their decoded values) from a 100,000-entry
  dict keyed by row bytes;
* ``insert``: adding the 10,000 new rows to it;
* ``pair``: a dict from the deleted rows' primary-key bytes, popped by the inserted rows' keys;
* ``decode new``: the 10,000 new rows into row objects (``iter_unpack`` + ``object.__new__`` +
  five slot stores);
* ``callbacks``: one Python-level call per update reading one field.

``floor (a)`` sums split, delete, insert and pair; ``floor (c)`` adds decode and callbacks. Times
are the best of ``--repeat`` with the collector on; the dict is rebuilt before each run, so the
deleted keys are not in the CPU cache (as in a real client, whose 100,000 rows are spread over
memory).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from collections import deque
from collections.abc import Callable
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_apply import Case, load_schema
from bench_floor import entity_rows

from spacetimedb_sdk.messages import (
    PersistentTableRows,
    SubscribeAppliedMsg,
    TransactionUpdateMsg,
    decode_server_message,
)

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
DEFAULT_MODULE_DEF = HERE.parent / "tests" / "fixtures" / "module_defs" / "bench.moduledef.bsatn"


def _split(data: bytes) -> list[bytes]:
    return [data[i : i + 24] for i in range(0, len(data), 24)]


def _decode(rows: list[bytes], cls: type) -> list[Any]:
    return entity_rows(b"".join(rows), cls)


def _run_once(
    all_rows: list[bytes],
    entry: PersistentTableRows,
    cls: type,
    timed: Callable[[str, Callable[[], Any]], Any],
) -> None:
    """One pass of every floor step, on a freshly built 100k-row cache."""
    pk = itemgetter(slice(0, 8))
    cache = dict(zip(all_rows, _decode(all_rows, cls), strict=True))
    gc.collect()
    inserts = timed("split", lambda: _split(entry.inserts.rows_data))
    deletes = _split(entry.deletes.rows_data)
    timed("delete", lambda: list(map(cache.pop, deletes, repeat(None))))
    timed("insert", lambda: cache.update(dict.fromkeys(inserts)))

    def pair() -> list[Any]:
        by_key = dict(zip(map(pk, deletes), deletes, strict=True))
        return list(map(by_key.pop, map(pk, inserts)))

    timed("pair", pair)
    new = timed("decode new", lambda: _decode(inserts, cls))

    def on_update(ctx: Any, old: Any, row: Any) -> Any:
        return row.hp

    timed("callbacks", lambda: deque(map(on_update, repeat(None), new, new), maxlen=0))


def measure(module_def: Path, repeat_n: int) -> dict[str, Any]:
    """Time each floor step, then the SDK's own three modes on the same message."""
    prefill = (DATA / "subscribe_applied_entity_100k.bsatn").read_bytes()
    update = (DATA / "transaction_update_entity_10k.bsatn").read_bytes()
    schema = load_schema(module_def)
    case = Case(schema, update, prefill)
    cls = case.module.row_classes["entity"]
    full = decode_server_message(prefill)
    tx = decode_server_message(update)
    assert isinstance(full, SubscribeAppliedMsg) and isinstance(tx, TransactionUpdateMsg)
    (entry,) = tx.query_sets[0].tables[0].rows
    assert isinstance(entry, PersistentTableRows)
    all_rows = full.rows.tables[0].rows.rows()
    steps: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        steps.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return out

    for _ in range(repeat_n):
        _run_once(all_rows, entry, cls, timed)
    best = {name: min(times) for name, times in steps.items()}
    best["floor (a)"] = best["split"] + best["delete"] + best["insert"] + best["pair"]
    best["floor (c)"] = best["floor (a)"] + best["decode new"] + best["callbacks"]
    sdk = {f"sdk {mode}": min(case.time(mode) for _ in range(repeat_n)) * 1000 for mode in
           ("receipt", "read", "callback")}  # fmt: skip
    return {
        "python": platform.python_version(),
        "rows": len(entry.deletes) + len(entry.inserts),
        "ms": {k: round(v, 3) for k, v in {**best, **sdk}.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module-def", type=Path, default=DEFAULT_MODULE_DEF)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not (DATA / "transaction_update_entity_10k.bsatn").exists():
        raise SystemExit("run benchmarks/make_bench_messages.py first")
    result = measure(args.module_def, args.repeat)
    print(f"TransactionUpdate floor (Python {result['python']}, {result['rows']} rows)")
    for name, ms in result["ms"].items():
        print(f"  {name:<14} {ms:8.2f} ms")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
