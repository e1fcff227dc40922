"""The pieces of the 0.7 layer that need no server: names, hosts, conventions, loading, rows."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from spacetimedb_sdk.bsatn import ProductBinding
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.legacy.address import Address
from spacetimedb_sdk.legacy.bindings import load_legacy_bindings, snake_to_camel
from spacetimedb_sdk.legacy.conventions import wants_address
from spacetimedb_sdk.legacy.host import legacy_uri
from spacetimedb_sdk.legacy.json_rows import to_legacy_json
from spacetimedb_sdk.legacy.messages import TableNameDict, TransactionUpdateMessage
from spacetimedb_sdk.legacy.sql import TableNameResolver, rewrite_table_names
from spacetimedb_sdk.timestamp import Timestamp
from tests.conftest import REPO_ROOT

CHAT_TABLES = TableNameResolver(["user", "message", "room_chat"])


@pytest.fixture(scope="module")
def module_bindings() -> Iterator[ModuleType]:
    sys.path.insert(0, str(REPO_ROOT / "client"))
    try:
        import module_bindings

        yield module_bindings
    finally:
        sys.path.remove(str(REPO_ROOT / "client"))


# ------------------------------------------------------------------------------------- SQL
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT * FROM User", "SELECT * FROM user"),
        ("SELECT * FROM Message", "SELECT * FROM message"),
        ("select * from USER where online = true", "select * from user where online = true"),
        ("SELECT * FROM user", "SELECT * FROM user"),
        ("SELECT * FROM RoomChat", "SELECT * FROM room_chat"),
        ("SELECT User.* FROM User JOIN Message", "SELECT user.* FROM user JOIN message"),
        ('SELECT * FROM "User"', 'SELECT * FROM "User"'),  # quoted: exact
        (
            "SELECT * FROM message WHERE text = 'FROM User'",
            "SELECT * FROM message WHERE text = 'FROM User'",
        ),
        (
            "SELECT * FROM message WHERE text = 'it''s User'",
            "SELECT * FROM message WHERE text = 'it''s User'",
        ),
        ("SELECT * FROM Unknown", "SELECT * FROM Unknown"),
        ("SELECT * FROM\n  User\nWHERE User.online", "SELECT * FROM\n  user\nWHERE user.online"),
    ],
)
def test_legacy_table_names(query: str, expected: str) -> None:
    assert rewrite_table_names(query, CHAT_TABLES.resolve) == expected


def test_ambiguous_names_are_left_alone() -> None:
    resolver = TableNameResolver(["user", "USER"])
    assert resolver.resolve("User") is None
    assert rewrite_table_names("SELECT * FROM User", resolver.resolve) == "SELECT * FROM User"


def test_snake_to_camel() -> None:
    assert snake_to_camel("user") == "User"
    assert snake_to_camel("user_chat") == "UserChat"


# ------------------------------------------------------------------------------------ hosts
@pytest.mark.parametrize(
    ("host", "ssl", "uri"),
    [
        ("localhost:3000", False, "http://localhost:3000"),
        ("localhost:3000", True, "https://localhost:3000"),
        ("http://localhost:3000", False, "http://localhost:3000"),
        ("http://localhost:3000/", True, "https://localhost:3000"),
        ("https://maincloud.spacetimedb.com", False, "https://maincloud.spacetimedb.com"),
        ("wss://example.com", False, "wss://example.com"),
        ("ws://example.com:80", True, "wss://example.com:80"),
        ("HTTP://Example.com", False, "http://Example.com"),
    ],
)
def test_hosts(host: str, ssl: bool, uri: str) -> None:
    assert legacy_uri(host, ssl) == uri


def test_bad_host() -> None:
    with pytest.raises(ValueError):
        legacy_uri("ftp://x", False)
    with pytest.raises(ValueError):
        legacy_uri("  ", False)


# ------------------------------------------------------------------------------ conventions
def test_callback_conventions() -> None:
    def v07(identity: Any, address: Any, status: str, message: str, name: str) -> None: ...
    def v06(identity: Any, status: str, message: str, name: str) -> None: ...
    def mud(caller: Any, status: str, message: str, entity: int = 0, text: str = "") -> None: ...
    def varargs(*args: Any) -> None: ...

    class Handler:
        def on_set_name(self, identity: Any, status: str, message: str, name: str) -> None: ...

    assert wants_address(v07, 4)
    assert not wants_address(v06, 4)
    assert not wants_address(mud, 5)  # a 0.6 callback with defaults (spacetime-mud's on_say)
    assert wants_address(varargs, 4)
    assert not wants_address(Handler().on_set_name, 4)
    assert wants_address(print, 4)  # unreadable signatures default to 0.7

    def identity07(token: str, identity: Any, address: Any) -> None: ...
    def identity06(token: str, identity: Any) -> None: ...

    assert wants_address(identity07, 2)
    assert not wants_address(identity06, 2)


# ---------------------------------------------------------------------------------- Address
def test_address() -> None:
    raw = bytes(range(16))
    address = Address.from_bytes(raw)  # 0.7 raised NameError here
    assert address.data == raw
    assert str(address) == raw.hex()
    assert Address.from_string(raw.hex()) == address
    assert Address.from_string("00" * 16) is None
    assert address == ConnectionId(raw)
    assert hash(address) == hash(ConnectionId(raw))
    assert Address.random() != Address.random()
    assert Address.of(ConnectionId.zero()) is None
    assert Address.of(None) is None


def test_identity_is_the_0_7_identity() -> None:
    from spacetimedb_sdk.spacetimedb_client import Identity as LegacyIdentity

    data = bytes(range(32))
    identity = LegacyIdentity.from_bytes(data)
    assert identity.data == data
    assert LegacyIdentity.from_string(data.hex()) == identity
    assert str(identity) == data.hex()
    assert {identity: 1}[Identity(data)] == 1


# --------------------------------------------------------------------------------- messages
def test_table_name_dict_finds_0_7_names() -> None:
    events = TableNameDict(CHAT_TABLES.resolve)
    events["user"] = [1]
    assert events["User"] == [1]
    assert "User" in events
    assert events.get("USER") == [1]
    assert events.get("Nope") is None


def test_transaction_message_fields() -> None:
    me = Identity(5)
    message = TransactionUpdateMessage(me, None, "failed", "bad", "set_name", [""])
    assert message.transaction_type == "TransactionUpdate"
    assert message.reducer_event.caller_identity == me
    # 0.7's docs promised these on the message itself (call_reducer relied on them).
    assert (message.caller_identity, message.reducer, message.status, message.message) == (
        me,
        "set_name",
        "failed",
        "bad",
    )


# ---------------------------------------------------------------------------------- loading
def test_loads_0_7_bindings_without_schema() -> None:
    import tests.legacy_bindings_07 as package

    bindings = load_legacy_bindings(package)
    assert not bindings.has_schema
    assert {t.legacy_name for t in bindings.tables} == {"User", "Message"}
    # Without reducer_name the name comes from the file name.
    assert {r.legacy_name for r in bindings.reducers} == {"send_message", "set_name"}


def test_0_7_bindings_get_canonical_names_from_the_schema(module_bindings: ModuleType) -> None:
    import tests.legacy_bindings_07 as package

    bindings = load_legacy_bindings(package)
    bindings.attach_schema(module_bindings.SCHEMA)
    assert {(t.legacy_name, t.name) for t in bindings.tables} == {
        ("User", "user"),
        ("Message", "message"),
    }
    module = bindings.remote_module()
    assert dict(module.bindings) == {}  # rows decode unbound, then become 0.7 objects
    build = bindings.row_factory("user")
    assert build is not None
    me = Identity(7)
    user = build({"identity": me, "name": "ann", "online": True})
    assert (user.identity, user.name, user.online, user.missing) == (me, "ann", True, None)
    anonymous = build({"identity": me, "name": None, "online": False})
    assert anonymous.name is None


def test_0_7_json_shapes(module_bindings: ModuleType) -> None:
    schema = module_bindings.SCHEMA
    message_type = schema.table("message").row_type
    me = Identity(bytes(range(32)))
    row = {"sender": me, "sent": Timestamp(1_700_000_000_000_000), "text": "hi"}
    assert to_legacy_json(message_type, row, schema.typespace) == [
        [me.to_hex()],
        [1_700_000_000_000_000],
        "hi",
    ]
    user_type = schema.table("user").row_type
    assert to_legacy_json(
        user_type, {"identity": me, "name": None, "online": True}, schema.typespace
    ) == [
        [me.to_hex()],
        {"1": []},
        True,
    ]


def test_generated_bindings_bind_the_legacy_classes(module_bindings: ModuleType) -> None:
    from module_bindings.user import User

    bindings = load_legacy_bindings(module_bindings)
    module = bindings.remote_module()
    ref = module_bindings.SCHEMA.table("user").product_type_ref
    binding = module.bindings[ref]
    assert isinstance(binding, ProductBinding)
    assert binding.cls is User
    assert bindings.row_factory("user") is None


def test_table_cache_decodes_row_bytes(module_bindings: ModuleType) -> None:
    from module_bindings.user import User

    from spacetimedb_sdk.client_cache import ClientCache

    cache = ClientCache(module_bindings)
    bindings = cache.bindings
    module = bindings.remote_module()
    cache.rebuild(bindings.row_codecs(module))
    table = cache.get_table_cache("User")
    assert table is cache.get_table_cache("user")
    me = Identity(3)
    data = bindings.row_codecs(module)["user"].encode(User(me, "ann", True))
    cache.set_entry("user", data, data)
    row = cache.get_entry("User", data)
    assert isinstance(row, User) and (row.name, row.online) == ("ann", True)
    assert list(table.values()) == [row]
    cache.delete_entry("user", data)
    assert len(table) == 0
    assert cache.get_entry("Nope", data) is None  # unknown tables are reported, not raised
