"""The Python module API: decorators, type mapping and ``describe_module`` (Rust conventions)."""

from __future__ import annotations

import enum
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.algebraic_type import ProductType, RefType
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.errors import ModuleDefError
from spacetimedb_sdk.local_server.module_loader import load_module
from spacetimedb_sdk.module import Variant, build_module_model, describe_module
from spacetimedb_sdk.raw_module_def import (
    CaseConversionPolicySection,
    ExplicitFunctionName,
    ExplicitTableName,
    FunctionVisibility,
    Lifecycle,
    RawIndexAlgorithmBTree,
    decode_raw_module_def,
    encode_raw_module_def,
    raw_module_def_from_json,
    raw_module_def_to_json,
)
from spacetimedb_sdk.schema import ModuleSchema, TableSchema
from tests.conftest import REPO_ROOT, load_fixture

SERVER = REPO_ROOT / "server"
FEATURES = Path(__file__).parent / "server_modules" / "features.py"


def load_source(tmp_path: Path, source: str, name: str = "mod") -> ModuleType:
    """Write a module file and load it by path (as the host does)."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return load_module(path)


HEADER = """
from __future__ import annotations
from spacetimedb_sdk.module import *
from spacetimedb_sdk.module import ReducerContext, ProcedureContext
"""


# ================================================================= the chat module vs the fixture


def _resolved(schema: ModuleSchema, ty: at.AlgebraicType) -> at.AlgebraicType:
    """``ty`` with every Ref inlined (the two typespaces number types differently)."""
    if isinstance(ty, RefType):
        return _resolved(schema, schema.typespace.types[ty.index])
    if isinstance(ty, at.ProductType):
        return at.ProductType(
            tuple(
                at.ProductTypeElement(e.name, _resolved(schema, e.algebraic_type))
                for e in ty.elements
            )
        )
    if isinstance(ty, at.SumType):
        return at.SumType(
            tuple(
                at.SumTypeVariant(v.name, _resolved(schema, v.algebraic_type)) for v in ty.variants
            )
        )
    if isinstance(ty, at.ArrayType):
        return at.ArrayType(_resolved(schema, ty.element))
    return ty


def _table_summary(schema: ModuleSchema, t: TableSchema) -> dict[str, Any]:
    type_def = schema.type_for_ref(t.product_type_ref)
    return {
        "accessor": t.accessor_name,
        "type_name": None if type_def is None else str(type_def.name),
        "columns": [(c.name, _resolved(schema, c.algebraic_type)) for c in t.columns],
        "primary_key": t.primary_key,
        "indexes": {
            (i.name, i.source_name, i.accessor_name, i.algorithm, i.columns) for i in t.indexes
        },
        "constraints": {(c.name, c.columns) for c in t.constraints},
        "sequences": {
            (s.name, s.column, s.start, s.min_value, s.max_value, s.increment) for s in t.sequences
        },
        "schedule": t.schedule,
        "access": t.table_access,
        "is_event": t.is_event,
    }


def test_chat_module_canonical_schema_equals_the_chat_react_ts_fixture() -> None:
    ours = ModuleSchema.from_raw(describe_module(load_module(SERVER)))
    ref = ModuleSchema.from_json(load_fixture("module_defs", "chat-react-ts.moduledef.json"))

    assert {t.name for t in ours.tables} == {t.name for t in ref.tables} == {"user", "message"}
    for t in ref.tables:
        assert _table_summary(ours, ours.table(t.name)) == _table_summary(ref, t), t.name

    def reducers(schema: ModuleSchema) -> set[tuple[Any, ...]]:
        return {
            (r.name, r.params_type, r.lifecycle, r.visibility, r.ok_return_type, r.err_return_type)
            for r in schema.reducers
        }

    assert reducers(ours) == reducers(ref)
    assert {r.name for r in ours.reducers} == {
        "init",
        "on_connect",
        "on_disconnect",
        "send_message",
        "set_name",
    }
    # Row types are registered under the same (Pascal) names; the TS fixture additionally
    # registers one type per reducer's parameters, which the Rust convention does not.
    assert {str(t.name) for t in ours.types} == {"User", "Message"}
    assert {str(t.name) for t in ours.types} <= {str(t.name) for t in ref.types}
    assert ours.procedures == ref.procedures == ()
    # Reducer ids agree too (both lists are in name order here).
    assert [r.name for r in ours.reducers] == [r.name for r in ref.reducers]


def test_chat_raw_def_follows_the_rust_conventions() -> None:
    raw = describe_module(load_module(SERVER))
    assert raw.section(CaseConversionPolicySection) is None
    assert raw.explicit_names.entries == ()
    (user,) = [t for t in raw.tables if t.source_name == "user"]
    (ix,) = user.indexes
    assert (ix.source_name, ix.accessor_name, ix.algorithm) == (
        "user_identity_idx_btree",
        "identity",
        RawIndexAlgorithmBTree((0,)),
    )
    assert [(c.source_name, c.data.columns) for c in user.constraints] == [(None, (0,))]
    assert [t.source_name for t in raw.tables] == ["message", "user"]
    assert [r.source_name for r in raw.reducers] == sorted(r.source_name for r in raw.reducers)
    lifecycle = {r.source_name: r.visibility for r in raw.reducers}
    assert (
        lifecycle["init"]
        is lifecycle["on_connect"]
        is lifecycle["on_disconnect"]
        is FunctionVisibility.PRIVATE
    )
    assert lifecycle["send_message"] is FunctionVisibility.CLIENT_CALLABLE
    assert [(lc.lifecycle_spec, lc.function_name) for lc in raw.lifecycle_reducers] == [
        (Lifecycle.INIT, "init"),
        (Lifecycle.ON_CONNECT, "on_connect"),
        (Lifecycle.ON_DISCONNECT, "on_disconnect"),
    ]
    assert {t.source_name.source_name: t.custom_ordering for t in raw.types} == {
        "User": True,
        "Message": True,
    }
    # Round trips through BSATN and SATS-JSON.
    assert decode_raw_module_def(encode_raw_module_def(raw)) == raw
    assert raw_module_def_from_json(raw_module_def_to_json(raw)) == raw


def test_chat_module_loads_by_path_without_sys_path(tmp_path: Path) -> None:
    a = load_module(SERVER)
    b = load_module(SERVER)
    assert a.__name__ != b.__name__
    assert a.User is not b.User


# ================================================================================ the features


def test_features_module_describes_every_kind_of_item() -> None:
    model = build_module_model(load_module(FEATURES))
    schema = ModuleSchema.from_raw(model.raw_def)
    player = schema.table("player")
    assert [c.name for c in player.columns] == [
        "id",
        "name",
        "level",
        "team",
        "score",
        "color",
        "shape",
        "home",
    ]
    assert {(i.source_name, i.accessor_name, i.columns) for i in player.indexes} == {
        ("player_id_idx_btree", "id", (0,)),
        ("player_name_idx_btree", "name", (1,)),
        ("player_level_idx_btree", "level", (2,)),
        ("player_team_score_idx_btree", "by_team_score", (3, 4)),
    }
    assert {c.columns for c in player.constraints} == {(0,), (1,)}
    assert [(s.column, s.start, s.increment) for s in player.sequences] == [(0, None, 1)]
    assert player.default_values.keys() == {3, 4, 5, 6, 7}
    assert player.default_values[5] == b"\x00"  # Color.RED is tag 0
    assert player.default_values[6] == b"\x01"  # Option none
    tagged = schema.table("tagged")
    assert tagged.index("by_label").algorithm == "hash"
    assert schema.table("explosion").is_event
    banned = schema.table("banned_people")
    assert banned.accessor_name == "banned"
    assert ExplicitTableName("banned", "banned_people") in model.raw_def.explicit_names.entries
    sched = schema.table("tick_schedule")
    assert sched.schedule is not None
    assert (sched.schedule.function_name, sched.schedule.at_column, sched.schedule.id_column) == (
        "tick",
        1,
        0,
    )
    assert sched.columns[0].algebraic_type == at.U64
    assert schema.reducer("tick").visibility is FunctionVisibility.PRIVATE
    assert schema.reducer("owner_only").visibility is FunctionVisibility.PRIVATE
    assert schema.reducer("connected").lifecycle is Lifecycle.ON_CONNECT
    assert schema.procedure("add_numbers").return_type == at.U32
    assert {str(t.name) for t in schema.types} >= {
        "Player",
        "Point",
        "Shape",
        "Color",
        "TickSchedule",
    }
    assert schema.find_type("Color") is not None and schema.type("Color").is_plain_enum
    shape = schema.typespace.resolve(RefType(schema.type("Shape").ref))
    assert isinstance(shape, at.SumType)
    assert [v.name for v in shape.variants] == ["circle", "square", "empty"]
    assert shape.variants[2].algebraic_type == at.UNIT


def test_type_mapping(tmp_path: Path) -> None:
    mod = load_source(
        tmp_path,
        HEADER
        + """
