"""The Python code generator on every fixture module def: the generated packages import, bind
the codecs to their classes, decode rows equal to the reference vectors, keep the 0.7 layout,
and are deterministic."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from spacetimedb_sdk import __version__
from spacetimedb_sdk.algebraic_type import RefType
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.client.testing import build_offline
from spacetimedb_sdk.codegen.generator import generate_package
from spacetimedb_sdk.codegen.plan import ProductTypePlan, SumTypePlan, build_plan
from spacetimedb_sdk.codegen.pywriter import GENERATED_MARKER
from spacetimedb_sdk.codegen.source import load_module_def_file
from spacetimedb_sdk.sats_json import value_from_json, value_to_json
from spacetimedb_sdk.schema import ModuleSchema
from tests.codegen_support import (
    CHAT_BSATN,
    CHAT_JSON,
    fixture_json,
    fixture_names,
    generate_fixture,
    generate_reexport,
    generate_tricky,
    imported,
    sample_json,
)
from tests.conftest import load_fixture

FIXTURES = fixture_names()


def _to_json(ty: Any, value: Any, schema: ModuleSchema, bindings: Any = None) -> Any:
    return value_to_json(ty, value, schema.typespace, bindings, big_ints="number")


@pytest.mark.parametrize("include_private", [False, True], ids=["public", "private"])
@pytest.mark.parametrize("name", FIXTURES)
def test_generated_package_imports_and_describes_the_module(
    tmp_path: Path, name: str, include_private: bool
) -> None:
    out, package = generate_fixture(name, tmp_path, include_private=include_private)
    expected = ModuleSchema.from_json(fixture_json(name).read_text())
    with imported(out) as mb:
        assert expected == mb.SCHEMA
        assert mb.REMOTE_MODULE.schema is mb.SCHEMA
        assert mb.REMOTE_MODULE.bindings is mb.BINDINGS
        assert mb.REMOTE_MODULE.cli_version == __version__
        assert mb.DbConnection.MODULE is mb.REMOTE_MODULE
        plan = package.plan
        for table in plan.tables:
            assert mb.REMOTE_MODULE.row_classes[table.wire_name] is getattr(mb, table.row_class)
            handle = getattr(mb, table.handle_class)
            assert isinstance(getattr(mb.RemoteTables, table.attr), property)
            for ix in table.indexes:
                assert isinstance(getattr(handle, ix.attr), property)
            if table.legacy_module is not None:
                legacy = mb.legacy_row_class(table.wire_name)
                assert issubclass(legacy, getattr(mb, table.row_class))
                assert legacy.is_table_class is True
        for reducer in plan.reducers:
            module = mb.LEGACY_REDUCER_MODULES[reducer.wire_name]
            assert module.reducer_name == reducer.wire_name
            assert callable(getattr(module, f"register_on_{reducer.method}"))
            assert hasattr(mb.RemoteReducers, reducer.method) == reducer.callable
        for procedure in plan.procedures:
            assert callable(getattr(mb.RemoteProcedures, procedure.method))
        # Every binding is the class of that name, and every type definition has one.
        for t in plan.types:
            binding = mb.BINDINGS[t.ref]
            cls = getattr(mb, t.class_name)
            if isinstance(t, ProductTypePlan):
                assert binding.cls is cls
                assert binding.attrs == tuple(f.attr for f in t.fields)


@pytest.mark.parametrize("name", FIXTURES)
def test_rows_decode_into_generated_classes(tmp_path: Path, name: str) -> None:
    """Sample rows of every table and view: BSATN → generated class → same SATS-JSON, and the
    class instance encodes back to the same bytes."""
    out, package = generate_fixture(name, tmp_path, include_private=True)
    with imported(out) as mb:
        schema: ModuleSchema = mb.SCHEMA
        checked = 0
        for table in package.plan.tables:
            ty = RefType(table.row_ref)
            plain = compile_codec(ty, schema.typespace)
            bound = compile_codec(ty, schema.typespace, mb.BINDINGS)
            legacy = compile_codec(ty, schema.typespace, mb.legacy_bindings(table.wire_name))
            row_class = getattr(mb, table.row_class)
            for variant in range(3):
                sample = sample_json(ty, schema.typespace, variant)
                data = plain.encode(value_from_json(ty, sample, schema.typespace))
                row = bound.decode(data)
                assert type(row) is row_class
                assert _to_json(ty, row, schema, mb.BINDINGS) == _to_json(
                    ty, plain.decode(data), schema
                )
                assert bound.encode(row) == data
                old = legacy.decode(data)
                assert isinstance(old, row_class)
                assert old == row and row == old
                assert bound.encode(old) == data
                checked += 1
        assert checked == 3 * len(package.plan.tables)


@pytest.mark.parametrize("name", FIXTURES)
def test_sum_and_enum_types_round_trip(tmp_path: Path, name: str) -> None:
    out, package = generate_fixture(name, tmp_path, include_private=True)
    with imported(out) as mb:
        schema: ModuleSchema = mb.SCHEMA
        for t in package.plan.types:
            if isinstance(t, ProductTypePlan):
                continue
            ty = RefType(t.ref)
            plain = compile_codec(ty, schema.typespace)
            bound = compile_codec(ty, schema.typespace, mb.BINDINGS)
            base = getattr(mb, t.class_name)
            count = len(t.variants) if isinstance(t, SumTypePlan) else len(t.members)
            for variant in range(count):
                data = plain.encode(
                    value_from_json(
                        ty, sample_json(ty, schema.typespace, variant), schema.typespace
                    )
                )
                value = bound.decode(data)
                assert isinstance(value, base)
                if isinstance(t, SumTypePlan):
                    assert variant == value.TAG
                    assert type(value) is getattr(base, t.variants[variant].attr)
                else:
                    assert value.value == variant
                assert bound.encode(value) == data


def test_chat_rows_match_reference_vectors_through_a_connection(tmp_path: Path) -> None:
    """Rows the official serializer produced, delivered to a connection of the generated
    DbConnection, come out as generated row classes equal to the vectors' JSON."""
    vectors = {m["name"]: m for m in load_fixture("vectors", "v2_server_messages.json")["messages"]}
    out, _ = generate_fixture("chat-react-ts", tmp_path)
    with imported(out) as mb:
        builder = mb.DbConnection.builder().with_uri("ws://test").with_database_name("chat")
        conn, socket = build_offline(builder)
        conn.subscription_builder().subscribe("SELECT * FROM user")
        for name in ("InitialConnection", "SubscribeApplied (chat user rows)"):
            socket.deliver(b"\x00" + bytes.fromhex(vectors[name]["hex"]))
        rows = list(conn.db.user.iter())
        assert rows and all(type(r) is mb.User for r in rows)
        user_type = RefType(mb.SCHEMA.table("user").product_type_ref)
        got = sorted(json.dumps(_to_json(user_type, r, mb.SCHEMA, mb.BINDINGS)) for r in rows)
        expected = vectors["SubscribeApplied (chat user rows)"]["annotations"]["rows"]["user"]
        assert got == sorted(json.dumps(r) for r in expected)
        first = rows[0]
        assert conn.db.user.identity.find(first.identity) == first
        assert conn.db.user.count() == len(expected)
        updates: list[tuple[Any, Any]] = []
        inserted: list[Any] = []
        conn.db.user.on_update(lambda ctx, old, new: updates.append((old, new)))
        conn.db.message.on_insert(lambda ctx, row: inserted.append(row))
        socket.deliver(
            b"\x00" + bytes.fromhex(vectors["TransactionUpdate (persistent + event rows)"]["hex"])
        )
        tx = vectors["TransactionUpdate (persistent + event rows)"]["annotations"]["rows"]
        message_type = RefType(mb.SCHEMA.table("message").product_type_ref)
        assert [_to_json(message_type, r, mb.SCHEMA, mb.BINDINGS) for r in inserted] == tx[
            "message"
        ]["inserts"]
        assert [_to_json(user_type, new, mb.SCHEMA, mb.BINDINGS) for _, new in updates] == tx[
            "user"
        ]["inserts"]
        call = conn.reducers.set_name("Bob")
        assert call is not None
        sent = socket.take_sent()[-1]
        assert sent.reducer == "set_name"
        assert sent.args == compile_codec(mb.set_name_reducer.PARAMS).encode({"name": "Bob"})


