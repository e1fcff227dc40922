"""The Python ports of the official SDK test modules declare what the official modules declare.

For the six modules with a TypeScript twin, the port's definition — as our schema endpoint
serves it — equals the twin's (tests/fixtures/module_defs/<name>-ts.moduledef.json, produced by
the official TypeScript library), compared semantically by canonical names (see
tests/sdk_suite/module_def_summary.py). The ports follow the official *Rust* modules, which are
the ones the suite runs against; where the Rust module and its TypeScript twin disagree, the
difference is listed in ``RUST_VS_TS`` with the reason, and the test checks that exactly those
differences remain. The three Rust-only modules get spot checks of their key items.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from spacetimedb_sdk.local_server.module_loader import load_module
from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.module import describe_module
from spacetimedb_sdk.raw_module_def import raw_module_def_from_json
from spacetimedb_sdk.schema import ModuleSchema
from tests.conftest import load_fixture
from tests.local_server_support import http_json, http_request
from tests.sdk_suite.module_def_summary import diff_summaries, served_schema, summarize

__all__ = ["spacetimedb_local_server"]

MODULES = Path(__file__).resolve().parent / "sdk_suite" / "modules"

# The official Rust modules' items that their TypeScript twins lack or declare differently.
_PK_UUID_RUST = [
    # Rust `sdk-test-procedure` declares `PkUuid { u: Uuid, data: u8 }` with no key; the TS twin
    # `{ u: t.uuid().primaryKey(), data: t.i32() }`.
    "/tables/pk_uuid/columns: [['u', 'uuid'], ['data', 'U8']] != [['u', 'uuid'], ['data', 'I32']]",
    "/tables/pk_uuid/indexes: [] != [['btree', ['u'], 'u']]",
    "/tables/pk_uuid/primary_key: None != 'u'",
    "/tables/pk_uuid/unique: [] != [['u']]",
]
RUST_VS_TS: dict[str, list[str]] = {
    "sdk_test_connect_disconnect": [],
    "sdk_test_procedural_view_pk": [],
    "sdk_test_view_pk": [],
    "sdk_test_procedure": _PK_UUID_RUST,
    # `Level2Person` takes an AnonymousViewContext in Rust; the TS twin uses `spacetimedb.view`
    # (per-client).
    "sdk_test_case_conversion": ["/views/Level2Person/anonymous: True != False"],
    # The Rust macro gives every non-ConnectionId One*/Vec*/Option*/Unique*/Pk* table and
    # LargeTable a `delete_all_*`/`delete_large_table`-style reducer deleting the row equal to
    # its arguments; the TS twin has none of the delete_all_* reducers (checked below by name).
    "sdk_test": [],
}
_DELETE_ALL = re.compile(r"^/reducers/(delete_all_\w+): only in ours$")


def _port(name: str) -> ModuleType:
    return load_module(MODULES / f"{name}.py")


def _ours(name: str) -> dict[str, Any]:
    return summarize(served_schema(describe_module(_port(name))))


def _twin(name: str) -> dict[str, Any]:
    fixture = load_fixture("module_defs", f"{name.replace('_', '-')}-ts.moduledef.json")
    return summarize(served_schema(raw_module_def_from_json(fixture)))


def _as_ts_views(summary: dict[str, Any]) -> dict[str, Any]:
    """The TS library declares every view as returning an array (or option), query-builder
    views included, with an explicit primary key; the Rust library marks query views as such
    (``{__query__: T}``) and the server infers their key. Both mean "rows of T, keyed", so
    query views are compared as arrays (their key is compared as it is)."""
    for v in summary["views"].values():
        if v["returns"][0] == "query":
            v["returns"] = ["array", v["returns"][1]]
    return summary


@pytest.mark.parametrize("name", sorted(RUST_VS_TS))
def test_port_matches_the_typescript_twin(name: str) -> None:
    ours, theirs = _ours(name), _twin(name)
    differences = diff_summaries(_as_ts_views(ours), theirs)
    if name == "sdk_test":
        delete_all = [m.group(1) for d in differences if (m := _DELETE_ALL.match(d))]
        differences = [d for d in differences if not _DELETE_ALL.match(d)]
        # 25 One*, 25 Vec* (no ConnectionId), 7 Option*, 17 Unique*, 18 Pk*.
        assert len(delete_all) == 92
        assert "delete_all_one_connection_id" not in delete_all
        assert all(name in ours["reducers"] for name in delete_all)
    assert differences == RUST_VS_TS[name]


def test_query_views_are_marked_as_such_and_keyed() -> None:
    """The Rust-style query views of the ports keep their shape; the server infers the key."""
    views = _ours("sdk_test_view_pk")["views"]
    assert {n: (v["returns"], v["primary_key"]) for n, v in views.items()} == {
        n: (["query", "ViewPkPlayer"], "id")
        for n in ("all_view_pk_players", "sender_view_pk_players_a", "sender_view_pk_players_b")
    }
    level2 = _ours("sdk_test_case_conversion")["views"]["Level2Person"]
    assert level2["returns"] == ["query", "Person2"] and level2["anonymous"] is True


def test_the_comparison_sees_a_changed_definition() -> None:
    """The summary is not blind: one changed column type is reported."""
    ours = _ours("sdk_test_connect_disconnect")
    theirs = _twin("sdk_test_connect_disconnect")
    theirs["tables"]["connected"]["columns"][0][1] = "connection_id"
    assert diff_summaries(ours, theirs) == [
        "/tables/connected/columns: [['identity', 'identity']] != [['identity', 'connection_id']]"
    ]


# ------------------------------------------------------------------------- Rust-only modules


def test_event_table_port() -> None:
    s = _ours("sdk_test_event_table")
    assert s["tables"]["test_event"]["is_event"] is True
    assert s["tables"]["test_event"]["access"] == "PUBLIC"
    assert s["tables"]["test_event"]["columns"] == [["name", "String"], ["value", "U64"]]
    assert set(s["reducers"]) == {"emit_test_event", "emit_multiple_test_events", "noop"}
    assert s["reducers"]["emit_test_event"]["params"] == [["name", "String"], ["value", "U64"]]


def test_procedure_concurrency_port() -> None:
    s = _ours("sdk_test_procedure_concurrency")
    tables = s["tables"]
    assert tables["procedure_concurrency_row"]["sequences"] == [
        ["insertion_order", None, None, None, 1]
    ]
    assert tables["scheduled_reducer_row"]["schedule"] == [
        "insert_scheduled_reducer", "reducer", "scheduled_at"
    ]  # fmt: skip
    assert tables["scheduled_procedure_row"]["schedule"] == [
        "scheduled_procedure_sleep_between_inserts", "procedure", "scheduled_at"
    ]  # fmt: skip
    assert tables["scheduled_reducer_row"]["access"] == "PRIVATE"
    assert set(s["procedures"]) == {
        "procedure_sleep_between_inserts",
        "procedure_schedule_reducer_between_inserts",
        "scheduled_procedure_sleep_between_inserts",
    }
    assert s["procedures"]["scheduled_procedure_sleep_between_inserts"]["visibility"] == "PRIVATE"
    assert s["reducers"]["insert_scheduled_reducer"]["params"] == [
        ["_schedule", "ScheduledReducerRow"]
    ]
    assert s["reducers"]["insert_reducer_row"]["visibility"] == "CLIENT_CALLABLE"


def test_view_port() -> None:
    s = _ours("sdk_test_view")
    views = {
        name: (v["anonymous"], v["public"], v["returns"], v["primary_key"])
        for name, v in s["views"].items()
    }
    assert views == {
        "my_player": (False, True, ["option", "Player"], None),
        "my_player_and_level": (False, True, ["option", "PlayerAndLevel"], None),
        "players_at_level_0": (True, True, ["array", "Player"], None),
        "nearby_players": (False, True, ["array", "PlayerLocation"], None),
    }
    assert s["types"]["PlayerAndLevel"] == [
        "product", [["entity_id", "U64"], ["identity", "identity"], ["level", "U64"]]
    ]  # fmt: skip
    assert s["tables"]["player_location"]["access"] == "PRIVATE"
    assert s["tables"]["player"]["unique"] == [["entity_id"], ["identity"]]
    raw = describe_module(_port("sdk_test_view"))
    indexes = {(v.accessor_name, v.is_anonymous, v.index) for v in ModuleSchema.from_raw(raw).views}
    # Per-client and anonymous views are numbered separately, in name order.
    assert indexes == {
        ("my_player", False, 0),
        ("my_player_and_level", False, 1),
        ("nearby_players", False, 2),
        ("players_at_level_0", True, 0),
    }


# ---------------------------------------------------------------- served by the local server


ALL_PORTS = [
    "sdk_test",
    "sdk_test_case_conversion",
    "sdk_test_connect_disconnect",
    "sdk_test_event_table",
    "sdk_test_procedural_view_pk",
    "sdk_test_procedure",
    "sdk_test_procedure_concurrency",
    "sdk_test_view",
    "sdk_test_view_pk",
]


def test_the_local_server_serves_each_port_schema(
    spacetimedb_local_server: ServerFactory,
) -> None:
    """Each port loads into the real local server, whose schema endpoint serves its def."""
    databases = {name.replace("_", "-"): MODULES / f"{name}.py" for name in ALL_PORTS}
    server = spacetimedb_local_server(databases)
    for db, path in databases.items():
        served = http_json("GET", f"{server.url}/v1/database/{db}/schema?version=10")
        schema = ModuleSchema.from_json(served)
        expected = served_schema(describe_module(load_module(path)))
        assert summarize(schema) == summarize(expected), db


def _call(url: str, db: str, name: str, *args: Any) -> int:
    status, _, _ = http_request(
        "POST", f"{url}/v1/database/{db}/call/{name}", json.dumps(list(args)),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    return status


def _rows(url: str, db: str, query: str) -> list[Any]:
    status, _, body = http_request("POST", f"{url}/v1/database/{db}/sql", query)
    assert status == 200, body
    rows: list[Any] = json.loads(body)[0]["rows"]
    return rows


def test_generated_reducers_and_procedures_run(spacetimedb_local_server: ServerFactory) -> None:
    """The reducers ``sdk_test`` stamps out (and the procedure port's bodies) do what the
    official ones do, on the local server."""
    server = spacetimedb_local_server(
        {"t": MODULES / "sdk_test.py", "p": MODULES / "sdk_test_procedure.py"}
    )
    url = server.url
    assert _call(url, "t", "insert_one_u8", 5) == 200
    assert _rows(url, "t", "SELECT * FROM one_u_8") == [[5]]
    assert _call(url, "t", "delete_all_one_u8", 5) == 200
    assert _rows(url, "t", "SELECT * FROM one_u_8") == []
    assert _call(url, "t", "insert_pk_u32", 1, 10) == 200
    assert _call(url, "t", "update_pk_u32", 1, 11) == 200
    assert _rows(url, "t", "SELECT * FROM pk_u_32") == [[1, 11]]
    assert _call(url, "t", "delete_pk_u32", 1) == 200
    assert _rows(url, "t", "SELECT * FROM pk_u_32") == []
    assert _call(url, "t", "insert_unique_u32", 1, 10) == 200
    assert _call(url, "t", "update_unique_u32", 1, 12) == 200
    assert _rows(url, "t", "SELECT * FROM unique_u_32") == [[1, 12]]
    assert _call(url, "t", "insert_result_i32_string", {"ok": 5}) == 200
    assert _call(url, "t", "insert_result_i32_string", {"err": "no"}) == 200
    assert _rows(url, "t", "SELECT * FROM result_i_32_string") == [[[0, 5]], [[1, "no"]]]
    assert _call(url, "t", "update_pk_simple_enum", {"one": []}, 3) == 530  # row not found
    assert _call(url, "t", "sorted_uuids_insert") == 200
    assert _rows(url, "t", "SELECT COUNT(*) AS n FROM pk_uuid") == [[1000]]
    assert _call(url, "p", "insert_with_tx_rollback") == 200
    assert _rows(url, "p", "SELECT * FROM my_table") == []
    assert _call(url, "p", "insert_with_tx_commit") == 200
    assert _rows(url, "p", "SELECT * FROM my_table") == [[[42, "magic"]]]
