"""Type coverage on the ``sdk-test`` module beyond the official scenarios: the extremes of every
primitive, ``Result`` columns (which no official scenario writes), unique and primary-key
lookups of every key type in the client cache, and B-tree index filters. Same harness: real
server, generated bindings, callbacks checked as they arrive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from spacetimedb_sdk import ConnectionId, Err, Identity, Ok, Timestamp, Uuid
from spacetimedb_sdk.client import Range
from tests.sdk_suite.harness import Driver, HostedModule, Scenario, TestCounter, scenario_of
from tests.sdk_suite.sdk_test_support import (
    assert_committed,
    every_primitive_struct,
    every_vec_struct,
    handle_row_type,
    insert_one,
)

U = {bits: (1 << bits) - 1 for bits in (8, 16, 32, 64, 128, 256)}
I_MIN = {bits: -(1 << (bits - 1)) for bits in (8, 16, 32, 64, 128, 256)}


@pytest.fixture
def s(hosted_module: Any, driver: Driver) -> Iterator[Scenario]:
    module: HostedModule = hosted_module("sdk_test")
    yield from scenario_of(module, driver)


def _subscribed(s: Scenario, queries: list[str], body: Any) -> Any:
    """connect -> subscribe to ``queries`` -> ``body(ctx, counter)``; wait for everything."""
    counter = s.counter()
    applied = counter.add_test("subscription_applied")

    def on_applied(ctx: Any) -> None:
        body(ctx, counter)
        applied()

    conn = s.connect_then(counter, lambda ctx: s.subscribe_these_then(ctx, queries, on_applied))
    counter.wait_for_all()
    return conn


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_primitive_extremes_round_trip(s: Scenario) -> None:
    """The largest and smallest value of each integer type, special floats, non-ASCII and NUL
    characters, empty and binary byte strings, the far ends of time."""
    values = [
        *((f"one_u_{b}", U[b]) for b in U),
        *((f"one_i_{b}", I_MIN[b]) for b in I_MIN),
        ("one_bool", True),
        ("one_f_32", float("-inf")),
        ("one_f_64", 1.5e308),
        ("one_string", "ключ \x00 \U0001f600"),
        ("one_identity", Identity((1 << 256) - 1)),
        ("one_connection_id", ConnectionId((1 << 128) - 1)),
        ("one_timestamp", Timestamp(-1)),
        ("one_uuid", Uuid((1 << 128) - 1)),
        ("vec_u_8", bytes(range(256))),
        ("vec_i_256", [I_MIN[256], U[256] >> 1]),
        ("vec_f_64", [float("inf"), -0.0, 5e-324]),
        ("vec_timestamp", [Timestamp(0), Timestamp((1 << 63) - 1)]),
        ("vec_uuid", [Uuid.nil(), Uuid(1)]),
    ]

    def body(ctx: Any, counter: TestCounter) -> None:
        for table, value in values:
            insert_one(ctx, counter, table, value)

    _subscribed(s, [f"SELECT * FROM {t}" for t, _ in values], body)


def test_result_columns_round_trip(s: Scenario) -> None:
    """Both variants of each ``Result`` column type arrive as they were sent."""
    types = s.module.bindings.types
    cases = {
        "result_i_32_string": [Ok(-5), Err("no")],
        "result_string_i_32": [Ok("yes"), Err(7)],
        "result_identity_string": [Ok(Identity(42)), Err("")],
        "result_simple_enum_i_32": [Ok(types.SimpleEnum.Two), Err(-1)],
        "result_every_primitive_struct_string": [Ok(every_primitive_struct(types)), Err("x")],
        "result_vec_i_32_string": [Ok([1, -2, 3]), Err("vec")],
    }

    def body(ctx: Any, counter: TestCounter) -> None:
        for table, values in cases.items():
            expected = {repr(v): counter.add_test(f"{table}: {v!r}") for v in values}

            def on_insert(
                ctx: Any, row: Any, table: str = table, expected: dict[str, Any] = expected
            ) -> None:
                reporter = expected[repr(row.r)]

                def checks() -> None:
                    assert ctx.event.reducer_event.reducer == f"insert_{table}", ctx.event

                reporter.check(checks)

            getattr(ctx.db, table).on_insert(on_insert)
            for value in values:
                getattr(ctx.reducers, f"insert_{table}")(value).then(
                    assert_committed(f"insert_{table}")
                )

    conn = _subscribed(s, [f"SELECT * FROM {t}" for t in cases], body)
    for table, values in cases.items():
        rows = [row.r for row in getattr(conn.db, table).iter()]
        assert sorted(map(repr, rows)) == sorted(map(repr, values)), table


def _key_values(conn: Any) -> dict[str, tuple[Any, Any]]:
    """Key type suffix -> (a key, another key of that type)."""
    return {
        "u_8": (U[8], 0), "u_16": (U[16], 1), "u_32": (U[32], 2), "u_64": (U[64], 3),
        "u_128": (U[128], 4), "u_256": (U[256], 5),
        "i_8": (I_MIN[8], -1), "i_16": (I_MIN[16], -1), "i_32": (I_MIN[32], -1),
        "i_64": (I_MIN[64], -1), "i_128": (I_MIN[128], -1), "i_256": (I_MIN[256], -1),
        "bool": (True, False), "string": ("ключ", "key"),
        "identity": (conn.identity, Identity.zero()),
        "connection_id": (conn.connection_id, ConnectionId.zero()),
        "uuid": (Uuid(0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10), Uuid.nil()),
    }  # fmt: skip


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_unique_and_primary_key_lookups(s: Scenario) -> None:
    """``find`` on the unique column of every Unique*/Pk* table, for every key type, follows
    inserts, primary-key updates and deletes."""
    counter = s.counter()
    queries = [f"SELECT * FROM {kind}_{k}" for kind in ("unique", "pk") for k in _KEY_SUFFIXES]
    conn = s.connect_then(
        counter, lambda ctx: s.subscribe_these_then(ctx, queries, lambda _ctx: None)
    )
    counter.wait_for_all()
    keys = _key_values(conn)

    def call(reducer: str, *args: Any) -> None:
        s.result(getattr(conn.reducers, reducer)(*args))

    for suffix, (key, other) in keys.items():
        for kind in ("unique", "pk"):
            table = f"{kind}_{suffix}"
            call(f"insert_{table}", key, 1)
            handle = getattr(conn.db, table)
            index = getattr(handle, _key_column(handle))
            # Like the official generators, ours gives a Uuid column no unique finder (only
            # its B-tree index): Uuid is not a "filterable" type.
            find = index.find if hasattr(index, "find") else _find_by_filter(index)
            assert find(key) is not None and find(key).data == 1, table
            assert find(other) is None, table
            if kind == "pk":
                call(f"update_{table}", key, 2)
                assert find(key).data == 2, table
            call(f"delete_{table}", key)
            assert find(key) is None, table


_KEY_SUFFIXES = [
    "u_8", "u_16", "u_32", "u_64", "u_128", "u_256", "i_8", "i_16", "i_32", "i_64", "i_128",
    "i_256", "bool", "string", "identity", "connection_id", "uuid",
]  # fmt: skip


def _find_by_filter(index: Any) -> Any:
    def find(key: Any) -> Any:
        rows = list(index.filter(key))
        assert len(rows) <= 1, rows
        return rows[0] if rows else None

    return find


def _key_column(handle: Any) -> str:
    return dataclasses.fields(handle_row_type(handle))[0].name


def test_btree_filters(s: Scenario) -> None:
    """B-tree index filters on a u32 column: values, ranges, duplicates, after deletes."""
    types = s.module.bindings.types
    rows = [types.BTreeU32(n, d) for n, d in [(1, 10), (2, 20), (2, 21), (5, 50), (9, 90)]]
    conn = _subscribed(s, ["SELECT * FROM btree_u_32"], lambda ctx, counter: None)
    s.result(conn.reducers.insert_into_btree_u_32(rows))
    n = conn.db.btree_u_32.n

    def data(found: Any) -> list[int]:
        return sorted(r.data for r in found)

    assert data(n.filter(2)) == [20, 21]
    assert data(n.filter(3)) == []
    assert data(n.filter(Range(2, 9))) == [20, 21, 50]
    assert data(n.filter(Range.closed(2, 9))) == [20, 21, 50, 90]
    assert data(n.filter(Range.greater_than(2))) == [50, 90]
    assert data(n.filter(slice(None, 2))) == [10]
    s.result(conn.reducers.delete_from_btree_u_32(rows[1:3]))
    assert data(n.filter(2)) == []
    assert data(n.filter(Range.at_least(0))) == [10, 50, 90]


def test_btree_filter_on_a_simple_enum(s: Scenario) -> None:
    """A B-tree index on a plain-enum column (indexed_simple_enum.n) filters by variant, and
    ranges follow the server's order (by variant tag)."""
    types = s.module.bindings.types
    enum = types.SimpleEnum
    conn = _subscribed(s, ["SELECT * FROM indexed_simple_enum"], lambda ctx, counter: None)
    # The table's only column is n: inserting Two again adds no row (set semantics).
    for e in (enum.Two, enum.One, enum.Two):
        s.result(conn.reducers.insert_into_indexed_simple_enum(e))
    index = conn.db.indexed_simple_enum.n
    assert [row.n for row in index.filter(enum.Two)] == [enum.Two]
    assert [row.n for row in index.filter(enum.One)] == [enum.One]
    assert list(index.filter(enum.Zero)) == []
    assert [row.n for row in index.filter(Range.closed(enum.Zero, enum.Two))] == [
        enum.One,
        enum.Two,
    ]


def test_struct_and_vec_struct_round_trip_in_vectors(s: Scenario) -> None:
    """Nested combinations: vectors of structs of vectors, options of vectors of options."""
    types = s.module.bindings.types
    values = [
        ("vec_every_vec_struct", [every_vec_struct(types), every_vec_struct(types)]),
        ("option_vec_option_i_32", [None, 1, None, -(1 << 31)]),
        (
            "vec_enum_with_payload",
            [types.EnumWithPayloadInts([]), types.EnumWithPayloadTimestamp(Timestamp(5))],
        ),
        ("one_every_primitive_struct", every_primitive_struct(types)),
    ]

    def body(ctx: Any, counter: TestCounter) -> None:
        for table, value in values:
            insert_one(ctx, counter, table, value)

    _subscribed(s, [f"SELECT * FROM {t}" for t, _ in values], body)
