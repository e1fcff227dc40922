"""Port of the official ``sdk-test`` module: a table (and insert/update/delete reducers) for every
kind of column the SDKs must round-trip — each primitive, the special types, vectors, options,
results, structs and enums — under no key, a unique key and a primary key; plus large tables,
indexes, a schedule, row-level security and caller-dependent reducers.

The official module stamps these tables out with a macro; here plain Python builds the same
classes and reducers at import time from the tables below (``_define``). Hand-written items
follow at the end.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from spacetimedb_sdk.module import (
    ConnectionId,
    Identity,
    ReducerContext,
    Result,
    ScheduleAt,
    SenderError,
    TimeDuration,
    Timestamp,
    Uuid,
    btree_index,
    client_visibility_filter,
    f32,
    f64,
    i8,
    i16,
    i32,
    i64,
    i128,
    i256,
    index,
    primary_key,
    reducer,
    table,
    tagged_union,
    u8,
    u16,
    u32,
    u64,
    u128,
    u256,
    unique,
)

# ---------------------------------------------------------------------------------------- types


class SimpleEnum(enum.Enum):
    Zero = 0
    One = 1
    Two = 2


# (variant name, payload type); built with real type objects because several variants are
# named like the types they carry (``Identity: Identity``).
EnumWithPayload = tagged_union(
    type(
        "EnumWithPayload",
        (),
        {
            "__module__": __name__,
            "__annotations__": {
                "U8": u8, "U16": u16, "U32": u32, "U64": u64, "U128": u128, "U256": u256,
                "I8": i8, "I16": i16, "I32": i32, "I64": i64, "I128": i128, "I256": i256,
                "Bool": bool, "F32": f32, "F64": f64, "Str": str,
                "Identity": Identity, "ConnectionId": ConnectionId, "Timestamp": Timestamp,
                "Uuid": Uuid, "Bytes": bytes, "Ints": list[i32], "Strings": list[str],
                "SimpleEnums": list[SimpleEnum],
            },
        },
    )
)  # fmt: skip


@dataclass
class UnitStruct:
    pass


@dataclass
class ByteStruct:
    b: u8


@dataclass
class EveryPrimitiveStruct:
    a: u8
    b: u16
    c: u32
    d: u64
    e: u128
    f: u256
    g: i8
    h: i16
    i: i32
    j: i64
    k: i128
    l: i256  # noqa: E741 (the official field name)
    m: bool
    n: f32
    o: f64
    p: str
    q: Identity
    r: ConnectionId
    s: Timestamp
    t: TimeDuration
    u: Uuid


@dataclass
class EveryVecStruct:
    a: list[u8]
    b: list[u16]
    c: list[u32]
    d: list[u64]
    e: list[u128]
    f: list[u256]
    g: list[i8]
    h: list[i16]
    i: list[i32]
    j: list[i64]
    k: list[i128]
    l: list[i256]  # noqa: E741 (the official field name)
    m: list[bool]
    n: list[f32]
    o: list[f64]
    p: list[str]
    q: list[Identity]
    r: list[ConnectionId]
    s: list[Timestamp]
    t: list[TimeDuration]
    u: list[Uuid]


# The generated tables' column types are held in variables, which type checkers do not accept
# inside annotations or subscripts; these aliases build the same annotations at run time.
_List: Any = list
_Optional: Any = Optional
_Result: Any = Result

#: Field letter -> type of EveryPrimitiveStruct (LargeTable's first columns are the same).
_PRIMITIVE_FIELDS: dict[str, Any] = dict(
    inspect.get_annotations(EveryPrimitiveStruct, eval_str=True)
)

# ------------------------------------------------------------------------ generated tables


def _snake(name: str) -> str:
    """``OneU8`` -> ``one_u8``, as the official module's macro names its table accessors."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _reducer(name: str, params: dict[str, Any], body: Callable[..., None]) -> None:
    """Declare reducer ``name`` taking ``params`` (name -> type) after the context."""

    def fn(ctx: ReducerContext, *args: Any) -> None:
        body(ctx, *args)

    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = __name__
    fn.__annotations__ = {"ctx": ReducerContext, **params, "return": None}
    fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in params]
    )
    globals()[name] = reducer(fn)


