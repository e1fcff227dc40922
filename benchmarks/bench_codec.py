"""Row-list decoding throughput: ``python benchmarks/bench_codec.py [--rows N] [--repeat R]``.

Two tables of the fixtures' bench module, 100,000 rows each by default:

* ``message`` ``{sender: Identity, sent: Timestamp, text: String}``: variable size, so the server
  sends ``RowOffsets``;
* ``entity`` ``{id: u64, x: f32, y: f32, z: f32, hp: u32}``: 24 bytes, ``FixedSize(24)``, decoded
  in one ``struct.iter_unpack`` pass.

For each it times (best of ``--repeat``): decoding the whole ``SubscribeApplied`` message,
splitting the row list into row bytes, decoding all rows to values, and both (what a client cache
does: row bytes are the cache keys, values go to callbacks); validating every row without
building values (``validate``), validating and splitting in one pass as the client does when a
message arrives (``validate_and_split``, including building the row list), and decoding the split
rows as the cache does on first iteration (``decode_cached_rows``, ``codec.decode_many``).
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from spacetimedb_sdk.algebraic_type import F32, IDENTITY, STRING, TIMESTAMP, U32, U64, product_of
from spacetimedb_sdk.bsatn import BsatnCodec, compile_codec
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.messages import (
    QueryRows,
    QuerySetId,
    SingleTableRows,
    SubscribeAppliedMsg,
    decode_server_message,
    encode_server_message,
)
from spacetimedb_sdk.row_list import BsatnRowList, FixedSize, RowOffsets
from spacetimedb_sdk.timestamp import Timestamp

MESSAGE_ROW = product_of([("sender", IDENTITY), ("sent", TIMESTAMP), ("text", STRING)])
ENTITY_ROW = product_of([("id", U64), ("x", F32), ("y", F32), ("z", F32), ("hp", U32)])


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _rate(seconds: float, rows: int) -> dict[str, float]:
    return {
        "ms": round(seconds * 1e3, 3),
        "rows_per_s": round(rows / seconds) if seconds else float("inf"),
        "ns_per_row": round(seconds * 1e9 / rows, 1),
    }


def _message_rows(n: int) -> list[dict[str, Any]]:
    senders = [Identity(0xC200_0000 + i) for i in range(16)]
    base = 1_739_788_245_123_456
    return [
        {
            "sender": senders[i % 16],
            "sent": Timestamp(base + i),
            "text": f"message number {i} 👋" * (1 + i % 3),
        }
        for i in range(n)
    ]


def _entity_rows(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "x": i * 0.5, "y": -1.25, "z": 3.0, "hp": 100 + i % 50} for i in range(n)]


def _bench_table(
    table: str, codec: BsatnCodec[Any], values: list[dict[str, Any]], repeat: int
) -> dict[str, Any]:
    encoded_rows = [codec.encode(v) for v in values]
    row_list = BsatnRowList.from_rows(encoded_rows, fixed_size=codec.fixed_size)
    message = SubscribeAppliedMsg(1, QuerySetId(1), QueryRows([SingleTableRows(table, row_list)]))
    frame = encode_server_message(message)

    decoded = decode_server_message(frame)
    assert isinstance(decoded, SubscribeAppliedMsg)
    rows = decoded.rows.tables[0].rows
    assert rows.rows() == encoded_rows
    assert rows.decode_rows(codec) == values

    n = len(values)

    def split_and_decode() -> None:
        rows.rows()
        rows.decode_rows(codec)

    hint = rows.size_hint
    split = rows.rows()
    return {
        "table": table,
        "rows": n,
        "size_hint": f"FixedSize({hint.size})" if isinstance(hint, FixedSize) else "RowOffsets",
        "rows_data_bytes": len(rows.rows_data),
        "one_struct_pass": isinstance(hint, FixedSize) and codec.fixed_format is not None,
        "decode_message": _rate(_best(lambda: decode_server_message(frame), repeat), n),
        "split": _rate(_best(rows.rows, repeat), n),
        "decode_values": _rate(_best(lambda: rows.decode_rows(codec), repeat), n),
        "split_and_decode": _rate(_best(split_and_decode, repeat), n),
        "validate": _rate(_best(lambda: rows.validate(codec), repeat), n),
        "validate_and_split": _rate(
            _best(lambda: BsatnRowList(hint, rows.rows_data).validated_rows(codec), repeat), n
        ),
        "decode_cached_rows": _rate(_best(lambda: codec.decode_many(split), repeat), n),
    }


def _calibration_ns_per_call(repeat: int) -> float:
    """How long a trivial Python function call takes here, to compare machines."""

    def noop(a: int, b: int) -> tuple[int, int]:
        return a, b

    def loop() -> None:
        for i in range(100_000):
            noop(i, i)

    return round(_best(loop, repeat) * 1e9 / 100_000, 1)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    message_codec = compile_codec(MESSAGE_ROW)
    entity_codec = compile_codec(ENTITY_ROW)
    results = [
        _bench_table("message", message_codec, _message_rows(args.rows), args.repeat),
        _bench_table("entity", entity_codec, _entity_rows(args.rows), args.repeat),
    ]
    assert results[0]["size_hint"] == "RowOffsets" and isinstance(
        BsatnRowList.from_rows([b"a", b"bc"]).size_hint, RowOffsets
    )
    assert results[1]["size_hint"] == "FixedSize(24)" and results[1]["one_struct_pass"]
    report = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "repeat": args.repeat,
        "calibration_ns_per_python_call": _calibration_ns_per_call(args.repeat),
        "results": results,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