import enum
from dataclasses import dataclass

class Mood(enum.Enum):
    HAPPY = "h"
    SAD = "s"

@dataclass
class Inner:
    a: u8
    b: list[str]

@table
class Everything:
    a: bool
    b: int
    c: float
    d: str
    e: bytes
    f: u16
    g: i128
    h: u256
    i: f32
    j: list[u32]
    k: str | None
    l: Identity
    m: ConnectionId
    n: Timestamp
    o: TimeDuration
    p: Uuid
    q: ScheduleAt
    r: Inner
    s: Mood
    t: list[Inner | None]
""",
    )
    model = build_module_model(mod)
    row = model.typespace.types[model.table("everything").type_ref]
    assert isinstance(row, ProductType)
    types = {e.name: e.algebraic_type for e in row.elements}
    inner_ref = RefType(next(i for n, i in model.type_defs if n == "Inner"))
    mood_ref = RefType(next(i for n, i in model.type_defs if n == "Mood"))
    assert types == {
        "a": at.BOOL,
        "b": at.I64,
        "c": at.F64,
        "d": at.STRING,
        "e": at.array(at.U8),
        "f": at.U16,
        "g": at.I128,
        "h": at.U256,
        "i": at.F32,
        "j": at.array(at.U32),
        "k": at.option(at.STRING),
        "l": at.IDENTITY,
        "m": at.CONNECTION_ID,
        "n": at.TIMESTAMP,
        "o": at.TIME_DURATION,
        "p": at.UUID,
        "q": at.SCHEDULE_AT,
        "r": inner_ref,
        "s": mood_ref,
        "t": at.array(at.option(inner_ref)),
    }
    assert model.typespace.types[mood_ref.index] == at.sum_of(
        [("HAPPY", at.UNIT), ("SAD", at.UNIT)]
    )


def test_explicit_names_and_private_reducers(tmp_path: Path) -> None:
    mod = load_source(
        tmp_path,
        HEADER
        + """