def _define(
    name: str, fields: dict[str, Any], ops: dict[str, str], *, key: str | None = None,
    key_kind: str = ""
) -> type:  # fmt: skip
    """A public table ``name`` with ``fields`` and the reducers in ``ops``.

    ``ops`` maps an operation to its reducer name: ``insert``, ``delete`` (delete the row equal
    to all arguments), ``update`` (replace the row with the same primary key), ``update_non_pk``
    (delete by the unique key, then insert) and ``delete_by`` (delete by the key column).
    ``key``/``key_kind`` ("primary" or "unique") mark the key column.
    """
    accessor = _snake(name)
    namespace: dict[str, Any] = {"__module__": __name__, "__annotations__": dict(fields)}
    if key is not None:
        namespace[key] = primary_key() if key_kind == "primary" else unique()
    cls = table(accessor=accessor, public=True)(type(name, (), namespace))
    globals()[name] = cls

    def handle(ctx: ReducerContext) -> Any:
        return getattr(ctx.db, accessor)

    def row(*values: Any) -> Any:
        return cls(*values)

    for op, reducer_name in ops.items():
        if op == "insert":
            _reducer(reducer_name, fields, lambda ctx, *v: handle(ctx).insert(row(*v)))
        elif op == "delete":
            _reducer(reducer_name, fields, lambda ctx, *v: handle(ctx).delete(row(*v)))
        elif op == "update":
            assert key is not None
            _reducer(
                reducer_name, fields,
                lambda ctx, *v: getattr(handle(ctx), key).update(row(*v)),
            )  # fmt: skip
        elif op == "update_non_pk":
            assert key is not None
            position = list(fields).index(key)

            def update_non_pk(ctx: ReducerContext, *v: Any, _pos: int = position) -> None:
                getattr(handle(ctx), key).delete(v[_pos])
                handle(ctx).insert(row(*v))

            _reducer(reducer_name, fields, update_non_pk)
        elif op == "delete_by":
            assert key is not None
            _reducer(
                reducer_name, {key: fields[key]},
                lambda ctx, k: getattr(handle(ctx), key).delete(k),
            )  # fmt: skip
        else:
            raise ValueError(f"unknown table operation {op!r}")
    return cls


# (type suffix in table/reducer names, column name, column type) for the one-value tables.
_SCALAR_KINDS: list[tuple[str, str, Any]] = [
    ("U8", "n", u8), ("U16", "n", u16), ("U32", "n", u32), ("U64", "n", u64),
    ("U128", "n", u128), ("U256", "n", u256),
    ("I8", "n", i8), ("I16", "n", i16), ("I32", "n", i32), ("I64", "n", i64),
    ("I128", "n", i128), ("I256", "n", i256),
    ("Bool", "b", bool), ("F32", "f", f32), ("F64", "f", f64), ("String", "s", str),
    ("Identity", "i", Identity), ("ConnectionId", "a", ConnectionId), ("Uuid", "u", Uuid),
    ("Timestamp", "t", Timestamp),
    ("SimpleEnum", "e", SimpleEnum), ("EnumWithPayload", "e", EnumWithPayload),
    ("UnitStruct", "s", UnitStruct), ("ByteStruct", "s", ByteStruct),
    ("EveryPrimitiveStruct", "s", EveryPrimitiveStruct),
    ("EveryVecStruct", "s", EveryVecStruct),
]  # fmt: skip

# Tables holding one value (OneU8 ...) and one vector (VecU8 ...) of each kind. The official
# module gives the ConnectionId tables no delete_all reducer.
for _kind, _col, _ty in _SCALAR_KINDS:
    for _prefix, _col_ty in (("One", _ty), ("Vec", _List[_ty])):
        _name = f"{_prefix}{_kind}"
        _ops = {"insert": f"insert_{_snake(_name)}"}
        if _kind != "ConnectionId":
            _ops["delete"] = f"delete_all_{_snake(_name)}"
        _define(_name, {_col: _col_ty}, _ops)

