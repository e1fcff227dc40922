"""Write the benchmark's server messages: ``make_bench_messages.py [--out DIR]``.

Each output file holds exactly one BSATN-encoded v2 ``ServerMessage`` (no compression tag byte,
no v3 framing), as ``bench_apply.py --message FILE`` reads it. The rows follow the bench module
(``tests/fixtures/module_defs/bench.*``):

* ``subscribe_applied_message_100k.bsatn``: ``message {sender: Identity, sent: Timestamp,
  text: String}``, variable-size rows, so the server would send ``RowOffsets``;
* ``subscribe_applied_entity_100k.bsatn``: ``entity {id: u64, x: f32, y: f32, z: f32, hp: u32}``,
  24-byte rows sent as ``FixedSize(24)``;
* ``transaction_update_entity_10k.bsatn``: a ``TransactionUpdate`` on ``entity`` (primary key
  ``id``) deleting 10,000 of those rows (every tenth id) and inserting a new version of each (same
  id, new position and hp): 10,000 updates, a game client's steady state. It applies to a cache
  filled by the ``entity`` message.

The rows are deterministic (a fixed seed), so every run writes the same bytes.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from spacetimedb_sdk.algebraic_type import RefType
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.messages import (
    PersistentTableRows,
    QueryRows,
    QuerySetId,
    QuerySetUpdate,
    SingleTableRows,
    SubscribeAppliedMsg,
    TableUpdate,
    TransactionUpdateMsg,
    encode_server_message,
)
from spacetimedb_sdk.row_list import BsatnRowList
from spacetimedb_sdk.schema import ModuleSchema
from spacetimedb_sdk.timestamp import Timestamp

HERE = Path(__file__).resolve().parent
DEFAULT_MODULE_DEF = HERE.parent / "tests" / "fixtures" / "module_defs" / "bench.moduledef.bsatn"
DEFAULT_OUT = HERE / "data"

_WORDS = [
    "hello",
    "world",
    "spacetime",
    "database",
    "row",
    "cache",
    "client",
    "python",
    "message",
    "entity",
    "reducer",
    "subscription",
    "query",
    "table",
    "index",
    "update",
    "insert",
    "delete",
    "event",
    "👋",
    "ünïcödé",
]


def message_rows(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Chat messages from 64 senders, one microsecond apart, 2..16 words each."""
    senders = [Identity(rng.getrandbits(256)) for _ in range(64)]
    base = 1_739_788_245_123_456
    return [
        {
            "sender": senders[rng.randrange(64)],
            "sent": Timestamp(base + i),
            "text": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 16))),
        }
        for i in range(n)
    ]


def entity_rows(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Entities with distinct ids and f32-exact coordinates."""
    return [
        {
            "id": i,
            "x": rng.randint(-4096, 4096) / 4.0,
            "y": rng.randint(-4096, 4096) / 4.0,
            "z": rng.randint(0, 1024) / 8.0,
            "hp": rng.randint(1, 1000),
        }
        for i in range(n)
    ]


def subscribe_applied(schema: ModuleSchema, table: str, rows: list[dict[str, Any]]) -> bytes:
    """The BSATN of a ``SubscribeApplied`` (request 1, query set 1) carrying ``rows``."""
    info = schema.table(table)
    codec = compile_codec(RefType(info.product_type_ref), schema.typespace)
    row_list = BsatnRowList.from_rows((codec.encode(r) for r in rows), fixed_size=codec.fixed_size)
    message = SubscribeAppliedMsg(
        1, QuerySetId(1), QueryRows([SingleTableRows(info.name, row_list)])
    )
    return encode_server_message(message)


def transaction_update(
    schema: ModuleSchema, table: str, deletes: list[dict[str, Any]], inserts: list[dict[str, Any]]
) -> bytes:
    """The BSATN of a ``TransactionUpdate`` (query set 1) deleting and inserting rows of ``table``."""
    info = schema.table(table)
    codec = compile_codec(RefType(info.product_type_ref), schema.typespace)

    def rows(values: list[dict[str, Any]]) -> BsatnRowList:
        return BsatnRowList.from_rows((codec.encode(r) for r in values), codec.fixed_size)

    update = PersistentTableRows(inserts=rows(inserts), deletes=rows(deletes))
    table_update = TableUpdate(info.name, [update])
    return encode_server_message(
        TransactionUpdateMsg([QuerySetUpdate(QuerySetId(1), [table_update])])
    )


def moved(rows: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """New versions of entity rows: same ids, new position and hp."""
    return [
        {
            **row,
            "x": row["x"] + rng.randint(-16, 16) / 4.0,
            "y": row["y"] + rng.randint(-16, 16) / 4.0,
            "hp": max(1, row["hp"] - rng.randint(0, 9)),
        }
        for row in rows
    ]


def main(argv: list[str] | None = None) -> None:
    """Write both message files and print their paths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--module-def", type=Path, default=DEFAULT_MODULE_DEF)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20250217)
    args = parser.parse_args(argv)

    schema = ModuleSchema.from_bytes(args.module_def.read_bytes())
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    suffix = f"{args.rows // 1000}k" if args.rows % 1000 == 0 else str(args.rows)
    entities: list[dict[str, Any]] = []
    for table, rows in (
        ("message", message_rows(args.rows, rng)),
        ("entity", entity_rows(args.rows, rng)),
    ):
        path = args.out / f"subscribe_applied_{table}_{suffix}.bsatn"
        path.write_bytes(subscribe_applied(schema, table, rows))
        print(path)
        if table == "entity":
            entities = rows
    old = entities[::10]
    count = len(old)
    suffix = f"{count // 1000}k" if count % 1000 == 0 else str(count)
    path = args.out / f"transaction_update_entity_{suffix}.bsatn"
    path.write_bytes(transaction_update(schema, "entity", old, moved(old, rng)))
    print(path)


if __name__ == "__main__":
    main()
