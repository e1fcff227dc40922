"""Shared pieces of the ``sdk-test`` scenarios: the query set covering every table, the
"all tables empty" check, the value fixtures, and the insert / insert-then-delete /
insert-update-delete round trips of the official client's simple, unique and primary-key
test tables (re-expressed over the generated bindings, looked up by name).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

from spacetimedb_sdk import ConnectionId, Identity, TimeDuration, Timestamp, Uuid
from spacetimedb_sdk.client import DisconnectedError
from spacetimedb_sdk.client.events import Reducer, ReducerStatus
from tests.sdk_suite.harness import TestCounter

_SCALARS = [
    "u_8", "u_16", "u_32", "u_64", "u_128", "u_256",
    "i_8", "i_16", "i_32", "i_64", "i_128", "i_256",
    "bool", "f_32", "f_64", "string", "identity", "connection_id", "timestamp", "uuid",
    "simple_enum", "enum_with_payload", "unit_struct", "byte_struct",
    "every_primitive_struct", "every_vec_struct",
]  # fmt: skip
_OPTIONS = [
    "i_32", "string", "identity", "uuid", "simple_enum", "every_primitive_struct",
    "vec_option_i_32",
]  # fmt: skip
_KEYS = [
    "u_8", "u_16", "u_32", "u_64", "u_128", "u_256",
    "i_8", "i_16", "i_32", "i_64", "i_128", "i_256",
    "bool", "string", "identity", "connection_id", "uuid",
]  # fmt: skip

#: The tables the official client subscribes to ("a great big honking query").
ALL_TABLES: list[str] = [
    *(f"one_{k}" for k in _SCALARS),
    *(f"vec_{k}" for k in _SCALARS),
    *(f"option_{k}" for k in _OPTIONS),
    *(f"unique_{k}" for k in _KEYS),
    *(f"pk_{k}" for k in _KEYS),
    "large_table",
    "table_holds_table",
]
SUBSCRIBE_ALL: list[str] = [f"SELECT * FROM {t};" for t in ALL_TABLES]

#: A fixed timestamp (the official client's `fixed_test_timestamp`).
FIXED_TIMESTAMP = Timestamp(1_706_000_000_000_000)


def assert_all_tables_empty(ctx: Any) -> None:
    """Every table of :data:`ALL_TABLES` is empty in the client cache."""
    for table in ALL_TABLES:
        count = getattr(ctx.db, table).count()
        assert count == 0, f"Expected table {table} to be empty, but found {count} rows resident"


def reducer_event_of(ctx: Any) -> Any:
    """The ReducerEvent of a row callback's context (fails unless it is a Reducer event)."""
    event = ctx.event
    assert isinstance(event, Reducer), f"Expected a reducer event but found {event!r}"
    return event.reducer_event


def assert_committed(reducer: str) -> Callable[[Any, Any], None]:
    """A ``.then`` callback that fails the scenario unless ``reducer`` committed."""

    def check(ctx: Any, outcome: Any) -> None:
        if isinstance(outcome, DisconnectedError):
            # The scenario had ended and closed the connection before this call's answer (a
            # call made after the last expected callback's): the official client's process
            # has exited by then, so its callback never runs. A scenario that needed the
            # answer fails on its missing expectation instead.
            return
        assert not isinstance(outcome, BaseException), f"`{reducer}` reducer failed: {outcome!r}"
        assert ctx.event.status is ReducerStatus.COMMITTED, ctx.event
        assert ctx.event.reducer == reducer, f"expected {reducer} but found {ctx.event.reducer}"

    return check


def _only_field(row: Any) -> Any:
    (field,) = dataclasses.fields(row)
    return getattr(row, field.name)


_insert_serial = itertools.count()


def on_insert_one(
    ctx: Any, counter: TestCounter, table: str, value: Any, expected_reducer: str
) -> None:
    """Expect one insert into ``table`` holding ``value``, caused by ``expected_reducer``."""
    result = counter.add_test(f"insert-{table}-{next(_insert_serial)}")
    reported = False

    def on_insert(ctx: Any, row: Any) -> None:
        nonlocal reported
        if reported:
            return
        reported = True

        def checks() -> None:
            assert _only_field(row) == value, (
                f"Unexpected row value. Expected {value!r} but found {row!r}"
            )
            event = reducer_event_of(ctx)
            assert event.reducer == expected_reducer, f"Unexpected reducer {event.reducer}"

        result.check(checks)

    getattr(ctx.db, table).on_insert(on_insert)


def insert_one(ctx: Any, counter: TestCounter, table: str, value: Any) -> None:
    """Call ``insert_<table>(value)`` and expect its row (the official ``insert_one``)."""
    reducer = f"insert_{table}"
    on_insert_one(ctx, counter, table, value, reducer)
    getattr(ctx.reducers, reducer)(value).then(assert_committed(reducer))


