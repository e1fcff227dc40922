"""RawModuleDef decoding/encoding (BSATN and SATS-JSON) against the reference fixtures."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from spacetimedb_sdk.algebraic_type import (
    I64,
    IDENTITY,
    PRIMITIVES,
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
    SumType,
    Typespace,
    array,
    option,
    product_of,
    result,
    sum_of,
    type_to_json,
)
from spacetimedb_sdk.errors import BsatnDecodeError, ModuleDefError, SpacetimeDBError
from spacetimedb_sdk.raw_module_def import (
    ANY_METHOD,
    CaseConversionPolicy,
    CaseConversionPolicySection,
    ExplicitFunctionName,
    ExplicitIndexName,
    ExplicitNames,
    ExplicitNamesSection,
    ExplicitTableName,
    FunctionVisibility,
    HttpHandlersSection,
    HttpMethod,
    HttpMethodExtension,
    HttpRoutesSection,
    Lifecycle,
    LifeCycleReducersSection,
    ProceduresSection,
    RawColumnDefaultValueV9,
    RawColumnDefaultValueV10,
    RawConstraintDefV9,
    RawConstraintDefV10,
    RawHttpHandlerDefV10,
    RawHttpRouteDefV10,
    RawIndexAlgorithmBTree,
    RawIndexAlgorithmDirect,
    RawIndexAlgorithmHash,
    RawIndexDefV9,
    RawIndexDefV10,
    RawLifeCycleReducerDefV10,
    RawModuleDefV9,
    RawModuleDefV10,
    RawProcedureDefV9,
    RawProcedureDefV10,
    RawReducerDefV9,
    RawReducerDefV10,
    RawRowLevelSecurityDefV9,
    RawScheduleDefV9,
    RawScheduleDefV10,
    RawScopedTypeNameV9,
    RawScopedTypeNameV10,
    RawSequenceDefV9,
    RawSequenceDefV10,
    RawSubmoduleV10,
    RawTableDefV9,
    RawTableDefV10,
    RawTypeDefV9,
    RawTypeDefV10,
    RawUniqueConstraintDataV9,
    RawViewDefV9,
    RawViewDefV10,
    RawViewPrimaryKeyDefV10,
    ReducersSection,
    RowLevelSecuritySection,
    SchedulesSection,
    SubmodulesSection,
    TableAccess,
    TablesSection,
    TableType,
    TypespaceSection,
    TypesSection,
    ViewPrimaryKeysSection,
    ViewsSection,
    algebraic_type_codec,
    decode_raw_module_def,
    encode_raw_module_def,
    meta_typespace,
    raw_module_def_from_json,
    raw_module_def_to_json,
)
from tests.conftest import FIXTURES, load_fixture

MODULE_DEFS = FIXTURES / "module_defs"
INDEX: dict[str, Any] = load_fixture("module_defs", "index.json")
NAMES = sorted(
    p.name.removesuffix(".moduledef.bsatn") for p in MODULE_DEFS.glob("*.moduledef.bsatn")
)

# docs/module-def.md#test-vector: the official TS bindings' bytes for the `userProfile` module.
SPEC_1_5_HEX = (
    "020f00000000030000000205000000000200000069640d00050000006f776e65720201000000000c0000005f5f696465"
    "6e746974795f5f1100080000006e69636b4e616d6501020000000004000000736f6d650400040000006e6f6e65020000"
    "00000009000000637265617465644174020100000000250000005f5f74696d657374616d705f6d6963726f735f73696e"
    "63655f756e69785f65706f63685f5f0c0007000000706c61796572320b0200000000020100000000080000006e69636b"
    "4e616d6501020000000004000000736f6d650400040000006e6f6e6502000000000103000000000000000b0000005573"
    "657250726f66696c6500000000010000000004000000496e69740100000001000000000b0000005365744e69636b6e61"
    "6d65020000000102010000000b0000007573657250726f66696c65000000000100000000000200000000180000007573"
    "657250726f66696c655f69645f6964785f62747265650002000000696400010000000000001d0000007573657250726f"
    "66696c655f706c61796572325f6964785f62747265650007000000706c61796572320001000000040002000000010001"
    "000000000001000100000004000100000001000001010101000000000000000000000000000000010000000000000302"
    "00000004000000696e697400000000010200000000040b0000007365744e69636b6e616d650100000000080000006e69"
    "636b4e616d6501020000000004000000736f6d650400040000006e6f6e65020000000001020000000004040000000005"
    "000000000d00000000060000000007010000000004000000696e69740b000000000c0000000008000000000a00000000"
    "09010e00000000"
)


def fixture_bytes(name: str) -> bytes:
    return (MODULE_DEFS / f"{name}.moduledef.bsatn").read_bytes()


def fixture_json(name: str) -> Any:
    return load_fixture("module_defs", f"{name}.moduledef.json")


# ----------------------------------------------------------------------------------- fixtures


def test_every_indexed_module_has_files() -> None:
    indexed = sorted(m["name"] for m in INDEX["modules"])
    assert set(indexed) <= set(NAMES)
    assert "chat-react-ts" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_fixture_bsatn_and_json_agree(name: str) -> None:
    data = fixture_bytes(name)
    obj = fixture_json(name)
    from_bytes = decode_raw_module_def(data)
    from_json = raw_module_def_from_json(obj)
    assert isinstance(from_bytes, RawModuleDefV10)
    assert from_bytes == from_json
    assert hash(from_bytes) == hash(from_json)
    # Byte-exact and JSON-exact round trips.
    assert encode_raw_module_def(from_bytes) == data
    assert encode_raw_module_def(from_json) == data
    assert raw_module_def_to_json(from_bytes) == obj
    assert raw_module_def_to_json(from_bytes, wrapped=False) == obj["V10"]
    # The bare form (what the endpoint serves) reads the same, as object or as text.
    assert raw_module_def_from_json(obj["V10"]) == from_bytes
    assert raw_module_def_from_json(json.dumps(obj)) == from_bytes


@pytest.mark.parametrize("entry", INDEX["modules"], ids=[m["name"] for m in INDEX["modules"]])
def test_fixture_index_metadata(entry: dict[str, Any]) -> None:
    data = fixture_bytes(entry["name"])
    assert len(data) == entry["bsatn_bytes"]
    assert hashlib.sha256(data).hexdigest() == entry["bsatn_sha256"]
    raw = decode_raw_module_def(data)
    assert isinstance(raw, RawModuleDefV10)
    assert entry["raw_module_def_variant"] == "V10"
    section_names = [next(iter(s)) for s in raw_module_def_to_json(raw, wrapped=False)["sections"]]
    assert section_names == entry["sections"]


def test_chat_fixture_contents() -> None:
    raw = decode_raw_module_def(fixture_bytes("chat-react-ts"))
    assert isinstance(raw, RawModuleDefV10)
    assert [t.source_name for t in raw.tables] == ["user", "message"]
    user = raw.tables[0]
    assert user.primary_key == (0,)
    assert user.indexes == (
        RawIndexDefV10("user_identity_idx_btree", "identity", RawIndexAlgorithmBTree((0,))),
    )
    assert user.constraints == (RawConstraintDefV10(None, RawUniqueConstraintDataV9((0,))),)
    assert user.table_type is TableType.USER and user.table_access is TableAccess.PUBLIC
    row = raw.typespace[user.product_type_ref]
    assert row == product_of(
        [("identity", IDENTITY), ("name", option(STRING)), ("online", PRIMITIVES["Bool"])]
    )
    assert [r.source_name for r in raw.reducers] == [
        "init", "onConnect", "onDisconnect", "send_message", "set_name",
    ]  # fmt: skip
    assert raw.lifecycle_reducers == (
        RawLifeCycleReducerDefV10(Lifecycle.INIT, "init"),
        RawLifeCycleReducerDefV10(Lifecycle.ON_CONNECT, "onConnect"),
        RawLifeCycleReducerDefV10(Lifecycle.ON_DISCONNECT, "onDisconnect"),
    )
    assert raw.case_conversion_policy is CaseConversionPolicy.SNAKE_CASE
    assert raw.explicit_names.entries == (
        ExplicitTableName("user", "user"),
        ExplicitTableName("message", "message"),
    )


# ------------------------------------------------------------------- docs/module-def.md#test-vector


def test_spec_vector_decodes_exactly() -> None:
    data = bytes.fromhex(SPEC_1_5_HEX)
    assert len(data) == 631
    raw = decode_raw_module_def(data)  # strict: all 631 bytes consumed
    assert isinstance(raw, RawModuleDefV10)
    assert encode_raw_module_def(raw) == data
    assert [type(s) for s in raw.sections] == [
        TypespaceSection, TypesSection, TablesSection, ReducersSection, ProceduresSection,
        ViewsSection, ViewPrimaryKeysSection, SchedulesSection, LifeCycleReducersSection,
        HttpHandlersSection, HttpRoutesSection, RowLevelSecuritySection, ExplicitNamesSection,
        CaseConversionPolicySection, SubmodulesSection,
    ]  # fmt: skip
    nick = option(STRING)
    assert raw.typespace == Typespace(
        (
            product_of(
                [
                    ("id", U64),
                    ("owner", IDENTITY),
                    ("nickName", nick),
                    ("createdAt", TIMESTAMP),
                    ("player2", U32),
                ]
            ),
            UNIT,
            product_of([("nickName", nick)]),
        )
    )
    assert raw.types == (
        RawTypeDefV10(RawScopedTypeNameV10((), "UserProfile"), 0, True),
        RawTypeDefV10(RawScopedTypeNameV10((), "Init"), 1, True),
        RawTypeDefV10(RawScopedTypeNameV10((), "SetNickname"), 2, True),
    )
    assert raw.tables == (
        RawTableDefV10(
            source_name="userProfile",
            product_type_ref=0,
            primary_key=(0,),
            indexes=(
                RawIndexDefV10("userProfile_id_idx_btree", "id", RawIndexAlgorithmBTree((0,))),
                RawIndexDefV10(
                    "userProfile_player2_idx_btree", "player2", RawIndexAlgorithmBTree((4,))
                ),
            ),
            constraints=(
                RawConstraintDefV10(None, RawUniqueConstraintDataV9((0,))),
                RawConstraintDefV10(None, RawUniqueConstraintDataV9((4,))),
            ),
            sequences=(RawSequenceDefV10(None, 0, None, None, None, 1),),
            table_type=TableType.USER,
            table_access=TableAccess.PUBLIC,
            default_values=(),
            is_event=False,
        ),
    )
    assert raw.reducers == (
        RawReducerDefV10("init", UNIT, FunctionVisibility.CLIENT_CALLABLE, UNIT, STRING),
        RawReducerDefV10(
            "setNickname",
            product_of([("nickName", nick)]),
            FunctionVisibility.CLIENT_CALLABLE,
            UNIT,
            STRING,
        ),
    )
    assert raw.lifecycle_reducers == (RawLifeCycleReducerDefV10(Lifecycle.INIT, "init"),)
    empty = [raw.procedures, raw.views, raw.view_primary_keys, raw.schedules, raw.http_handlers]
    empty += [raw.http_routes, raw.row_level_security, raw.submodules]
    assert all(section == () for section in empty)
    assert raw.explicit_names == ExplicitNames(())
    assert raw.case_conversion_policy is CaseConversionPolicy.SNAKE_CASE
    # The first bytes, as docs/module-def.md#test-vector spells them out.
    assert data[:16].hex() == "020f000000" + "00" + "03000000" + "02" + "05000000" + "00"


# ---------------------------------------------------------------------------- error handling


def test_v8_is_rejected_clearly() -> None:
    with pytest.raises(ModuleDefError, match="V8"):
        decode_raw_module_def(b"\x00" + b"\x00" * 20)
    with pytest.raises(ModuleDefError, match="V8"):
        raw_module_def_from_json({"V8BackCompat": {}})


@pytest.mark.parametrize("data", [b"", b"\x03", b"\xff\x00", b"\x02", b"\x01"])
def test_bad_top_level(data: bytes) -> None:
    with pytest.raises(BsatnDecodeError):
        decode_raw_module_def(data)


def test_unknown_section_tag_and_trailing_bytes() -> None:
    # One section with tag 15 (unknown), followed by enough bytes that the array's length claim
    # is plausible (a bare tag is refused earlier, as too short for one section).
    with pytest.raises(BsatnDecodeError, match="tag 15"):
        decode_raw_module_def(b"\x02\x01\x00\x00\x00\x0f" + b"\x00" * 8)
    with pytest.raises(BsatnDecodeError, match="Array claims 1 element"):
        decode_raw_module_def(b"\x02\x01\x00\x00\x00\x0f")
    data = fixture_bytes("bench")
    with pytest.raises(BsatnDecodeError, match="trailing"):
        decode_raw_module_def(data + b"\x00")


def test_unknown_algebraic_type_tag() -> None:
    # V10, one Typespace section with one type whose AlgebraicType tag is 20.
    with pytest.raises(BsatnDecodeError, match="tag 20"):
        decode_raw_module_def(b"\x02\x01\x00\x00\x00\x00\x01\x00\x00\x00\x14")


def test_not_bytes() -> None:
    with pytest.raises(BsatnDecodeError):
        decode_raw_module_def("02")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["chat-react-ts", "sdk-test-procedure-ts"])
def test_every_truncation_fails_cleanly(name: str) -> None:
    data = fixture_bytes(name)
    for end in range(len(data)):
        with pytest.raises(SpacetimeDBError):
            decode_raw_module_def(data[:end])


def test_mutations_raise_only_sdk_errors_and_decodes_reencode() -> None:
    rng = random.Random(20260101)
    for name in ("chat-react-ts", "module-test-ts", "sdk-test-view-pk-ts"):
        data = fixture_bytes(name)
        for _ in range(600):
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 3)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            try:
                raw = decode_raw_module_def(bytes(mutated))
            except SpacetimeDBError:
                continue
            # BSATN is canonical: whatever decodes re-encodes to the same bytes.
            assert encode_raw_module_def(raw) == bytes(mutated)


@pytest.mark.parametrize(
    "obj",
    [
        [],
        "not json",
        {},
        {"V11": {}},
        {"V10": {"sections": [{"Bogus": []}]}},
        {"V10": {"sections": [{"Typespace": {"types": [{"Map": []}]}}]}},
        {"V10": {"sections": "nope"}},
        {"sections": [{"Tables": [{"source_name": "t"}]}]},
        {"typespace": {"types": []}, "tables": []},
        {"V9": {"typespace": {"types": []}}},
    ],
)
def test_malformed_json_raises_module_def_error(obj: Any) -> None:
    with pytest.raises(ModuleDefError):
        raw_module_def_from_json(obj)


def test_json_mutations_raise_only_sdk_errors() -> None:
    rng = random.Random(7)
    base = fixture_json("sdk-test-procedure-ts")

    def mutate(node: Any) -> Any:
        if isinstance(node, dict) and node and rng.random() < 0.3:
            key = rng.choice(list(node))
            choice = rng.random()
            copy = dict(node)
            if choice < 0.3:
                del copy[key]
            elif choice < 0.6:
                copy[key] = rng.choice([None, 1, "x", [], {}, -1, 2**200, True])
            else:
                copy[key + "_x"] = copy.pop(key)
            return copy
        if isinstance(node, dict):
            return {k: mutate(v) for k, v in node.items()}
        if isinstance(node, list):
            return [mutate(v) for v in node]
        return node

    for _ in range(300):
        with contextlib.suppress(SpacetimeDBError):
            raw_module_def_from_json(mutate(base))


# --------------------------------------------------------------------- hand-built coverage


def _everything_v10() -> RawModuleDefV10:
    """A def using every section and variant the fixtures leave out."""
    enum_ty = sum_of([("a", UNIT), ("b", UNIT)])
    row = product_of([("id", U64), ("at", SCHEDULE_AT), ("kind", RefType(1)), ("blob", array(U8))])
    inner = RawModuleDefV10(
        (
            TypespaceSection(Typespace((product_of([("x", U32)]),))),
            ReducersSection(
                (RawReducerDefV10("inner", UNIT, FunctionVisibility.PRIVATE, UNIT, STRING),)
            ),
        )
    )
    return RawModuleDefV10(
        (
            TypespaceSection(Typespace((row, enum_ty, result(I64, STRING), ArrayType(RefType(0))))),
            TypesSection((RawTypeDefV10(RawScopedTypeNameV10(("Outer", "Mid"), "Row"), 0, False),)),
            TablesSection(
                (
                    RawTableDefV10(
                        source_name="jobs",
                        product_type_ref=0,
                        primary_key=(0,),
                        indexes=(
                            RawIndexDefV10("jobs_id_idx_hash", None, RawIndexAlgorithmHash((0,))),
                            RawIndexDefV10(
                                "jobs_kind_idx_direct", "kind", RawIndexAlgorithmDirect(2)
                            ),
                            RawIndexDefV10(None, "pair", RawIndexAlgorithmBTree((2, 0))),
                        ),
                        constraints=(RawConstraintDefV10("c", RawUniqueConstraintDataV9((0,))),),
                        sequences=(
                            RawSequenceDefV10("s", 0, -(2**127), -(2**127), 2**127 - 1, -(2**127)),
                        ),
                        table_type=TableType.SYSTEM,
                        table_access=TableAccess.PRIVATE,
                        default_values=(
                            RawColumnDefaultValueV10(2, b"\x01"),
                            RawColumnDefaultValueV10(3, b""),
                        ),
                        is_event=True,
                    ),
                )
            ),
            ProceduresSection(
                (
                    RawProcedureDefV10(
                        "proc", product_of([("n", U8)]), RefType(2), FunctionVisibility.PRIVATE
                    ),
                )
            ),
            ViewsSection(
                (RawViewDefV10("v", 3, False, True, UNIT, product_of([("__query__", RefType(0))])),)
            ),
            SchedulesSection(
                (RawScheduleDefV10(None, "jobs", 1, "proc"), RawScheduleDefV10("x", "y", 0, "z"))
            ),
            RowLevelSecuritySection((RawRowLevelSecurityDefV9("SELECT * FROM jobs"),)),
            CaseConversionPolicySection(CaseConversionPolicy.NONE),
            ExplicitNamesSection(
                ExplicitNames(
                    (
                        ExplicitTableName("a", "b"),
                        ExplicitFunctionName("c", "d"),
                        ExplicitIndexName("e", "f"),
                    )
                )
            ),
            HttpHandlersSection((RawHttpHandlerDefV10("h"),)),
            HttpRoutesSection(
                (
                    RawHttpRouteDefV10("h", ANY_METHOD, ""),
                    RawHttpRouteDefV10("h", HttpMethod.PATCH, "/p"),
                    RawHttpRouteDefV10("h", HttpMethodExtension("PURGE"), "/q"),
                )
            ),
            ViewPrimaryKeysSection((RawViewPrimaryKeyDefV10("v", ("id",)),)),
            SubmodulesSection((RawSubmoduleV10("inner", inner),)),
        )
    )


def _everything_v9() -> RawModuleDefV9:
    return RawModuleDefV9(
        typespace=Typespace((product_of([("id", U64), ("at", SCHEDULE_AT)]),)),
        tables=(
            RawTableDefV9(
                name="t",
                product_type_ref=0,
                primary_key=(0,),
                indexes=(RawIndexDefV9(None, "id", RawIndexAlgorithmBTree((0,))),),
                constraints=(RawConstraintDefV9(None, RawUniqueConstraintDataV9((0,))),),
                sequences=(RawSequenceDefV9(None, 0, 1, None, 10, 2),),
                schedule=RawScheduleDefV9(None, "tick", 1),
                table_type=TableType.USER,
                table_access=TableAccess.PUBLIC,
            ),
        ),
        reducers=(
            RawReducerDefV9("tick", product_of([("arg", RefType(0))]), None),
            RawReducerDefV9("init", UNIT, Lifecycle.INIT),
        ),
        types=(RawTypeDefV9(RawScopedTypeNameV9(("a",), "T"), 0, True),),
        misc_exports=(
            RawColumnDefaultValueV9("t", 0, b"\x05" + b"\x00" * 7),
            RawProcedureDefV9("p", UNIT, STRING),
            RawViewDefV9("v", 0, True, False, UNIT, ArrayType(RefType(0))),
        ),
        row_level_security=(RawRowLevelSecurityDefV9("SELECT * FROM t"),),
    )


@pytest.mark.parametrize("raw", [_everything_v10(), _everything_v9()], ids=["v10", "v9"])
def test_hand_built_round_trips(raw: RawModuleDefV9 | RawModuleDefV10) -> None:
    data = encode_raw_module_def(raw)
    assert data[0] == (2 if isinstance(raw, RawModuleDefV10) else 1)
    assert decode_raw_module_def(data) == raw
    wrapped = raw_module_def_to_json(raw)
    assert raw_module_def_from_json(json.loads(json.dumps(wrapped))) == raw
    bare = raw_module_def_to_json(raw, wrapped=False)
    assert raw_module_def_from_json(bare) == raw


def test_json_shapes_follow_section_0_2() -> None:
    obj = raw_module_def_to_json(_everything_v10(), wrapped=False)
    sections = {next(iter(s)): next(iter(s.values())) for s in obj["sections"]}
    table = sections["Tables"][0]
    assert [ix["algorithm"] for ix in table["indexes"]] == [
        {"Hash": [0]},
        {"Direct": 2},
        {"BTree": [2, 0]},
    ]
    assert table["indexes"][0]["accessor_name"] == {"none": []}
    assert table["table_type"] == {"System": []}
    assert table["default_values"] == [{"col_id": 2, "value": "01"}, {"col_id": 3, "value": ""}]
    assert table["sequences"][0]["start"] == {"some": -(2**127)}
    assert sections["CaseConversionPolicy"] == {"None": []}
    assert [r["method"] for r in sections["HttpRoutes"]] == [
        {"Any": []},
        {"Method": {"Patch": []}},
        {"Method": {"Extension": "PURGE"}},
    ]
    assert sections["ExplicitNames"]["entries"][2] == {
        "Index": {"source_name": "e", "canonical_name": "f"}
    }
    assert sections["Types"][0]["source_name"] == {"scope": ["Outer", "Mid"], "source_name": "Row"}
    v9 = raw_module_def_to_json(_everything_v9(), wrapped=False)
    assert list(v9) == [
        "typespace",
        "tables",
        "reducers",
        "types",
        "misc_exports",
        "row_level_security",
    ]
    assert v9["tables"][0]["schedule"] == {
        "some": {"name": {"none": []}, "reducer_name": "tick", "scheduled_at_column": 1}
    }
    assert [next(iter(m)) for m in v9["misc_exports"]] == [
        "ColumnDefaultValue",
        "Procedure",
        "View",
    ]
    assert v9["reducers"][1]["lifecycle"] == {"some": {"Init": []}}


def test_v10_accessors_default_when_sections_are_missing() -> None:
    raw = RawModuleDefV10(())
    assert raw.typespace == Typespace(())
    assert raw.case_conversion_policy is CaseConversionPolicy.SNAKE_CASE
    assert raw.explicit_names == ExplicitNames(())
    assert (raw.tables, raw.reducers, raw.types) == ((), (), ())
    assert decode_raw_module_def(encode_raw_module_def(raw)) == raw


def test_algebraic_type_is_described_by_the_meta_typespace() -> None:
    ts, refs = meta_typespace()
    at = ts[refs["AlgebraicType"]]
    assert isinstance(at, SumType)
    # docs/protocol.md#types-and-tags: the variants and their tags.
    assert [v.name for v in at.variants] == [
        "Ref", "Sum", "Product", "Array", "String", "Bool", "I8", "U8", "I16", "U16", "I32", "U32",
        "I64", "U64", "I128", "U128", "I256", "U256", "F32", "F64",
    ]  # fmt: skip
    assert at.variants[3].algebraic_type == RefType(refs["AlgebraicType"])  # recursive via a ref
    codec = algebraic_type_codec()
    samples = [
        RefType(7),
        option(STRING),
        product_of([("a", array(U8)), (None, sum_of([]))]),
        ArrayType(ArrayType(TIMESTAMP)),
        *PRIMITIVES.values(),
    ]
    for ty in samples:
        data = codec.encode(ty)
        assert codec.decode(data) == ty
    assert codec.encode(option(STRING)).hex() == (
        "01"
        + "02000000"
        + "00"
        + "04000000"
        + b"some".hex()
        + "04"
        + "00"
        + "04000000"
        + b"none".hex()
        + "02"
        + "00000000"
    )
    assert codec.encode(RefType(3)) == b"\x00\x03\x00\x00\x00"
    assert type_to_json(ProductType(())) == {"Product": {"elements": []}}


def test_module_def_paths_exist() -> None:
    assert Path(MODULE_DEFS / "index.json").exists()