@table(name="people", accessor="person", public=True)
class Person:
    id: u32 = primary_key()

@reducer(name="say_hello")
def hello(ctx: ReducerContext) -> None:
    pass

@reducer(private=True)
def secret(ctx: ReducerContext) -> None:
    pass
""",
    )
    raw = describe_module(mod)
    assert set(raw.explicit_names.entries) == {
        ExplicitTableName("person", "people"),
        ExplicitFunctionName("hello", "say_hello"),
    }
    (table,) = raw.tables
    assert table.source_name == "person"
    assert table.indexes[0].source_name == "person_id_idx_btree"
    schema = ModuleSchema.from_raw(raw)
    assert schema.table("people").accessor_name == "person"
    assert schema.reducer("say_hello").accessor_name == "hello"
    assert schema.reducer("secret").visibility is FunctionVisibility.PRIVATE


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "@table\nclass T:\n    a: u32 = primary_key()\n    b: u32 = primary_key()\n",
            "more than one primary key",
        ),
        ("@table\nclass T:\n    a: str = auto_inc()\n", "not an integer"),
        ("@table\nclass T:\n    a: int | str\n", "not supported"),
        ("@table\nclass T:\n    a: dict[str, int]\n", "cannot map"),
        ("@reducer\ndef r(ctx: ReducerContext, x) -> None: ...\n", "no type annotation"),
        ("@reducer\ndef r(ctx: ReducerContext) -> int: ...\n", "must return None"),
        (
            "@reducer(init=True)\ndef r(ctx: ReducerContext, x: u8) -> None: ...\n",
            "cannot take arguments",
        ),
        ("@procedure\ndef p(ctx: ProcedureContext): ...\n", "return annotation"),
        (
            "@table(scheduled='run')\nclass S:\n    scheduled_id: int\n    scheduled_at: ScheduleAt\n"
            "@reducer\ndef run(ctx: ReducerContext, x: u8) -> None: ...\n",
            "exactly one argument",
        ),
        (
            "@table(scheduled='run')\nclass S:\n    scheduled_id: int\n",
            "ScheduleAt column",
        ),
        ("@table(indexes=[btree_index('ix', 'nope')])\nclass T:\n    a: u8\n", "unknown column"),
        (
            "@table\nclass A:\n    a: u8\n@table(accessor='a')\nclass B:\n    b: u8\n",
            "duplicate table accessor",
        ),
    ],
)
def test_invalid_declarations_are_rejected(tmp_path: Path, source: str, message: str) -> None:
    mod = load_source(tmp_path, HEADER + source)
    with pytest.raises(ModuleDefError, match=message):
        build_module_model(mod)


def test_row_classes_behave_like_dataclasses(tmp_path: Path) -> None:
    mod = load_source(
        tmp_path,
        HEADER
        + """