# ================================================================================ legacy


class _FakeTableCache:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def values(self) -> list[Any]:
        return self.rows


class _FakeLegacyClient:
    """Stands in for ``SpacetimeDBClient.instance`` (the legacy module comes later)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.tables: dict[str, list[Any]] = {}

    def _register_row_update(self, table: str, cb: Any) -> None:
        self.calls.append(("_register_row_update", (table, cb)))

    def _get_table_cache(self, table: str) -> _FakeTableCache:
        return _FakeTableCache(self.tables.get(table, []))

    def _register_reducer(self, name: str, cb: Any) -> None:
        self.calls.append(("_register_reducer", (name, cb)))

    def _reducer_call(self, name: str, *args: Any) -> None:
        self.calls.append(("_reducer_call", (name, *args)))


@pytest.fixture
def legacy_client(monkeypatch: pytest.MonkeyPatch) -> _FakeLegacyClient:
    client = _FakeLegacyClient()
    module = types.ModuleType("spacetimedb_sdk.spacetimedb_client")
    module.SpacetimeDBClient = types.SimpleNamespace(instance=client)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "spacetimedb_sdk.spacetimedb_client", module)
    return client


def test_legacy_layout_of_the_chat_module(tmp_path: Path, legacy_client: _FakeLegacyClient) -> None:
    out, _ = generate_fixture("chat-react-ts", tmp_path)
    with imported(out) as mb:
        user_module = __import__(f"{out.name}.user", fromlist=["User"])
        send_message_reducer = __import__(f"{out.name}.send_message_reducer", fromlist=["x"])
        user_cls = user_module.User
        message_cls = __import__(f"{out.name}.message", fromlist=["Message"]).Message
        assert user_cls.__name__ == "User" and message_cls.__name__ == "Message"
        assert user_cls.is_table_class is True and user_cls.primary_key == "identity"
        assert not hasattr(message_cls, "primary_key")
        assert mb.legacy_row_class("user") is user_cls

        # Rows decoded through the legacy binding serve both APIs.
        codec = compile_codec(
            RefType(mb.SCHEMA.table("user").product_type_ref),
            mb.SCHEMA.typespace,
            mb.legacy_bindings("user"),
        )
        from spacetimedb_sdk.identity import Identity

        alice = user_cls(Identity(1), "alice", True)
        bob = codec.decode(codec.encode(user_cls(Identity(2), None, False)))
        assert type(bob) is user_cls and isinstance(bob, mb.User)
        assert bob.data == {"identity": Identity(2), "name": None, "online": False}
        assert bob.no_such_column is None
        assert bob == mb.User(Identity(2), None, False) and mb.User(Identity(2), None, False) == bob
        assert hash(bob) == hash(user_cls(Identity(2), None, False))
        legacy_client.tables["user"] = [alice, bob]

        assert list(user_cls.iter()) == [alice, bob]
        assert user_cls.filter_by_identity(Identity(2)) is bob
        assert user_cls.filter_by_identity(Identity(3)) is None
        assert user_cls.filter_by_online(True) == [alice]
        assert user_cls.filter_by_name(None) == [bob]
        callback: Any = print
        user_cls.register_row_update(callback)
        assert legacy_client.calls[-1] == ("_register_row_update", ("user", callback))

        assert send_message_reducer.reducer_name == "send_message"
        send_message_reducer.send_message("hello")
        assert legacy_client.calls[-1] == ("_reducer_call", ("send_message", "hello"))
        send_message_reducer.register_on_send_message(callback)
        assert legacy_client.calls[-1] == ("_register_reducer", ("send_message", callback))
        args = compile_codec(send_message_reducer.PARAMS).encode({"text": "hi"})
        assert send_message_reducer._decode_args(args) == ["hi"]
        assert send_message_reducer._decode_args(["hi"]) == ["hi"]


def test_legacy_modules_import_without_the_legacy_client(tmp_path: Path) -> None:
    out, _ = generate_fixture("chat-react-ts", tmp_path)
    with imported(out):
        user_module = __import__(f"{out.name}.user", fromlist=["User"])
        assert user_module.User.is_table_class


# ============================================================================ determinism


@pytest.mark.parametrize("name", FIXTURES)
def test_generation_is_deterministic(name: str) -> None:
    first = generate_package(load_module_def_file(fixture_json(name))).files
    second = generate_package(load_module_def_file(fixture_json(name))).files
    assert first == second
    assert list(first) == sorted(first)


def test_bsatn_and_json_inputs_give_the_same_code() -> None:
    from_json = generate_package(load_module_def_file(CHAT_JSON)).files
    from_bsatn = generate_package(load_module_def_file(CHAT_BSATN)).files
    assert from_json.keys() == from_bsatn.keys()

    def body(text: str) -> str:
        return "\n".join(text.splitlines()[4:])

    assert {k: body(v) for k, v in from_json.items()} == {k: body(v) for k, v in from_bsatn.items()}


def test_every_file_carries_the_header() -> None:
    files = generate_package(load_module_def_file(CHAT_JSON)).files
    for text in files.values():
        lines = text.splitlines()
        assert lines[0] == GENERATED_MARKER
        assert lines[2].startswith(f"# Generated by spacetimedb-sdk {__version__} from")
        assert "RawModuleDef V10 (sha256 " in lines[2]
        assert lines[3] == "# read from module def file chat-react-ts.moduledef.json."


# ============================================================================ selection


def test_selection_follows_the_official_generators() -> None:
    schema = ModuleSchema.from_json(fixture_json("module-test-ts").read_text())
    public = build_plan(schema)
    private = build_plan(schema, include_private=True)
    public_tables = {t.wire_name for t in public.tables}
    assert public_tables == {
        "logged_out_player",
        "person",
        "player",
        "test_d",
        "test_f",
        "my_player",
    }
    assert [t.kind for t in public.tables][-1] == "view"
    assert {t.wire_name for t in private.tables} > public_tables
    assert all(r.lifecycle is None for r in public.reducers)
    lifecycle = [r for r in private.reducers if r.lifecycle is not None]
    assert lifecycle and not any(r.callable for r in lifecycle)
    assert any(r.is_scheduled for r in private.reducers)
    assert not any(r.is_scheduled for r in public.reducers)
    # Parameter types TypeScript modules register under a reducer's name are left out.
    chat = build_plan(ModuleSchema.from_json(CHAT_JSON.read_text()))
    assert [t.class_name for t in chat.types] == ["Message", "User"]


def test_view_and_event_tables_get_their_handle_kinds() -> None:
    plan = build_plan(ModuleSchema.from_json(fixture_json("sdk-test-view-pk-ts").read_text()))
    views = [t for t in plan.tables if t.kind == "view"]
    assert views and all(not t.indexes for t in views)
    assert any(t.handle_base == "TableWithPrimaryKeyHandle" for t in views)
    sdk = build_plan(
        ModuleSchema.from_json(fixture_json("sdk-test-ts").read_text()), include_private=True
    )
    assert all(
        t.handle_base == "TableWithPrimaryKeyHandle"
        for t in sdk.tables
        if t.primary_key and not t.is_event
    )
    unique = [ix for t in sdk.tables for ix in t.indexes if ix.kind == "unique"]
    btree = [ix for t in sdk.tables for ix in t.indexes if ix.kind == "btree"]
    assert unique and btree


def test_event_tables_get_insert_only_handles(tmp_path: Path) -> None:
    """No fixture has an event table, so mark the chat ``message`` table as one."""
    obj = json.loads(CHAT_JSON.read_text())
    for section in obj["V10"]["sections"]:
        for table in section.get("Tables", []):
            if table["source_name"] == "message":
                table["is_event"] = True
    path = tmp_path / "chat-events.moduledef.json"
    path.write_text(json.dumps(obj))
    package = generate_package(load_module_def_file(path))
    message = next(t for t in package.plan.tables if t.wire_name == "message")
    assert message.is_event and message.handle_base == "EventTableHandle" and not message.indexes
    assert "_client.EventTableHandle[Message]" in package.files["message_table.py"]


@pytest.mark.parametrize("policy", ["SnakeCase", "None"])
def test_names_python_cannot_use_are_escaped(tmp_path: Path, policy: str) -> None:
    out, package = generate_tricky(tmp_path, policy)
    with imported(out) as mb:
        row_cls = mb.Weird
        fields = list(row_cls.__dataclass_fields__)
        assert fields[:7] == ["class_", "from_", "self", "int_", "l_", "data", "iter"]
        assert fields[7:9] == ["weird", "player_id"]
        table = next(t for t in package.plan.tables if t.wire_name == "table")
        assert table.attr == "table_"  # ``conn.db.table(name)`` is a runtime method
        assert {ix.attr for ix in table.indexes} == {
            "name",
            "count_",
            "iter_",
        }  # `table_name` is the handle's
        assert set(table.legacy_skipped) == {"data", "iter"}
        assert mb.DbConnection2.Value.value == 0  # a type named DbConnection keeps out of the way
        none_sum = mb.NsNone
        assert none_sum.NoneType().TAG == 0 and none_sum.SomeThing(3).value == 3
        reducers = {r.wire_name: r for r in package.plan.reducers}
        assert reducers["call"].method == "call_"
        assert reducers["reducer_name"].method == "reducer_name_"
        assert [p.attr for p in reducers["call"].params] == ["self_", "class_", "cls"]
        schema: ModuleSchema = mb.SCHEMA
        ty = RefType(table.row_ref)
        plain = compile_codec(ty, schema.typespace)
        bound = compile_codec(ty, schema.typespace, mb.BINDINGS)
        for variant in range(3):
            data = plain.encode(
                value_from_json(ty, sample_json(ty, schema.typespace, variant), schema.typespace)
            )
            row = bound.decode(data)
            assert bound.encode(row) == data
            legacy = compile_codec(ty, schema.typespace, mb.legacy_bindings("table")).decode(data)
            assert legacy == row and legacy.data == row.data and legacy.unknown is None


def test_procedure_call_resolves_to_the_generated_class(tmp_path: Path) -> None:
    """``conn.procedures.return_struct(42, "str")`` sends the call and resolves to a
    ``ReturnStruct`` from the reference ProcedureResult."""
    import dataclasses

    from spacetimedb_sdk.messages import decode_server_message

    vectors = {m["name"]: m for m in load_fixture("vectors", "v2_server_messages.json")["messages"]}
    out, _ = generate_fixture("sdk-test-procedure-ts", tmp_path)
    with imported(out) as mb:
        builder = mb.DbConnection.builder().with_uri("ws://test").with_database_name("procs")
        conn, socket = build_offline(builder)
        socket.deliver(b"\x00" + bytes.fromhex(vectors["InitialConnection"]["hex"]))
        call = conn.procedures.return_struct(42, "str")
        sent = socket.take_sent()[-1]
        assert sent.procedure == "return_struct"
        assert sent.args == compile_codec(mb.return_struct_procedure.PARAMS).encode(
            {"a": 42, "b": "str"}
        )
        result = decode_server_message(
            bytes.fromhex(vectors["ProcedureResult Returned (struct)"]["hex"])
        )
        socket.deliver(dataclasses.replace(result, request_id=sent.request_id))
        value = call.result(timeout=5)
        assert value == mb.ReturnStruct(42, "str")
        assert type(value) is mb.ReturnStruct


@pytest.mark.parametrize("version", [9, 10])
@pytest.mark.parametrize("name", ["module-test-ts", "sdk-test-view-pk-ts"])
def test_server_reexports_generate_the_same_api(tmp_path: Path, name: str, version: int) -> None:
    """Bindings from the schema endpoint's bodies (canonical names; V9 loses accessors) keep
    the wire names, classes and handles of the bindings generated from the module's own def."""
    out, package = generate_reexport(name, tmp_path, version)
    _, original = generate_fixture(name, tmp_path)
    assert {t.wire_name for t in package.plan.tables} == {t.wire_name for t in original.plan.tables}
    assert {r.wire_name for r in package.plan.reducers} == {
        r.wire_name for r in original.plan.reducers
    }
    assert {t.class_name for t in package.plan.types} == {t.class_name for t in original.plan.types}
    with imported(out) as mb:
        for table in package.plan.tables:
            assert mb.REMOTE_MODULE.row_classes[table.wire_name] is getattr(mb, table.row_class)


