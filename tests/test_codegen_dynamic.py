"""Dynamic mode: classes and handles built at run time from a fetched (or given) module def."""

from __future__ import annotations

import inspect
import threading

import pytest

from spacetimedb_sdk.algebraic_type import RefType
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.client.testing import build_offline
from spacetimedb_sdk.codegen import dynamic
from spacetimedb_sdk.codegen.plan import ProductTypePlan, build_plan
from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.sats_json import value_from_json, value_to_json
from tests.codegen_support import CHAT_BSATN, CHAT_JSON, fixture_json, fixture_names, sample_json
from tests.conftest import REPO_ROOT, load_fixture

__all__ = ["spacetimedb_local_server"]


@pytest.mark.parametrize("name", fixture_names())
def test_dynamic_classes_mirror_the_generated_ones(name: str) -> None:
    module = dynamic.load_module(fixture_json(name), name=name)
    plan = build_plan(module.schema, include_private=True)
    for t in plan.types:
        cls = getattr(module.types, t.class_name)
        assert module.remote_module.bindings[t.ref] is not None
        if isinstance(t, ProductTypePlan):
            assert tuple(cls.__dataclass_fields__) == tuple(f.attr for f in t.fields)
    schema = module.schema
    for table in plan.tables:
        ty = RefType(table.row_ref)
        plain = compile_codec(ty, schema.typespace)
        bound = compile_codec(ty, schema.typespace, module.remote_module.bindings)
        for variant in range(2):
            data = plain.encode(
                value_from_json(ty, sample_json(ty, schema.typespace, variant), schema.typespace)
            )
            row = bound.decode(data)
            assert type(row) is module.row_classes[table.wire_name]
            assert bound.encode(row) == data
            assert value_to_json(
                ty, row, schema.typespace, module.remote_module.bindings
            ) == value_to_json(ty, plain.decode(data), schema.typespace)


def test_sum_and_enum_classes() -> None:
    module = dynamic.load_module(fixture_json("module-test-ts"))
    t = module.types
    assert t.Foobar.Baz(t.Baz("x")).value == t.Baz("x")
    assert t.Foobar.Har(5).TAG == 2 and isinstance(t.Foobar.Bar(), t.Foobar)
    assert [m.name for m in t.NamespaceTestC] == ["Foo", "Bar"]
    codec = compile_codec(
        RefType(module.schema.type("Foobar").ref),
        module.schema.typespace,
        module.remote_module.bindings,
    )
    for value in (t.Foobar.Baz(t.Baz("x")), t.Foobar.Bar(), t.Foobar.Har(7)):
        assert codec.decode(codec.encode(value)) == value


def test_offline_connection_with_a_dynamic_module() -> None:
    vectors = {m["name"]: m for m in load_fixture("vectors", "v2_server_messages.json")["messages"]}
    module = dynamic.load_module(CHAT_BSATN.read_bytes(), name="chat")
    conn, socket = build_offline(module.builder().with_uri("ws://test").with_database_name("chat"))
    conn.subscription_builder().subscribe("SELECT * FROM user")
    for name in ("InitialConnection", "SubscribeApplied (chat user rows)"):
        socket.deliver(b"\x00" + bytes.fromhex(vectors[name]["hex"]))
    rows = list(conn.db.user.iter())
    assert len(rows) == 3 and all(type(r) is module.types.User for r in rows)
    assert list(conn.db["user"].iter()) == rows
    assert conn.db.user.identity.find(rows[0].identity) == rows[0]
    assert {"user", "message"} <= set(dir(conn.db))
    assert str(inspect.signature(conn.reducers.set_name)) == "(name: 'str')"
    conn.reducers.set_name("x")
    conn.reducers.send_message(text="hi")
    sent = socket.take_sent()[-2:]
    assert [m.reducer for m in sent] == ["set_name", "send_message"]
    with pytest.raises(TypeError):
        conn.reducers.set_name()


def test_load_module_accepts_every_form() -> None:
    import json

    text = CHAT_JSON.read_text()
    for given in (CHAT_JSON, text, json.loads(text), CHAT_BSATN.read_bytes()):
        assert dynamic.load_module(given).schema == dynamic.load_module(CHAT_JSON).schema


def test_fetch_and_connect_against_the_local_server(
    spacetimedb_local_server: ServerFactory,
) -> None:
    server = spacetimedb_local_server({"chat": REPO_ROOT / "server"})
    module = dynamic.fetch_module(server.url, "chat")
    assert set(module.row_classes) == {"user", "message"}

    applied = threading.Event()
    conn = dynamic.connect(server.url, "chat").build()
    try:
        conn.run_threaded()
        conn.subscription_builder().on_applied(lambda ctx: applied.set()).subscribe(
            ["SELECT * FROM user", "SELECT * FROM message"]
        )
        assert applied.wait(10)
        conn.reducers.set_name("dynamo").result(timeout=10)
        conn.reducers.send_message("hello").result(timeout=10)
        me = conn.db.user.identity.find(conn.identity)
        assert me is not None and me.name == "dynamo" and me.online is True
        assert type(me).__name__ == "User"
        texts = [m.text for m in conn.db["message"].iter()]
        assert texts == ["hello"]
    finally:
        conn.disconnect()