# Tables holding an Option.
for _name, _col, _ty in [
    ("OptionI32", "n", i32), ("OptionString", "s", str), ("OptionIdentity", "i", Identity),
    ("OptionUuid", "u", Uuid), ("OptionSimpleEnum", "e", SimpleEnum),
    ("OptionEveryPrimitiveStruct", "s", EveryPrimitiveStruct),
    ("OptionVecOptionI32", "v", _List[_Optional[i32]]),
]:  # fmt: skip
    _define(
        _name, {_col: _Optional[_ty]},
        {"insert": f"insert_{_snake(_name)}", "delete": f"delete_all_{_snake(_name)}"},
    )  # fmt: skip

# Tables holding a Result (insert reducers only).
for _name, _ty in [
    ("ResultI32String", _Result[i32, str]),
    ("ResultStringI32", _Result[str, i32]),
    ("ResultIdentityString", _Result[Identity, str]),
    ("ResultSimpleEnumI32", _Result[SimpleEnum, i32]),
    ("ResultEveryPrimitiveStructString", _Result[EveryPrimitiveStruct, str]),
    ("ResultVecI32String", _Result[list[i32], str]),
]:
    _define(_name, {"r": _ty}, {"insert": f"insert_{_snake(_name)}"})

# The key types of the Unique* and Pk* tables: (suffix, key column, key type).
_KEY_KINDS: list[tuple[str, str, Any]] = [
    ("U8", "n", u8), ("U16", "n", u16), ("U32", "n", u32), ("U64", "n", u64),
    ("U128", "n", u128), ("U256", "n", u256),
    ("I8", "n", i8), ("I16", "n", i16), ("I32", "n", i32), ("I64", "n", i64),
    ("I128", "n", i128), ("I256", "n", i256),
    ("Bool", "b", bool), ("String", "s", str), ("Identity", "i", Identity),
    ("ConnectionId", "a", ConnectionId), ("Uuid", "u", Uuid),
]  # fmt: skip

# A unique (non-primary) key and an i32 payload: delete events, and no update events.
for _kind, _col, _ty in _KEY_KINDS:
    _s = _snake(f"Unique{_kind}")
    _define(
        f"Unique{_kind}", {_col: _ty, "data": i32},
        {"insert": f"insert_{_s}", "delete": f"delete_all_{_s}",
         "update_non_pk": f"update_{_s}", "delete_by": f"delete_{_s}"},
        key=_col, key_kind="unique",
    )  # fmt: skip

# A primary key and an i32 payload: update events. PkU32Two is a second u32-keyed table.
for _kind, _col, _ty in [*_KEY_KINDS[:3], ("U32Two", "n", u32), *_KEY_KINDS[3:]]:
    _s = _snake(f"Pk{_kind}")
    _define(
        f"Pk{_kind}", {_col: _ty, "data": i32},
        {"insert": f"insert_{_s}", "delete": f"delete_all_{_s}",
         "update": f"update_{_s}", "delete_by": f"delete_{_s}"},
        key=_col, key_kind="primary",
    )  # fmt: skip

_define(
    "PkSimpleEnum", {"a": SimpleEnum, "data": i32}, {"insert": "insert_pk_simple_enum"},
    key="a", key_kind="primary",
)  # fmt: skip

# A table with many columns of many types.
_define(
    "LargeTable",
    {
        **{k: v for k, v in _PRIMITIVE_FIELDS.items() if k <= "p"},
        "q": SimpleEnum, "r": EnumWithPayload, "s": UnitStruct, "t": ByteStruct,
        "u": EveryPrimitiveStruct, "v": EveryVecStruct,
    },
    {"insert": "insert_large_table", "delete": "delete_large_table"},
)  # fmt: skip