@table
class Item:
    id: u64 = primary_key(auto_inc=True)
    name: str
    count: u32 = column(default=7)
""",
    )
    item_cls = mod.Item
    a = item_cls(name="x")
    assert (a.id, a.name, a.count) == (0, "x", 7)
    assert item_cls(1, "y", 2) == item_cls(id=1, name="y", count=2)
    assert repr(item_cls(1, "y", 2)) == "Item(id=1, name='y', count=2)"
    with pytest.raises(TypeError, match="name"):
        item_cls()


# Names the generated __init__ / _from_fields used for themselves once (``d``, ``o``) and names a
# generator could plausibly use (``self``, ``cls``, markers, defaults): a field may be called any
# of them and must keep its own value.
SHADOW_PRONE_FIELDS = ("d", "o", "self", "cls", "obj", "new", "_M", "_new", "_cls", "_stdb_self")


def test_row_class_fields_never_collide_with_generated_names(tmp_path: Path) -> None:
    fields = "\n".join(f"    {name}: u32" for name in SHADOW_PRONE_FIELDS)
    mod = load_source(
        tmp_path,
        HEADER
        + f"""
@table
class Plain:
    id: u64 = primary_key(auto_inc=True)
{fields}
    dflt: f64 = column(default=1.5)
""",
    )
    values = {name: i + 10 for i, name in enumerate(SHADOW_PRONE_FIELDS)}
    row = mod.Plain(**values)
    assert {name: getattr(row, name) for name in SHADOW_PRONE_FIELDS} == values
    assert (row.id, row.dflt) == (0, 1.5)
    positional = mod.Plain(5, *values.values(), 2.5)
    assert positional == mod.Plain(id=5, dflt=2.5, **values)

    model = build_module_model(mod)
    codec = compile_codec(RefType(model.table("plain").type_ref), model.typespace, model.bindings)
    decoded = codec.decode(codec.encode(positional))
    assert type(decoded) is mod.Plain
    assert decoded == positional
    assert {name: getattr(decoded, name) for name in SHADOW_PRONE_FIELDS} == values


def test_tagged_unions_and_enums(tmp_path: Path) -> None:
    mod = load_source(
        tmp_path,
        HEADER
        + """
from dataclasses import dataclass

@dataclass
class P:
    x: u8

class Shape(TaggedUnion):
    circle: Variant[f32]
    point: Variant[P]
    nothing: Variant[None]
    maybe: Variant[u8 | None]

@table
class Holder:
    s: Shape
""",
    )
    shape = mod.Shape
    assert shape.circle(1.5) == shape("circle", 1.5)
    assert shape.circle(1.5) != shape.circle(2.5)
    assert shape.nothing().value is None
    assert repr(shape.point(mod.P(3))) == "Shape.point(P(x=3))"
    assert hash(shape.circle(1.0)) == hash(shape.circle(1.0))
    with pytest.raises(AttributeError):
        shape.circle(1.0).tag = "x"
    with pytest.raises(ValueError, match="no variant"):
        shape("triangle")
    match shape.circle(2.0):
        case shape(tag="circle", value=r):
            assert r == 2.0
        case _:
            pytest.fail("no match")
    # Values round-trip through BSATN with the module's bindings.
    from spacetimedb_sdk.bsatn import compile_codec

    model = build_module_model(mod)
    codec = compile_codec(RefType(model.table("holder").type_ref), model.typespace, model.bindings)
    for value in [
        shape.circle(1.5),
        shape.point(mod.P(3)),
        shape.nothing(),
        shape.maybe(None),
        shape.maybe(4),
    ]:
        row = mod.Holder(value)
        assert codec.decode(codec.encode(row)) == row
    assert isinstance(shape.circle, Variant)


def test_enum_binding_round_trips(tmp_path: Path) -> None:
    from spacetimedb_sdk.bsatn import compile_codec

    model = build_module_model(load_module(FEATURES))
    ref = next(i for n, i in model.type_defs if n == "Color")
    codec = compile_codec(RefType(ref), model.typespace, model.bindings)
    blue = codec.decode(b"\x02")
    assert isinstance(blue, enum.Enum) and blue.name == "BLUE"
    members: list[enum.Enum] = list(type(blue))
    assert [codec.encode(m) for m in members] == [b"\x00", b"\x01", b"\x02"]
