"""The normalised ModuleSchema: canonicalisation, re-export and validation (docs/module-def.md)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
from typing import Any

import pytest

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    IDENTITY,
    SCHEDULE_AT,
    STRING,
    TIMESTAMP,
    U8,
    U32,
    U64,
    UNIT,
    ArrayType,
    ProductType,
    RefType,
    Typespace,
    array,
    option,
    product_of,
    sum_of,
)
from spacetimedb_sdk.errors import ModuleDefError, SpacetimeDBError
from spacetimedb_sdk.raw_module_def import (
    CaseConversionPolicy,
    CaseConversionPolicySection,
    ExplicitFunctionName,
    ExplicitIndexName,
    ExplicitNames,
    ExplicitNamesSection,
    ExplicitTableName,
    FunctionVisibility,
    Lifecycle,
    LifeCycleReducersSection,
    ProceduresSection,
    RawColumnDefaultValueV10,
    RawConstraintDefV10,
    RawIndexAlgorithmBTree,
    RawIndexAlgorithmDirect,
    RawIndexAlgorithmHash,
    RawIndexDefV10,
    RawLifeCycleReducerDefV10,
    RawModuleDefV9,
    RawModuleDefV10,
    RawModuleDefV10Section,
    RawProcedureDefV10,
    RawReducerDefV10,
    RawScheduleDefV10,
    RawScopedTypeNameV10,
    RawSequenceDefV10,
    RawTableDefV10,
    RawTypeDefV10,
    RawUniqueConstraintDataV9,
    RawViewDefV10,
    ReducersSection,
    SchedulesSection,
    TableAccess,
    TablesSection,
    TableType,
    TypespaceSection,
    TypesSection,
    ViewsSection,
    decode_raw_module_def,
    encode_raw_module_def,
    raw_module_def_from_json,
    raw_module_def_to_json,
)
from spacetimedb_sdk.schema import (
    ColumnSchema,
    IndexSchema,
    ModuleSchema,
    ModuleValidationError,
    ScheduleSchema,
    ScopedTypeName,
    SequenceSchema,
    UniqueConstraintSchema,
    is_valid_identifier,
)
from tests.conftest import FIXTURES, load_fixture
from tests.test_raw_module_def import SPEC_1_5_HEX

MODULE_DEFS = FIXTURES / "module_defs"
NAMES = sorted(
    p.name.removesuffix(".moduledef.bsatn") for p in MODULE_DEFS.glob("*.moduledef.bsatn")
)


def fixture_schema(name: str) -> ModuleSchema:
    return ModuleSchema.from_bytes((MODULE_DEFS / f"{name}.moduledef.bsatn").read_bytes())


def fixture_json(name: str) -> Any:
    return load_fixture("module_defs", f"{name}.moduledef.json")


# ------------------------------------------------------------------------------- all fixtures


@pytest.mark.parametrize("name", NAMES)
def test_bsatn_and_json_give_equal_schemas(name: str) -> None:
    obj = fixture_json(name)
    from_bytes = fixture_schema(name)
    from_json = ModuleSchema.from_json(obj)
    assert from_bytes == from_json
    assert ModuleSchema.from_json(json.dumps(obj)) == from_bytes
    # A bare body carrying a policy section is a module's own output, not endpoint output.
    assert ModuleSchema.from_json(obj["V10"]) == from_bytes
    assert ModuleSchema.from_json(obj["V10"], canonical=False) == from_bytes
    assert from_bytes.raw_version == 10


@pytest.mark.parametrize("name", NAMES)
def test_reexport_is_a_fixed_point(name: str) -> None:
    schema = fixture_schema(name)
    v10 = schema.to_raw_v10()
    v9 = schema.to_raw_v9()
    # What the endpoint serves re-validates to the same output, read either way.
    endpoint_body = json.loads(json.dumps(raw_module_def_to_json(v10, wrapped=False)))
    assert ModuleSchema.from_json(endpoint_body).to_raw_v10() == v10
    assert ModuleSchema.from_raw(v10).to_raw_v10() == v10
    assert ModuleSchema.from_raw(v9).to_raw_v9() == v9
    # And both re-exports survive BSATN.
    assert decode_raw_module_def(encode_raw_module_def(v10)) == v10
    assert decode_raw_module_def(encode_raw_module_def(v9)) == v9
    # Canonical names survive the endpoint round trip.
    again = ModuleSchema.from_json(endpoint_body)
    assert sorted(t.name for t in again.tables) == sorted(t.name for t in schema.tables)
    assert [r.name for r in again.reducers] == [r.name for r in schema.reducers]
    assert [r.accessor_name for r in again.reducers] == [r.accessor_name for r in schema.reducers]
    assert [t.accessor_name for t in sorted(again.tables, key=lambda t: t.name)] == [
        t.accessor_name for t in sorted(schema.tables, key=lambda t: t.name)
    ]


@pytest.mark.parametrize("name", NAMES)
def test_v10_output_shape(name: str) -> None:
    schema = fixture_schema(name)
    sections = [type(s).__name__ for s in schema.to_raw_v10().sections]
    order = [
        "TypespaceSection", "TypesSection", "TablesSection", "ReducersSection", "ProceduresSection",
        "HttpHandlersSection", "HttpRoutesSection", "ViewsSection", "ViewPrimaryKeysSection",
        "SchedulesSection", "LifeCycleReducersSection", "RowLevelSecuritySection",
        "ExplicitNamesSection", "SubmodulesSection",
    ]  # fmt: skip
    assert sections == sorted(sections, key=order.index)
    assert sections[0] == "TypespaceSection" and "ExplicitNamesSection" in sections
    assert "CaseConversionPolicySection" not in sections


# --------------------------------------------------------------------------------- chat module


def test_chat_schema() -> None:
    schema = fixture_schema("chat-react-ts")
    assert [t.name for t in schema.tables] == ["user", "message"]
    user = schema.table("user")
    assert user.columns == (
        ColumnSchema("identity", "identity", IDENTITY, 0),
        ColumnSchema("name", "name", option(STRING), 1),
        ColumnSchema("online", "online", BOOL, 2),
    )
    assert user.primary_key == 0
    assert user.primary_key_column is not None and user.primary_key_column.name == "identity"
    assert user.indexes == (
        IndexSchema(
            "user_identity_idx_btree", "user_identity_idx_btree", "identity", "btree", (0,)
        ),
    )
    assert user.constraints == (UniqueConstraintSchema("user_identity_key", (0,)),)
    assert user.is_public and not user.is_event and user.schedule is None
    message = schema.table("message")
    assert [(c.name, c.algebraic_type) for c in message.columns] == [
        ("sender", IDENTITY),
        ("sent", TIMESTAMP),
        ("text", STRING),
    ]
    assert message.primary_key is None and message.indexes == () and message.constraints == ()

    assert [(r.name, r.accessor_name) for r in schema.reducers] == [
        ("init", "init"),
        ("on_connect", "onConnect"),
        ("on_disconnect", "onDisconnect"),
        ("send_message", "send_message"),
        ("set_name", "set_name"),
    ]
    assert [r.reducer_id for r in schema.reducers] == [0, 1, 2, 3, 4]
    assert {lc: r.name for lc, r in schema.lifecycle_reducers.items()} == {
        Lifecycle.INIT: "init",
        Lifecycle.ON_CONNECT: "on_connect",
        Lifecycle.ON_DISCONNECT: "on_disconnect",
    }
    # Lifecycle reducers become private whatever the module said (the TS module said ClientCallable).
    assert [r.name for r in schema.reducers if r.is_client_callable] == ["send_message", "set_name"]
    set_name = schema.reducer("set_name")
    assert [(p.name, p.canonical_name, p.algebraic_type) for p in set_name.params] == [
        ("name", "name", STRING)
    ]
    assert set_name.params_type == product_of([("name", STRING)])
    assert schema.reducer("onConnect") is schema.reducer("on_connect")
    assert schema.table("user").row_type == schema.typespace[0]
    assert schema.type("User").ref == 0
    assert schema.type_for_ref(1) is not None and str(schema.type_for_ref(1).name) == "Message"  # type: ignore[union-attr]


def test_lookups() -> None:
    schema = fixture_schema("module-test-ts")
    assert schema.table("loggedOutPlayer") is schema.table("logged_out_player")
    assert schema.find_table("nope") is None
    with pytest.raises(KeyError):
        schema.table("nope")
    with pytest.raises(KeyError):
        schema.reducer("nope")
    assert schema.view("myPlayer") is schema.view("my_player")
    assert schema.procedure("getMySchemaViaHttp").name == "get_my_schema_via_http"
    assert schema.find_procedure("nope") is None and schema.find_view("nope") is None
    assert schema.type("Namespace.TestC").name == ScopedTypeName(("Namespace",), "TestC")
    assert schema.type(ScopedTypeName(("Namespace",), "TestC")).source_name.scope == ("Namespace",)
    player = schema.table("player")
    assert player.column("player_id") is player.column("player_id")
    assert player.index("player_id").name == "player_player_id_idx_btree"
    with pytest.raises(KeyError):
        player.column("nope")


# ---------------------------------------------------------------------------- case conversion


def test_case_conversion_fixture_names() -> None:
    # Every canonical name below is what the official generated bindings for this module use.
    schema = fixture_schema("sdk-test-case-conversion-ts")
    player = schema.table("Player1")
    assert player.name == "Player1Canonical"  # explicit name, used verbatim
    assert player.accessor_name == "Player1"
    assert [(c.name, c.accessor_name) for c in player.columns] == [
        ("player_1_id", "Player1Id"),
        ("player_name", "player_name"),
        ("current_level_2", "currentLevel2"),
        ("status_3_field", "status3Field"),
    ]
    assert player.indexes == (
        IndexSchema(
            "Player1Canonical_player_1_id_idx_btree",
            "Player1_Player1Id_idx_btree",
            "Player1Id",
            "btree",
            (0,),
        ),
    )
    assert player.constraints == (UniqueConstraintSchema("Player1Canonical_player_1_id_key", (0,)),)
    assert player.sequences == (
        SequenceSchema("Player1Canonical_player_1_id_seq", 0, None, None, None, 1),
    )

    person = schema.table("Person2")
    assert person.name == "person_2"  # convert("Person2"): digit boundary
    assert [ix.name for ix in person.indexes] == [
        "person_2_person_2_id_idx_btree",
        "person_2_player_ref_idx_btree",
    ]
    assert [ix.accessor_name for ix in person.indexes] == [
        "Person2Id",
        "playerRef",
    ]  # never converted
    assert person.constraints[0].name == "person_2_person_2_id_key"

    assert [r.name for r in schema.reducers] == ["add_person_2", "banPlayer1", "create_player_1"]
    ban = schema.reducer("BanPlayer1")
    assert ban.name == "banPlayer1"  # explicit function name
    assert [(p.name, p.canonical_name) for p in ban.params] == [
        ("Player1Id", "player_1_id"),
        ("BanUntil6", "ban_until_6"),
    ]

    view = schema.view("PersonAtLevel2")
    assert view.name == "Level2Person"
    assert view.return_shape == "array" and view.primary_key == 0
    assert view.columns[0] == person.columns[0]

    # Typespace: columns snake_case, variants camelCase; the accessor copy is untouched.
    status = schema.type("Player2Status")
    assert [v.name for v in status.algebraic_type.variants] == ["active1", "bannedUntil"]  # type: ignore[attr-defined]
    assert [v.name for v in status.source_algebraic_type.variants] == ["Active1", "BannedUntil"]  # type: ignore[attr-defined]
    assert schema.accessor_typespace[0] != schema.typespace[0]

    v10 = raw_module_def_to_json(schema.to_raw_v10(), wrapped=False)
    sections = {next(iter(s)): next(iter(s.values())) for s in v10["sections"]}
    assert sections["ViewPrimaryKeys"] == [
        {"view_source_name": "PersonAtLevel2", "columns": ["person_2_id"]}
    ]
    assert sections["ExplicitNames"]["entries"] == [
        # Tables sorted by canonical name (byte order: upper case first).
        {"Table": {"source_name": "Player1", "canonical_name": "Player1Canonical"}},
        {"Table": {"source_name": "Person2", "canonical_name": "person_2"}},
        {"Function": {"source_name": "AddPerson2", "canonical_name": "add_person_2"}},
        {"Function": {"source_name": "BanPlayer1", "canonical_name": "banPlayer1"}},
        {"Function": {"source_name": "CreatePlayer1", "canonical_name": "create_player_1"}},
        {"Function": {"source_name": "PersonAtLevel2", "canonical_name": "Level2Person"}},
    ]


# ------------------------------------------------------------------------------ other fixtures


def test_module_test_schema() -> None:
    schema = fixture_schema("module-test-ts")
    test_a = schema.table("testATable")
    assert test_a.name == "test_a" and not test_a.is_public
    assert test_a.indexes[0] == IndexSchema(
        "test_a_x_idx_btree", "testATable_x_idx_btree", "foo", "btree", (0,)
    )
    points = schema.table("points")
    assert points.indexes[0].name == "points_x_y_idx_btree" and points.indexes[0].columns == (0, 1)
    assert schema.table("test_d").columns[0].default_value == b"\x00\x00"
    assert schema.table("test_d").default_values == {0: b"\x00\x00"}
    repeating = schema.table("repeatingTestArg")
    assert repeating.schedule == ScheduleSchema(
        "repeating_test_arg_sched", "repeating_test", "reducer", 1, 0
    )
    for name in ("repeating_test", "nonrepeating_test"):
        r = schema.reducer(name)
        assert r.is_scheduled and r.visibility is FunctionVisibility.PRIVATE
    assert schema.reducer("clientConnected").lifecycle is Lifecycle.ON_CONNECT
    assert not schema.reducer("clientConnected").is_client_callable
    assert schema.reducer("add").is_client_callable and not schema.reducer("add").is_scheduled
    my_player = schema.view("myPlayer")
    assert my_player.return_shape == "option" and my_player.is_procedural
    assert my_player.primary_key == 0 and my_player.columns[0].name == "identity"
    assert [h.name for h in schema.http_handlers] == ["get_simple", "lib_hello"]
    assert [(r.handler_name, r.path) for r in schema.http_routes] == [
        ("get_simple", "/get"),
        ("lib_hello", "/lib-hello"),
    ]
    assert [s.namespace for s in schema.submodules] == ["lib"]
    lib = schema.submodules[0].schema
    assert lib.table("libData").name == "libData"  # explicit name
    assert lib.reducer("libInsert").name == "lib_insert"
    assert lib.procedure("libCount").name == "lib_count"
    types = [str(t.name) for t in schema.types]
    assert "Namespace.TestC" in types and "Namespace.TestF" in types
    assert schema.type("Namespace.TestC").is_plain_enum and not schema.type("Foobar").is_plain_enum
    # V9 drops submodules, HTTP handlers and accessors.
    v9 = schema.to_raw_v9()
    assert "lib_data" not in [t.name for t in v9.tables] and "libData" not in [
        t.name for t in v9.tables
    ]
    assert [t.name for t in v9.tables] == sorted(t.name for t in schema.tables)
    v9_json = raw_module_def_to_json(v9, wrapped=False)
    defaults = [m for m in v9_json["misc_exports"] if "ColumnDefaultValue" in m]
    assert defaults == [{"ColumnDefaultValue": {"table": "test_d", "col_id": 0, "value": "0000"}}]
    kinds = [next(iter(m)) for m in v9_json["misc_exports"]]
    assert kinds == ["ColumnDefaultValue", "Procedure", "Procedure", "View"]
    sched = next(t for t in v9_json["tables"] if t["name"] == "repeating_test_arg")["schedule"]
    assert sched == {
        "some": {
            "name": {"some": "repeating_test_arg_sched"},
            "reducer_name": "repeating_test",
            "scheduled_at_column": 1,
        }
    }


def test_view_pk_schema() -> None:
    schema = fixture_schema("sdk-test-view-pk-ts")
    for view in schema.views:
        assert view.return_shape == "array"
        assert view.primary_key == 0 and view.columns[0].name == "id"
    keys = schema.to_raw_v10().view_primary_keys
    assert [(k.view_source_name, k.columns) for k in keys] == [
        ("all_view_pk_players", ("id",)),
        ("sender_view_pk_players_a", ("id",)),
        ("sender_view_pk_players_b", ("id",)),
    ]


def test_procedure_schema() -> None:
    schema = fixture_schema("sdk-test-procedure-ts")
    table = schema.table("scheduledProcTable")
    assert table.name == "scheduled_proc_table"
    assert table.schedule == ScheduleSchema(
        "scheduled_proc_table_sched", "scheduled_proc", "procedure", 1, 0
    )
    scheduled = schema.procedure("scheduled_proc")
    assert scheduled.is_scheduled and scheduled.visibility is FunctionVisibility.PRIVATE
    assert schema.procedure("return_struct").return_type == RefType(1)
    assert schema.procedure("return_enum_a").is_client_callable
    assert schema.type("ReturnEnum").algebraic_type == sum_of([("a", U32), ("b", STRING)])
    sections = {
        next(iter(s)): next(iter(s.values()))
        for s in raw_module_def_to_json(schema.to_raw_v10(), wrapped=False)["sections"]
    }
    assert sections["Schedules"] == [
        {
            "source_name": {"some": "scheduled_proc_table_sched"},
            "table_name": "scheduled_proc_table",
            "schedule_at_col": 1,
            "function_name": "scheduled_proc",
        }
    ]


def test_sdk_test_rls_and_counts() -> None:
    schema = fixture_schema("sdk-test-ts")
    assert len(schema.tables) == 109 and len(schema.reducers) == 198
    assert schema.row_level_security == (
        "SELECT * FROM one_u_8",
        "SELECT * FROM users WHERE identity = :sender",
    )
    assert schema.table("oneU8").name == "one_u_8"
    assert schema.table("scheduledTable").schedule is not None


# -------------------------------------------------------- the docs/module-def.md#test-vector module

SPEC_3_3_V10 = """
{
  "sections": [
    {"Typespace": {"types": [
      {"Product": {"elements": [
        {"name": {"some": "id"}, "algebraic_type": {"U64": []}},
        {"name": {"some": "owner"}, "algebraic_type": {"Product": {"elements": [
          {"name": {"some": "__identity__"}, "algebraic_type": {"U256": []}}]}}},
        {"name": {"some": "nick_name"}, "algebraic_type": {"Sum": {"variants": [
          {"name": {"some": "some"}, "algebraic_type": {"String": []}},
          {"name": {"some": "none"}, "algebraic_type": {"Product": {"elements": []}}}]}}},
        {"name": {"some": "created_at"}, "algebraic_type": {"Product": {"elements": [
          {"name": {"some": "__timestamp_micros_since_unix_epoch__"}, "algebraic_type": {"I64": []}}]}}},
        {"name": {"some": "player_2"}, "algebraic_type": {"U32": []}}]}},
      {"Product": {"elements": []}},
      {"Product": {"elements": [
        {"name": {"some": "nick_name"}, "algebraic_type": {"Sum": {"variants": [
          {"name": {"some": "some"}, "algebraic_type": {"String": []}},
          {"name": {"some": "none"}, "algebraic_type": {"Product": {"elements": []}}}]}}}]}}
    ]}},
    {"Types": [
      {"source_name": {"scope": [], "source_name": "UserProfile"}, "ty": 0, "custom_ordering": true},
      {"source_name": {"scope": [], "source_name": "Init"}, "ty": 1, "custom_ordering": true},
      {"source_name": {"scope": [], "source_name": "SetNickname"}, "ty": 2, "custom_ordering": true}
    ]},
    {"Tables": [
      {"source_name": "userProfile",
       "product_type_ref": 0,
       "primary_key": [0],
       "indexes": [
         {"source_name": {"some": "userProfile_id_idx_btree"}, "accessor_name": {"some": "id"}, "algorithm": {"BTree": [0]}},
         {"source_name": {"some": "userProfile_player2_idx_btree"}, "accessor_name": {"some": "player2"}, "algorithm": {"BTree": [4]}}
       ],
       "constraints": [
         {"source_name": {"some": "user_profile_id_key"}, "data": {"Unique": {"columns": [0]}}},
         {"source_name": {"some": "user_profile_player_2_key"}, "data": {"Unique": {"columns": [4]}}}
       ],
       "sequences": [
         {"source_name": {"some": "user_profile_id_seq"}, "column": 0,
          "start": {"none": []}, "min_value": {"none": []}, "max_value": {"none": []}, "increment": 1}
       ],
       "table_type": {"User": []},
       "table_access": {"Public": []},
       "default_values": [],
       "is_event": false}
    ]},
    {"Reducers": [
      {"source_name": "init", "params": {"elements": []}, "visibility": {"Private": []},
       "ok_return_type": {"Product": {"elements": []}}, "err_return_type": {"String": []}},
      {"source_name": "setNickname",
       "params": {"elements": [
         {"name": {"some": "nickName"}, "algebraic_type": {"Sum": {"variants": [
           {"name": {"some": "some"}, "algebraic_type": {"String": []}},
           {"name": {"some": "none"}, "algebraic_type": {"Product": {"elements": []}}}]}}}]},
       "visibility": {"ClientCallable": []},
       "ok_return_type": {"Product": {"elements": []}}, "err_return_type": {"String": []}}
    ]},
    {"LifeCycleReducers": [{"lifecycle_spec": {"Init": []}, "function_name": "init"}]},
    {"ExplicitNames": {"entries": [
      {"Table": {"source_name": "userProfile", "canonical_name": "user_profile"}},
      {"Function": {"source_name": "init", "canonical_name": "init"}},
      {"Function": {"source_name": "setNickname", "canonical_name": "set_nickname"}}
    ]}}
  ]
}
"""

SPEC_3_3_V9 = """
{
  "typespace": {"types": "<same three types as above>"},
  "tables": [
    {"name": "user_profile",
     "product_type_ref": 0,
     "primary_key": [0],
     "indexes": [
       {"name": {"some": "user_profile_id_idx_btree"}, "accessor_name": {"some": "id"}, "algorithm": {"BTree": [0]}},
       {"name": {"some": "user_profile_player_2_idx_btree"}, "accessor_name": {"some": "player2"}, "algorithm": {"BTree": [4]}}
     ],
     "constraints": [
       {"name": {"some": "user_profile_id_key"}, "data": {"Unique": {"columns": [0]}}},
       {"name": {"some": "user_profile_player_2_key"}, "data": {"Unique": {"columns": [4]}}}
     ],
     "sequences": [
       {"name": {"some": "user_profile_id_seq"}, "column": 0,
        "start": {"none": []}, "min_value": {"none": []}, "max_value": {"none": []}, "increment": 1}
     ],
     "schedule": {"none": []},
     "table_type": {"User": []},
     "table_access": {"Public": []}}
  ],
  "reducers": [
    {"name": "init", "params": {"elements": []}, "lifecycle": {"some": {"Init": []}}},
    {"name": "set_nickname",
     "params": {"elements": [{"name": {"some": "nickName"}, "algebraic_type": {"Sum": {"variants": [
       {"name": {"some": "some"}, "algebraic_type": {"String": []}},
       {"name": {"some": "none"}, "algebraic_type": {"Product": {"elements": []}}}]}}}]},
     "lifecycle": {"none": []}}
  ],
  "types": [
    {"name": {"scope": [], "name": "Init"}, "ty": 1, "custom_ordering": true},
    {"name": {"scope": [], "name": "SetNickname"}, "ty": 2, "custom_ordering": true},
    {"name": {"scope": [], "name": "UserProfile"}, "ty": 0, "custom_ordering": true}
  ],
  "misc_exports": [],
  "row_level_security": []
}
"""

# Lists the server emits in hash-map order (docs/module-def.md#canonical-re-export): compared as sets.
HASH_ORDERED = {"Types", "Tables", "indexes", "constraints", "sequences", "types", "tables"}


def _normalise(node: Any, key: str | None = None) -> Any:
    if isinstance(node, dict):
        return {k: _normalise(v, k) for k, v in node.items()}
    if isinstance(node, list):
        items = [_normalise(v) for v in node]
        if key in HASH_ORDERED:
            items.sort(key=lambda v: json.dumps(v, sort_keys=True))
        return items
    return node


def _spec_schema() -> ModuleSchema:
    return ModuleSchema.from_bytes(bytes.fromhex(SPEC_1_5_HEX))


def test_spec_example_v10_output() -> None:
    schema = _spec_schema()
    expected = json.loads(SPEC_3_3_V10)
    actual = raw_module_def_to_json(schema.to_raw_v10(), wrapped=False)
    assert _normalise(actual) == _normalise(expected)
    # Section order and the non-hash-ordered lists match exactly.
    assert [next(iter(s)) for s in actual["sections"]] == [
        next(iter(s)) for s in expected["sections"]
    ]
    assert actual["sections"][3] == expected["sections"][3]
    assert actual["sections"][5] == expected["sections"][5]


def test_spec_example_v9_output() -> None:
    schema = _spec_schema()
    expected = json.loads(SPEC_3_3_V9)
    expected["typespace"] = json.loads(SPEC_3_3_V10)["sections"][0]["Typespace"]
    actual = raw_module_def_to_json(schema.to_raw_v9(), wrapped=False)
    assert _normalise(actual) == _normalise(expected)
    assert actual["types"] == expected["types"]  # sorted by scoped name, exactly
    assert actual["reducers"] == expected["reducers"]


def test_spec_example_schema_model() -> None:
    schema = _spec_schema()
    table = schema.table("userProfile")
    assert table.name == "user_profile"
    assert [(c.name, c.accessor_name) for c in table.columns] == [
        ("id", "id"),
        ("owner", "owner"),
        ("nick_name", "nickName"),
        ("created_at", "createdAt"),
        ("player_2", "player2"),
    ]
    assert table.sequences == (SequenceSchema("user_profile_id_seq", 0, None, None, None, 1),)
    set_nickname = schema.reducer("setNickname")
    assert set_nickname.name == "set_nickname"
    assert [(p.name, p.canonical_name) for p in set_nickname.params] == [("nickName", "nick_name")]
    assert set_nickname.params_type.elements[0].name == "nickName"  # kept verbatim
    assert schema.reducer("init").visibility is FunctionVisibility.PRIVATE
    # Read back from the endpoint body, the canonical names are unchanged.
    again = ModuleSchema.from_json(SPEC_3_3_V10)
    assert again.table("userProfile").name == "user_profile"
    assert [c.name for c in again.table("user_profile").columns] == [c.name for c in table.columns]
    assert again.to_raw_v10() == schema.to_raw_v10()
    v9 = ModuleSchema.from_raw(schema.to_raw_v9())
    assert v9.raw_version == 9
    assert v9.table("user_profile").accessor_name == "user_profile"
    assert v9.reducer("init").lifecycle is Lifecycle.INIT
    assert (
        v9.reducer("init").visibility is FunctionVisibility.CLIENT_CALLABLE
    )  # V9 has no visibility


# ------------------------------------------------------------------------------- hand-built defs


ROW = product_of([("id", U64), ("playerName", STRING), ("kind", RefType(1))])
KIND = sum_of([("Red", UNIT), ("GreenLight", UNIT)])


def _table(**changes: Any) -> RawTableDefV10:
    base = RawTableDefV10(
        source_name="gamePlayer",
        product_type_ref=0,
        primary_key=(0,),
        indexes=(RawIndexDefV10("gamePlayer_id_idx_btree", "id", RawIndexAlgorithmBTree((0,))),),
        constraints=(RawConstraintDefV10(None, RawUniqueConstraintDataV9((0,))),),
        sequences=(),
        table_type=TableType.USER,
        table_access=TableAccess.PUBLIC,
        default_values=(),
        is_event=False,
    )
    return dataclasses.replace(base, **changes)


def _module(
    *extra: RawModuleDefV10Section, table: RawTableDefV10 | None = None, **sections: Any
) -> RawModuleDefV10:
    out: list[RawModuleDefV10Section] = [
        sections.get("typespace", TypespaceSection(Typespace((ROW, KIND)))),
        sections.get(
            "types",
            TypesSection(
                (
                    RawTypeDefV10(RawScopedTypeNameV10((), "gamePlayer"), 0, True),
                    RawTypeDefV10(RawScopedTypeNameV10(("my_mod",), "kind"), 1, True),
                )
            ),
        ),
        TablesSection((table or _table(),)),
        sections.get(
            "reducers",
            ReducersSection(
                (
                    RawReducerDefV10(
                        "doThing",
                        product_of([("someArg", U8)]),
                        FunctionVisibility.CLIENT_CALLABLE,
                        UNIT,
                        STRING,
                    ),
                )
            ),
        ),
    ]
    out.extend(extra)
    return RawModuleDefV10(tuple(out))


def test_hand_built_canonicalisation() -> None:
    schema = ModuleSchema.from_raw(_module())
    table = schema.table("gamePlayer")
    assert table.name == "game_player"
    assert [c.name for c in table.columns] == ["id", "player_name", "kind"]
    assert schema.typespace[1] == sum_of([("red", UNIT), ("greenLight", UNIT)])
    assert str(schema.type("gamePlayer").name) == "GamePlayer"
    assert schema.type("my_mod.kind").name == ScopedTypeName(("MyMod",), "Kind")
    assert schema.type("MyMod.Kind").is_plain_enum
    assert schema.reducer("doThing").name == "do_thing"
    assert schema.reducer("doThing").params[0].canonical_name == "some_arg"


def test_policy_none_keeps_names() -> None:
    schema = ModuleSchema.from_raw(_module(CaseConversionPolicySection(CaseConversionPolicy.NONE)))
    assert schema.case_conversion_policy is CaseConversionPolicy.NONE
    assert schema.table("gamePlayer").name == "gamePlayer"
    assert [c.name for c in schema.table("gamePlayer").columns] == ["id", "playerName", "kind"]
    assert schema.typespace == schema.accessor_typespace
    assert str(schema.type("my_mod.kind").name) == "my_mod.kind"
    assert schema.reducer("doThing").name == "doThing"
    assert schema.table("gamePlayer").indexes[0].name == "gamePlayer_id_idx_btree"


def test_explicit_index_names_and_algorithms() -> None:
    table = _table(
        indexes=(
            RawIndexDefV10("gamePlayer_id_idx_btree", "id", RawIndexAlgorithmBTree((0,))),
            RawIndexDefV10("byName", "by_name", RawIndexAlgorithmHash((1,))),
            RawIndexDefV10("gamePlayer_kind_idx_direct", None, RawIndexAlgorithmDirect(2)),
        ),
        sequences=(RawSequenceDefV10("my_seq", 0, 5, 1, 100, 1),),
        default_values=(RawColumnDefaultValueV10(1, b"\x00\x00\x00\x00"),),
        is_event=True,
    )
    names = ExplicitNamesSection(ExplicitNames((ExplicitIndexName("byName", "players_by_name"),)))
    schema = ModuleSchema.from_raw(_module(names, table=table))
    t = schema.table("game_player")
    assert [(ix.name, ix.algorithm, ix.accessor_name) for ix in t.indexes] == [
        ("game_player_id_idx_btree", "btree", "id"),
        ("players_by_name", "hash", "by_name"),
        ("game_player_kind_idx_direct", "direct", None),
    ]
    assert t.sequences == (SequenceSchema("my_seq", 0, 5, 1, 100, 1),)  # raw name kept verbatim
    assert t.columns[1].default_value == b"\x00\x00\x00\x00" and t.is_event
    raw_table = schema.to_raw_v10().tables[0]
    # Sorted by canonical name, emitted with the module's source names.
    assert [ix.source_name for ix in raw_table.indexes] == [
        "gamePlayer_id_idx_btree",
        "gamePlayer_kind_idx_direct",
        "byName",
    ]
    assert raw_table.default_values == (RawColumnDefaultValueV10(1, b"\x00\x00\x00\x00"),)
    assert raw_table.is_event
    assert ModuleSchema.from_raw(schema.to_raw_v10()).to_raw_v10() == schema.to_raw_v10()


def test_schedules_and_lifecycle() -> None:
    row = product_of([("scheduled_id", U64), ("scheduled_at", SCHEDULE_AT)])
    ts = TypespaceSection(Typespace((row, KIND)))
    table = _table(source_name="tickTimer")
    reducers = ReducersSection(
        (
            RawReducerDefV10(
                "onTick",
                product_of([("arg", RefType(0))]),
                FunctionVisibility.CLIENT_CALLABLE,
                UNIT,
                STRING,
            ),
            RawReducerDefV10("setup", UNIT, FunctionVisibility.CLIENT_CALLABLE, UNIT, STRING),
        )
    )
    raw = _module(
        SchedulesSection((RawScheduleDefV10(None, "tickTimer", 1, "onTick"),)),
        LifeCycleReducersSection((RawLifeCycleReducerDefV10(Lifecycle.INIT, "setup"),)),
        typespace=ts,
        table=table,
        reducers=reducers,
        types=TypesSection((RawTypeDefV10(RawScopedTypeNameV10((), "TickTimer"), 0, True),)),
    )
    schema = ModuleSchema.from_raw(raw)
    assert schema.table("tick_timer").schedule == ScheduleSchema(
        "tick_timer_sched", "on_tick", "reducer", 1, 0
    )
    assert schema.reducer("on_tick").is_scheduled
    assert not schema.reducer("on_tick").is_client_callable
    assert schema.reducer("setup").lifecycle is Lifecycle.INIT
    assert not schema.reducer("setup").is_client_callable
    v9 = schema.to_raw_v9()
    assert v9.tables[0].schedule is not None and v9.tables[0].schedule.reducer_name == "on_tick"


def _invalid(raw: RawModuleDefV10 | RawModuleDefV9, fragment: str) -> None:
    with pytest.raises(ModuleValidationError) as info:
        ModuleSchema.from_raw(raw)
    assert any(fragment in e for e in info.value.errors), info.value.errors
    assert isinstance(info.value, ModuleDefError)


def test_validation_errors() -> None:
    _invalid(_module(table=_table(product_type_ref=1)), "does not point at a product")
    _invalid(_module(table=_table(product_type_ref=9)), "does not point at a product")
    _invalid(_module(table=_table(constraints=())), "primary key column 0 has no unique constraint")
    _invalid(_module(table=_table(primary_key=(0, 1))), "only one column")
    _invalid(_module(table=_table(indexes=())), "not backed by an index")
    _invalid(
        _module(table=_table(indexes=(RawIndexDefV10("x", "x", RawIndexAlgorithmBTree((7,))),))),
        "missing column",
    )
    _invalid(
        _module(table=_table(indexes=(RawIndexDefV10("x", "x", RawIndexAlgorithmBTree((0, 0))),))),
        "repeats a column",
    )
    _invalid(
        _module(
            table=_table(
                indexes=(
                    RawIndexDefV10("gamePlayer_id_idx_btree", "id", RawIndexAlgorithmBTree((0,))),
                    RawIndexDefV10("d", None, RawIndexAlgorithmDirect(1)),
                )
            )
        ),
        "direct index",
    )
    _invalid(
        _module(table=_table(indexes=(RawIndexDefV10(None, "x", RawIndexAlgorithmBTree((0,))),))),
        "no source_name",
    )
    _invalid(
        _module(table=_table(sequences=(RawSequenceDefV10(None, 1, None, None, None, 1),))),
        "non-integer",
    )
    _invalid(
        _module(table=_table(sequences=(RawSequenceDefV10(None, 0, 10, 20, None, 1),))),
        "min/start/max",
    )
    _invalid(
        _module(table=_table(default_values=(RawColumnDefaultValueV10(1, b"\x01"),))), "malformed"
    )
    _invalid(_module(table=_table(source_name="st_thing")), "reserved")
    _invalid(_module(table=_table(source_name="bad name")), "not a valid identifier")
    _invalid(
        _module(
            ExplicitNamesSection(
                ExplicitNames((ExplicitTableName("gamePlayer", "gamePlayer_id_idx_btree"),))
            )
        ),
        "duplicate name",
    )
    bad_reducer = RawReducerDefV10("r", UNIT, FunctionVisibility.CLIENT_CALLABLE, U32, STRING)
    _invalid(_module(reducers=ReducersSection((bad_reducer,))), "Result<(), String>")
    twice = RawReducerDefV10("r", UNIT, FunctionVisibility.CLIENT_CALLABLE, UNIT, STRING)
    _invalid(_module(reducers=ReducersSection((twice, twice))), "duplicate function name")
    _invalid(
        _module(
            ProceduresSection(
                (RawProcedureDefV10("doThing", UNIT, UNIT, FunctionVisibility.CLIENT_CALLABLE),)
            )
        ),
        "duplicate function name",
    )
    nameless = RawReducerDefV10("r", ProductType((dataclasses.replace(product_of([("x", U8)]).elements[0], name=None),)), FunctionVisibility.CLIENT_CALLABLE, UNIT, STRING)  # fmt: skip
    _invalid(_module(reducers=ReducersSection((nameless,))), "has no name")
    anonymous = RawReducerDefV10("r", product_of([("x", product_of([("a", U8)]))]), FunctionVisibility.CLIENT_CALLABLE, UNIT, STRING)  # fmt: skip
    _invalid(_module(reducers=ReducersSection((anonymous,))), "must be a Ref")
    _invalid(
        _module(LifeCycleReducersSection((RawLifeCycleReducerDefV10(Lifecycle.INIT, "nope"),))),
        "missing reducer",
    )
    _invalid(
        _module(
            LifeCycleReducersSection(
                (
                    RawLifeCycleReducerDefV10(Lifecycle.INIT, "doThing"),
                    RawLifeCycleReducerDefV10(Lifecycle.ON_CONNECT, "doThing"),
                )
            )
        ),
        "more than one lifecycle",
    )
    _invalid(
        _module(SchedulesSection((RawScheduleDefV10(None, "gamePlayer", 1, "doThing"),))),
        "ScheduleAt",
    )
    _invalid(
        _module(SchedulesSection((RawScheduleDefV10(None, "nope", 1, "doThing"),))), "missing table"
    )
    duplicate_types = TypesSection(
        (
            RawTypeDefV10(RawScopedTypeNameV10((), "gamePlayer"), 0, True),
            RawTypeDefV10(RawScopedTypeNameV10((), "GamePlayer"), 1, True),
        )
    )
    _invalid(_module(types=duplicate_types), "duplicate type name")
    unordered = TypesSection((RawTypeDefV10(RawScopedTypeNameV10((), "T"), 0, False),))
    _invalid(_module(types=unordered), "default (sorted) order")
    _invalid(
        _module(types=TypesSection((RawTypeDefV10(RawScopedTypeNameV10((), "T"), 5, True),))),
        "outside",
    )
    bad_view = RawViewDefV10("v", 0, True, False, UNIT, STRING)
    _invalid(_module(ViewsSection((bad_view,))), "Option<T>, Vec<T> or a query")
    self_ref = TypespaceSection(
        Typespace(
            (
                product_of([("id", U64), ("playerName", STRING), ("kind", RefType(2))]),
                KIND,
                RefType(2),
            )
        )
    )
    _invalid(_module(typespace=self_ref, types=TypesSection(())), "recursive type reference")


def test_query_view_infers_primary_key() -> None:
    view = RawViewDefV10("gameView", 0, True, False, UNIT, product_of([("__query__", RefType(0))]))
    schema = ModuleSchema.from_raw(_module(ViewsSection((view,))))
    v = schema.view("game_view")
    assert v.return_shape == "query" and not v.is_procedural
    assert v.primary_key == 0
    # Query views' keys are re-inferred, never emitted.
    assert "ViewPrimaryKeysSection" not in [type(s).__name__ for s in schema.to_raw_v10().sections]
    arr = RawViewDefV10("gameList", 1, True, True, UNIT, ArrayType(RefType(0)))
    schema = ModuleSchema.from_raw(_module(ViewsSection((arr,))))
    assert schema.view("gameList").primary_key is None and schema.view("gameList").is_anonymous


def test_v9_input_is_canonical() -> None:
    schema = ModuleSchema.from_raw(ModuleSchema.from_raw(_module()).to_raw_v9())
    assert schema.raw_version == 9
    assert schema.case_conversion_policy is CaseConversionPolicy.NONE
    table = schema.table("game_player")
    assert table.accessor_name == "game_player"
    assert [ix.name for ix in table.indexes] == ["game_player_id_idx_btree"]
    assert [ix.source_name for ix in table.indexes] == ["game_player_id_idx_btree"]
    assert schema.reducer("do_thing").accessor_name == "do_thing"
    assert schema.reducer("do_thing").params[0].canonical_name == "someArg"  # None policy: verbatim
    assert isinstance(schema.to_raw_v9(), RawModuleDefV9)


def test_is_valid_identifier() -> None:
    assert is_valid_identifier("_x1") and is_valid_identifier("café") and is_valid_identifier("имя")
    assert (
        not is_valid_identifier("")
        and not is_valid_identifier("1x")
        and not is_valid_identifier("a.b")
    )
    assert not is_valid_identifier("a-b") and not is_valid_identifier("cafe\u0301")  # not NFC


def test_from_json_errors() -> None:
    with pytest.raises(ModuleDefError):
        ModuleSchema.from_json("{")
    with pytest.raises(ModuleDefError):
        ModuleSchema.from_json({"nope": 1})
    with pytest.raises(ModuleDefError):
        ModuleSchema.from_raw("nope")  # type: ignore[arg-type]


def test_mutated_bytes_raise_only_sdk_errors() -> None:
    rng = random.Random(99)
    for name in ("module-test-ts", "sdk-test-case-conversion-ts", "sdk-test-procedure-ts"):
        data = (MODULE_DEFS / f"{name}.moduledef.bsatn").read_bytes()
        for _ in range(400):
            mutated = bytearray(data)
            if rng.random() < 0.3:
                mutated = mutated[: rng.randrange(len(mutated))]
            else:
                for _ in range(rng.randint(1, 3)):
                    mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            with contextlib.suppress(SpacetimeDBError):
                ModuleSchema.from_bytes(bytes(mutated))


def test_json_with_hand_made_sections_round_trips() -> None:
    raw = _module()
    body = raw_module_def_to_json(raw)
    assert raw_module_def_from_json(body) == raw
    assert ModuleSchema.from_json(body) == ModuleSchema.from_raw(raw)
    assert array(U8) == ArrayType(U8)
    assert TIMESTAMP != IDENTITY
    assert isinstance(ExplicitFunctionName("a", "b"), ExplicitFunctionName)


def test_endpoint_output_is_not_converted_twice() -> None:
    # Pascal("aX") == "AX" but Pascal("AX") == "Ax": re-converting endpoint output would rename.
    types = TypesSection(
        (
            RawTypeDefV10(RawScopedTypeNameV10((), "aX"), 0, True),
            RawTypeDefV10(RawScopedTypeNameV10((), "Kind"), 1, True),
        )
    )
    schema = ModuleSchema.from_raw(_module(types=types))
    assert [str(t.name) for t in schema.types] == ["AX", "Kind"]
    body = raw_module_def_to_json(schema.to_raw_v10(), wrapped=False)
    assert [str(t.name) for t in ModuleSchema.from_json(body).types] == ["AX", "Kind"]
    assert [str(t.name) for t in ModuleSchema.from_json(body, canonical=False).types] == [
        "Ax",
        "Kind",
    ]
    assert ModuleSchema.from_json(body).to_raw_v10() == schema.to_raw_v10()