def insert_then_delete_one(
    ctx: Any, counter: TestCounter, table: str, key: Any, value: int
) -> None:
    """Insert ``(key, value)`` into a unique-key table; on its insert, delete it by key and
    expect the delete (the official ``insert_then_delete_one``)."""
    insert_result = counter.add_test(f"insert-{table}")
    delete_result = counter.add_test(f"delete-{table}")
    handle = getattr(ctx.db, table)
    key_column = dataclasses.fields(handle_row_type(handle))[0].name
    inserted = deleted = False

    def on_delete(ctx: Any, row: Any) -> None:
        nonlocal deleted
        if deleted:
            return
        deleted = True

        def checks() -> None:
            assert (getattr(row, key_column), row.data) == (key, value), row
            assert reducer_event_of(ctx).reducer == f"delete_{table}"

        delete_result.check(checks)

    def on_insert(ctx: Any, row: Any) -> None:
        nonlocal inserted
        if inserted:
            return
        inserted = True

        def checks() -> None:
            assert (getattr(row, key_column), row.data) == (key, value), row
            assert reducer_event_of(ctx).reducer == f"insert_{table}"

        insert_result.check(checks)
        getattr(ctx.db, table).on_delete(on_delete)
        getattr(ctx.reducers, f"delete_{table}")(key).then(assert_committed(f"delete_{table}"))

    handle.on_insert(on_insert)
    getattr(ctx.reducers, f"insert_{table}")(key, value).then(assert_committed(f"insert_{table}"))


def insert_update_delete_one(
    ctx: Any, counter: TestCounter, table: str, key: Any, initial: int, updated: int
) -> None:
    """Insert, update (an ``on_update``, not a delete and an insert) and delete one row of a
    primary-key table (the official ``insert_update_delete_one``)."""
    insert_result = counter.add_test(f"insert-{table}")
    update_result = counter.add_test(f"update-{table}")
    delete_result = counter.add_test(f"delete-{table}")
    handle = getattr(ctx.db, table)
    key_column = dataclasses.fields(handle_row_type(handle))[0].name
    done: set[str] = set()

    def first(what: str) -> bool:
        if what in done:
            return False
        done.add(what)
        return True

    def on_delete(ctx: Any, row: Any) -> None:
        if not first("delete"):
            return

        def checks() -> None:
            assert (getattr(row, key_column), row.data) == (key, updated), row
            assert reducer_event_of(ctx).reducer == f"delete_{table}"

        delete_result.check(checks)

    def on_update(ctx: Any, old: Any, new: Any) -> None:
        if not first("update"):
            return

        def checks() -> None:
            assert (getattr(old, key_column), old.data) == (key, initial), old
            assert (getattr(new, key_column), new.data) == (key, updated), new
            assert reducer_event_of(ctx).reducer == f"update_{table}"

        update_result.check(checks)
        getattr(ctx.db, table).on_delete(on_delete)
        getattr(ctx.reducers, f"delete_{table}")(key).then(assert_committed(f"delete_{table}"))

    def on_insert(ctx: Any, row: Any) -> None:
        if not first("insert"):
            return

        def checks() -> None:
            assert (getattr(row, key_column), row.data) == (key, initial), row
            assert reducer_event_of(ctx).reducer == f"insert_{table}"

        insert_result.check(checks)
        getattr(ctx.db, table).on_update(on_update)
        getattr(ctx.reducers, f"update_{table}")(key, updated).then(
            assert_committed(f"update_{table}")
        )

    handle.on_insert(on_insert)
    getattr(ctx.reducers, f"insert_{table}")(key, initial).then(assert_committed(f"insert_{table}"))


def handle_row_type(handle: Any) -> Any:
    """The row class of a generated table handle (its generic argument)."""
    for base in getattr(type(handle), "__orig_bases__", ()):
        args = getattr(base, "__args__", ())
        if args:
            return args[0]
    raise TypeError(f"no row type on {handle!r}")


# ------------------------------------------------------------------------------ value fixtures


def every_primitive_struct(types: Any) -> Any:
    """The official value: numbers with asymmetric, all-non-zero bytes (catches endianness)."""
    return types.EveryPrimitiveStruct(
        0x01,
        0x0102,
        0x0102_0304,
        0x0102_0304_0506_0708,
        0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10,
        (0x1112_1314_1516_1718_191A_1B1C_1D1E_1F20 << 128)
        | 0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10,
        -0x01,
        -0x0102,
        -0x0102_0304,
        -0x0102_0304_0506_0708,
        -0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10,
        -(
            (0x1112_1314_1516_1718_191A_1B1C_1D1E_1F20 << 128)
            | 0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10
        ),
        False,
        1.0,
        -1.0,
        "string",
        Identity.zero(),
        ConnectionId.zero(),
        Timestamp(9_876_543_210),
        TimeDuration(-67_419_000_000_003),
        Uuid(0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10),
    )


def every_vec_struct(types: Any) -> Any:
    """The official value: vectors of each element type, of growing lengths."""
    return types.EveryVecStruct(
        b"",
        [1],
        [2, 2],
        [3, 3, 3],
        [4, 4, 4, 4],
        [5] * 5,
        [-1],
        [-2, -2],
        [-3] * 3,
        [-4] * 4,
        [-5] * 5,
        [-6] * 6,
        [False, True, True, False],
        [0.0, -1.0, 1.0, -2.0, 2.0],
        [0.0, -0.5, 0.5, -1.5, 1.5],
        ["vec", "of", "strings"],
        [Identity.zero()],
        [ConnectionId.zero()],
        [Timestamp(9_876_543_210)],
        [TimeDuration(-67_419_000_000_003)],
        [Uuid.nil()],
    )


def large_table_args(types: Any) -> tuple[Any, ...]:
    """The official ``large_table()`` row, as the reducers' positional arguments."""
    return (
        0, 1, 2, 3, 4, 5, 0, -1, -2, -3, -4, -5, False, 0.0, 1.0, "string",
        types.SimpleEnum.Zero, types.EnumWithPayloadBool(False), types.UnitStruct(),
        types.ByteStruct(0b10101010), every_primitive_struct(types), every_vec_struct(types),
    )  # fmt: skip