# A table whose columns are other tables' rows.
_define(
    "TableHoldsTable",
    {"a": globals()["OneU8"], "b": globals()["VecU8"]},
    {"insert": "insert_table_holds_table"},
)

# ------------------------------------------------------------------------- written-out items

PkU32: Any = globals()["PkU32"]
PkU32Two: Any = globals()["PkU32Two"]
UniqueU32: Any = globals()["UniqueU32"]
OneIdentity: Any = globals()["OneIdentity"]
VecIdentity: Any = globals()["VecIdentity"]
UniqueIdentity: Any = globals()["UniqueIdentity"]
PkIdentity: Any = globals()["PkIdentity"]
OneConnectionId: Any = globals()["OneConnectionId"]
VecConnectionId: Any = globals()["VecConnectionId"]
UniqueConnectionId: Any = globals()["UniqueConnectionId"]
PkConnectionId: Any = globals()["PkConnectionId"]
OneTimestamp: Any = globals()["OneTimestamp"]
OneUuid: Any = globals()["OneUuid"]
VecString: Any = globals()["VecString"]
PkUuid: Any = globals()["PkUuid"]


@reducer
def update_pk_simple_enum(ctx: ReducerContext, a: SimpleEnum, data: i32) -> None:
    row = ctx.db.pk_simple_enum.a.find(a)
    if row is None:
        raise SenderError("row not found")
    row.data = data
    ctx.db.pk_simple_enum.a.update(row)


@table(accessor="btree_u32", public=True)
class BTreeU32:
    n: u32 = index("btree")
    data: i32


@reducer
def insert_into_btree_u32(ctx: ReducerContext, rows: list[BTreeU32]) -> None:
    for row in rows:
        ctx.db.btree_u32.insert(row)


@reducer
def delete_from_btree_u32(ctx: ReducerContext, rows: list[BTreeU32]) -> None:
    for row in rows:
        ctx.db.btree_u32.delete(row)


@reducer
def insert_into_pk_btree_u32(
    ctx: ReducerContext, pk_u32: list[PkU32], bt_u32: list[BTreeU32]
) -> None:
    for row in pk_u32:
        ctx.db.pk_u32.insert(row)
    for row in bt_u32:
        ctx.db.btree_u32.insert(row)


@reducer
def insert_unique_u32_update_pk_u32(ctx: ReducerContext, n: u32, d_unique: i32, d_pk: i32) -> None:
    """For row-deduplication tests that left-semijoin ``unique_u32`` to ``pk_u32``."""
    ctx.db.unique_u32.insert(UniqueU32(n=n, data=d_unique))
    ctx.db.pk_u32.n.update(PkU32(n=n, data=d_pk))


@reducer
def delete_pk_u32_insert_pk_u32_two(ctx: ReducerContext, n: u32, data: i32) -> None:
    """For row-deduplication tests with two semijoins (to ``pk_u32`` and ``pk_u32_two``)."""
    ctx.db.pk_u32_two.insert(PkU32Two(n=n, data=data))
    ctx.db.pk_u32.delete(PkU32(n=n, data=data))


@reducer
def insert_caller_one_identity(ctx: ReducerContext) -> None:
    ctx.db.one_identity.insert(OneIdentity(i=ctx.sender))


@reducer
def insert_caller_vec_identity(ctx: ReducerContext) -> None:
    ctx.db.vec_identity.insert(VecIdentity(i=[ctx.sender]))


@reducer
def insert_caller_unique_identity(ctx: ReducerContext, data: i32) -> None:
    ctx.db.unique_identity.insert(UniqueIdentity(i=ctx.sender, data=data))


@reducer
def insert_caller_pk_identity(ctx: ReducerContext, data: i32) -> None:
    ctx.db.pk_identity.insert(PkIdentity(i=ctx.sender, data=data))


def _caller_connection_id(ctx: ReducerContext) -> ConnectionId:
    if ctx.connection_id is None:
        raise SenderError("No connection id in reducer context")
    return ctx.connection_id