def test_index_accessors_find_and_filter_with_ranges(tmp_path: Path) -> None:
    """``person`` (module-test-ts) has a primary key ``id`` and a btree index on ``age``."""
    from spacetimedb_sdk.client import Range
    from spacetimedb_sdk.messages import QueryRows, QuerySetId, SingleTableRows, SubscribeAppliedMsg
    from spacetimedb_sdk.row_list import BsatnRowList

    vectors = {m["name"]: m for m in load_fixture("vectors", "v2_server_messages.json")["messages"]}
    out, _ = generate_fixture("module-test-ts", tmp_path)
    with imported(out) as mb:
        conn, socket = build_offline(
            mb.DbConnection.builder().with_uri("ws://t").with_database_name("m")
        )
        socket.deliver(b"\x00" + bytes.fromhex(vectors["InitialConnection"]["hex"]))
        conn.subscription_builder().subscribe("SELECT * FROM person")
        request = socket.take_sent()[-1]
        codec = compile_codec(
            RefType(mb.SCHEMA.table("person").product_type_ref), mb.SCHEMA.typespace, mb.BINDINGS
        )
        people = [mb.Person(i, f"p{i}", age) for i, age in enumerate([30, 17, 45, 17, 60], start=1)]
        rows = BsatnRowList.from_rows(codec.encode(p) for p in people)
        socket.deliver(
            SubscribeAppliedMsg(
                request.request_id,
                request.query_set_id,
                QueryRows([SingleTableRows("person", rows)]),
            )
        )
        assert isinstance(request.query_set_id, QuerySetId)
        person = conn.db.person
        assert person.count() == 5
        assert person.id.find(3) == mb.Person(3, "p3", 45)
        assert person.id.find(99) is None
        assert sorted(p.id for p in person.age.filter(17)) == [2, 4]
        assert [p.age for p in person.age.filter(Range(18, 50))] == [30, 45]
        assert [p.age for p in person.age.filter(slice(45, None))] == [45, 60]
        assert [p.age for p in person.age.filter(Range.closed(17, 30))] == [17, 17, 30]