@reducer
def insert_caller_one_connection_id(ctx: ReducerContext) -> None:
    ctx.db.one_connection_id.insert(OneConnectionId(a=_caller_connection_id(ctx)))


@reducer
def insert_caller_vec_connection_id(ctx: ReducerContext) -> None:
    ctx.db.vec_connection_id.insert(VecConnectionId(a=[_caller_connection_id(ctx)]))


@reducer
def insert_caller_unique_connection_id(ctx: ReducerContext, data: i32) -> None:
    ctx.db.unique_connection_id.insert(UniqueConnectionId(a=_caller_connection_id(ctx), data=data))


@reducer
def insert_caller_pk_connection_id(ctx: ReducerContext, data: i32) -> None:
    ctx.db.pk_connection_id.insert(PkConnectionId(a=_caller_connection_id(ctx), data=data))


@reducer
def insert_call_timestamp(ctx: ReducerContext) -> None:
    ctx.db.one_timestamp.insert(OneTimestamp(t=ctx.timestamp))


@reducer
def insert_call_uuid_v4(ctx: ReducerContext) -> None:
    ctx.db.one_uuid.insert(OneUuid(u=ctx.new_uuid_v4()))


@reducer
def insert_call_uuid_v7(ctx: ReducerContext) -> None:
    ctx.db.one_uuid.insert(OneUuid(u=ctx.new_uuid_v7()))


def _display(value: Any) -> str:
    """A value as the official module's ``to_string()`` shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Identity, ConnectionId)):
        return value.to_hex()
    return str(value)


@reducer
def insert_primitives_as_strings(ctx: ReducerContext, s: EveryPrimitiveStruct) -> None:
    ctx.db.vec_string.insert(VecString(s=[_display(getattr(s, f)) for f in _PRIMITIVE_FIELDS]))


@reducer
def no_op_succeeds(ctx: ReducerContext) -> None:
    pass


ONE_U8_VISIBLE = client_visibility_filter("SELECT * FROM one_u_8")


@table(public=True, scheduled="send_scheduled_message")
class ScheduledTable:
    scheduled_id: u64 = primary_key(auto_inc=True)
    scheduled_at: ScheduleAt
    text: str


@reducer
def send_scheduled_message(ctx: ReducerContext, arg: ScheduledTable) -> None:
    pass


@table
class IndexedTable:
    player_id: u32 = index("btree")


@table(indexes=[btree_index("player_id_snazz_index", "player_id", "player_snazz")])
class IndexedTable2:
    player_id: u32
    player_snazz: f32


USERS_FILTER = client_visibility_filter("SELECT * FROM users WHERE identity = :sender")


@table(accessor="users", public=True)
class Users:
    identity: Identity = primary_key()
    name: str


@reducer
def insert_user(ctx: ReducerContext, name: str, identity: Identity) -> None:
    ctx.db.users.insert(Users(identity=identity, name=name))


@table(public=True)
class IndexedSimpleEnum:
    n: SimpleEnum = index("btree")


@reducer
def insert_into_indexed_simple_enum(ctx: ReducerContext, n: SimpleEnum) -> None:
    ctx.db.indexed_simple_enum.insert(IndexedSimpleEnum(n=n))


@reducer
def update_indexed_simple_enum(ctx: ReducerContext, a: SimpleEnum, b: SimpleEnum) -> None:
    if any(True for _ in ctx.db.indexed_simple_enum.n.filter(a)):
        ctx.db.indexed_simple_enum.n.delete(a)
        ctx.db.indexed_simple_enum.insert(IndexedSimpleEnum(n=b))


@reducer
def sorted_uuids_insert(ctx: ReducerContext) -> None:
    for _ in range(1000):
        ctx.db.pk_uuid.insert(PkUuid(u=ctx.new_uuid_v7(), data=0))
    last: Uuid | None = None
    for row in ctx.db.pk_uuid.iter():
        if last is not None and last >= row.u:
            raise SenderError("UUIDs are not sorted correctly")
        last = row.u
