"""The local server's SQL: subscription / one-off queries and HTTP statements (docs/protocol.md#sql-subset)."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from typing import Any

import pytest

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    CONNECTION_ID,
    F32,
    F64,
    I8,
    I32,
    I64,
    I128,
    I256,
    IDENTITY,
    STRING,
    TIMESTAMP,
    U8,
    U16,
    U32,
    U64,
    U128,
    U256,
    UUID,
    RefType,
    Typespace,
    array,
    option,
    product_of,
    sum_of,
)
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.sql import (
    MAX_SQL_LENGTH,
    AllTables,
    And,
    Assignment,
    BoundCompare,
    BoundDelete,
    BoundInsert,
    BoundQuery,
    BoundSelect,
    BoundSetVar,
    BoundShowVar,
    BoundUpdate,
    ColumnInfo,
    ColumnList,
    ColumnRef,
    Compare,
    Constant,
    CountStar,
    Delete,
    Insert,
    Join,
    Literal,
    Or,
    ProjectColumn,
    Query,
    Row,
    SenderParam,
    SetVar,
    ShowVar,
    SimpleCatalog,
    SqlError,
    Star,
    TableInfo,
    Update,
    bind_query,
    bind_sql,
    bind_subscription,
    format_type,
    is_select_all_tables,
    parse_literal,
    parse_one_off_query,
    parse_sql,
    parse_subscription,
    queries_for_all_tables,
)
from spacetimedb_sdk.timestamp import Timestamp
from spacetimedb_sdk.uuid import Uuid

ME = Identity.from_hex("c200b3ce65d91b79ecfb7d881cd65bf8da2f647d590af1474ad19faa7aa87e38")
OTHER = Identity.from_hex("c20035600353a2e93544d898c6ed0eac323e200c0468300f22958f8b472a265d")

T_COLUMNS = [
    ("ts", TIMESTAMP),
    ("i8", I8),
    ("u8", U8),
    ("u16", U16),
    ("i32", I32),
    ("u32", U32),
    ("i64", I64),
    ("u64", U64),
    ("int", U32),
    ("f32", F32),
    ("f64", F64),
    ("i128", I128),
    ("u128", U128),
    ("i256", I256),
    ("u256", U256),
    ("str", STRING),
    ("flag", BOOL),
    ("arr", array(STRING)),
    ("opt", option(U32)),
    ("pair", product_of([("a", U8), ("b", U8)])),
    ("color", RefType(0)),
]
COLOR = sum_of([("Red", product_of([])), ("Green", product_of([]))])

CATALOG = SimpleCatalog(
    [
        TableInfo.of("t", T_COLUMNS, typespace=Typespace((COLOR,))),
        TableInfo.of(
            "s",
            [
                ("id", IDENTITY),
                ("u32", U32),
                ("arr", array(STRING)),
                ("bytes", array(U8)),
                ("conn", CONNECTION_ID),
                ("uuid", UUID),
            ],
            indexed_columns=frozenset({"id", "u32"}),
        ),
        TableInfo(
            "logged_out_player",
            (ColumnInfo("player_id", U64, accessor="playerId"), ColumnInfo("name", STRING)),
            accessor="loggedOutPlayer",
            indexed_columns=frozenset({"player_id"}),
        ),
        TableInfo.of("damage_event", [("target", U64), ("amount", U32)], is_event=True),
        TableInfo.of("Order", [('x"y', U32), ("select", STRING)]),
        TableInfo.of("v", [("a", STRING)], is_view=True),
        TableInfo.of("q", [("u32", U32)], indexed_columns=frozenset()),
    ]
)


def sub(sql: str, sender: Identity | None = ME) -> BoundQuery:
    query = parse_subscription(sql)
    assert isinstance(query, Query)
    return bind_subscription(query, CATALOG, sender=sender)


def one_off(sql: str, sender: Identity | None = ME) -> BoundQuery:
    return bind_query(parse_one_off_query(sql), CATALOG, sender=sender)


def t_row(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name, _ in T_COLUMNS}
    row.update(
        ts=Timestamp(0), i8=0, u8=0, u32=0, f32=0.0, f64=0.0, str="", flag=False, u256=0, i32=0
    )
    row.update(values)
    return row


def s_row(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": OTHER,
        "u32": 0,
        "arr": [],
        "bytes": b"",
        "conn": ConnectionId(1),
        "uuid": Uuid(0),
    }
    row.update(values)
    return row


# --- docs/protocol.md#sql-subset grammar ----------------------------------------------------------


def test_parse_produces_our_ast() -> None:
    assert parse_subscription("SELECT * FROM t WHERE u32 = 5 AND (str = 'x' OR flag)") == Query(
        "t",
        "t",
        where=And(
            (
                Compare("=", ColumnRef("t", "u32"), Literal("number", "5")),
                Or(
                    (
                        Compare("=", ColumnRef("t", "str"), Literal("string", "x")),
                        ColumnRef("t", "flag"),
                    )
                ),
            )
        ),
    )
    assert parse_subscription(
        "select a.* from t as a inner join s b on a.u32 = b.u32 where b.id = :sender"
    ) == Query(
        "t",
        "a",
        joins=(Join("s", "b", Compare("=", ColumnRef("a", "u32"), ColumnRef("b", "u32"))),),
        where=Compare("=", ColumnRef("b", "id"), SenderParam()),
        projection=Star("a"),
    )
    assert parse_subscription("select t.* from t cross join s").joins == (Join("s", "s"),)  # type: ignore[union-attr]


def test_connective_chains_are_flat() -> None:
    query = parse_subscription("select * from t where u8 = 1 and (u8 = 2 and u8 = 3) or u8 = 4")
    assert isinstance(query, Query)
    assert isinstance(query.where, Or) and len(query.where.operands) == 2
    conjunction = query.where.operands[0]
    assert isinstance(conjunction, And) and len(conjunction.operands) == 3


def test_long_generated_filters_work() -> None:
    # Thousands of OR terms (just under the length limit) must neither overflow nor crawl.
    sql = "select * from t where " + " or ".join(f"u32 = {i}" for i in range(3500))
    assert len(sql.encode()) <= MAX_SQL_LENGTH
    predicate = sub(sql).row_predicate()
    assert predicate(t_row(u32=3499)) and not predicate(t_row(u32=3500))


def test_deep_nesting_is_a_clean_error() -> None:
    shallow = "select * from t where " + "(" * 20 + "u32 = 1" + ")" * 20
    assert sub(shallow).row_predicate()(t_row(u32=1))
    deep = "select * from t where " + "(" * 2000 + "u32 = 1" + ")" * 2000
    with pytest.raises(SqlError, match="Recursion limit exceeded"):
        sub(deep)


@pytest.mark.parametrize(
    ("sql", "op"),
    [
        ("select * from t where u32 = 1", "="),
        ("select * from t where u32 <> 1", "<>"),
        ("select * from t where u32 != 1", "<>"),
        ("select * from t where u32 < 1", "<"),
        ("select * from t where u32 <= 1", "<="),
        ("select * from t where u32 > 1", ">"),
        ("select * from t where u32 >= 1", ">="),
    ],
)
def test_comparison_operators(sql: str, op: str) -> None:
    query = parse_subscription(sql)
    assert isinstance(query, Query) and isinstance(query.where, Compare)
    assert query.where.op == op


@pytest.mark.parametrize(
    ("sql", "literal"),
    [
        ("select * from t where i32 = -5", Literal("number", "-5")),
        ("select * from t where i32 = +1", Literal("number", "1")),
        ("select * from t where u32 = 1e3", Literal("number", "1e3")),
        ("select * from t where f32 = 105.3", Literal("number", "105.3")),
        ("select * from t where str = 'it''s'", Literal("string", "it's")),
        ("select * from t where flag = TRUE", Literal("bool", "true")),
        ("select * from t where flag = false", Literal("bool", "false")),
        ("select * from s where bytes = 0xABCD", Literal("hex", "ABCD")),
        ("select * from s where bytes = X'abcd'", Literal("hex", "abcd")),
    ],
)
def test_literal_forms(sql: str, literal: Literal) -> None:
    query = parse_subscription(sql)
    assert isinstance(query, Query) and isinstance(query.where, Compare)
    assert query.where.right == literal


@pytest.mark.parametrize(
    "sql",
    [
        # The examples in the spec and the server's own accepted set.
        "select * from t",
        "SELECT * FROM t WHERE true",
        "select * from t where t.u32 = 1",
        "select * from t where u32 = 1",
        "select * from t where u32 = 1 or u32 = 2",
        "select * from t where u32 <> 1",
        "select * from s where id = :sender",
        "select * from s where bytes = :sender",
        "select * from t where t.u32 = 1 or t.str = ''",
        "select * from s where s.bytes = 0xABCD or bytes = X'ABCD'",
        "select * from s as r where r.bytes = 0xABCD or bytes = X'ABCD'",
        "select * from s r where r.u32 = 7",
        "select t.* from t join s on t.u32 = s.u32 where t.f32 = 0.1",
        "select s.* from t join s on t.u32 = s.u32 where t.u8 = 3",
        "select a.* from t as a join s as b on a.u32 = b.u32",
        "select t.* from t inner join s on s.u32 = t.u32",
        "select * from t where (u32 = 1 or (u8 = 2 and str = 'a')) and flag",
        "select * from t where 5 = u32",
        "select * from t where flag = true",
        "select * from t where flag",
        "select * from t where i32 = -1",
        "select * from t where u32 = +1",
        "select * from t where u32 = 1e3",
        "select * from t where u32 = 1E3",
        "select * from t where f32 = 1e3",
        "select * from t where f32 = 1e-3",
        "select * from t where f32 = 0.1",
        "select * from t where f32 = .1",
        "select * from t where f32 = 1e40",
        "select * from t where u256 = 1e40",
        "select * from t where u32 = '42'",
        "select * from t where str = 42",
        "select * from t where ts = '2025-02-10T15:45:30Z'",
        "select * from t where ts = '2025-02-10T15:45:30.123Z'",
        "select * from t where ts = '2025-02-10T15:45:30.123456789Z'",
        "select * from t where ts = '2025-02-10 15:45:30+02:00'",
        "select * from t where ts = '2025-02-10 15:45:30.123+02:00'",
        "select * from s where conn = 0x0000000000000000000000000000002a",
        "select * from s where uuid = '123e4567-e89b-12d3-a456-426614174000'",
        "SELECT * FROM logged_out_player WHERE player_id = 5",
        'SELECT * FROM "Order" WHERE "x""y" = 1 AND "select" = \'a\'',
        "select * from t;",
    ],
)
def test_accepted_subscriptions(sql: str) -> None:
    bound = sub(sql)
    assert bound.table in {"t", "s", "logged_out_player", "Order"}


@pytest.mark.parametrize(
    ("sql", "wanted"),
    [
        ("select * from t where i8 = 127", 127),
        ("select * from t where u8 = 255", 255),
        ("select * from t where i32 = -5", -5),
        ("select * from t where u32 = 1e3", 1000),
        ("select * from t where u32 = '1000'", 1000),
        ("select * from t where u64 = 18446744073709551615", 2**64 - 1),
        ("select * from t where i128 = -170141183460469231731687303715884105728", -(2**127)),
        ("select * from t where u256 = 1e40", 10**40),
        ("select * from t where f64 = 1053e-1", 105.3),
        ("select * from t where f32 = 0.1", struct.unpack("<f", struct.pack("<f", 0.1))[0]),
        ("select * from t where f32 = 1e40", math.inf),
        ("select * from t where f64 = 3", 3.0),
        ("select * from t where str = 42", "42"),
        ("select * from t where str = 'O''Brien'", "O'Brien"),
        ("select * from t where flag = true", True),
        ("select * from s where id = 0x" + ME.to_hex(), ME),
        ("select * from s where id = X'" + ME.to_hex() + "'", ME),
        ("select * from s where id = '" + ME.to_hex() + "'", ME),
        ("select * from s where id = '0x" + ME.to_hex() + "'", ME),
        ("select * from s where bytes = 0x00ff", b"\x00\xff"),
        ("select * from s where conn = '000000000000000000000000000000ff'", ConnectionId(255)),
        (
            "select * from s where uuid = '123e4567-e89b-12d3-a456-426614174000'",
            Uuid("123e4567-e89b-12d3-a456-426614174000"),
        ),
        ("select * from t where ts = '1970-01-01T00:00:01.5Z'", Timestamp(1_500_000)),
        ("select * from t where ts = '1970-01-01 02:00:00+02:00'", Timestamp(0)),
        ("select * from t where ts = '1970-01-01T00:00:00.0000019z'", Timestamp(1)),
    ],
)
def test_literals_are_coerced_to_the_column_type(sql: str, wanted: Any) -> None:
    bound = sub(sql)
    assert isinstance(bound.filter, BoundCompare)
    constant = bound.filter.right
    assert isinstance(constant, Constant)
    assert type(constant.value) is type(wanted)
    assert constant.value == wanted


def test_identifiers_are_case_sensitive() -> None:
    assert sub('select * from "Order"').table == "Order"
    with pytest.raises(SqlError, match="no such table: `order`"):
        sub('select * from "order"')
    with pytest.raises(SqlError, match="no such table: `T`"):
        sub("select * from T")
    with pytest.raises(SqlError, match="does not have a field `U32`"):
        sub("select * from t where U32 = 1")


def test_quoted_identifiers() -> None:
    query = parse_subscription('SELECT "o".* FROM "Order" AS "o" WHERE "o"."x""y" = 3')
    assert query == Query(
        "Order",
        "o",
        where=Compare("=", ColumnRef("o", 'x"y'), Literal("number", "3")),
        projection=Star("o"),
    )
    bound = sub('SELECT "o".* FROM "Order" AS "o" WHERE "o"."x""y" = 3')
    assert bound.row_predicate()({'x"y': 3, "select": ""})
    assert not bound.row_predicate()({'x"y': 4, "select": ""})


def test_accessor_names_are_aliases() -> None:
    bound = sub("SELECT * FROM loggedOutPlayer WHERE playerId = 5")
    assert bound.table == "logged_out_player"
    predicate = bound.row_predicate()
    assert predicate({"player_id": 5, "name": "x"})
    assert not predicate({"player_id": 6, "name": "x"})
    assert sub("SELECT * FROM logged_out_player WHERE player_id = 5").table == "logged_out_player"


# --- SELECT * FROM * --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql", ["SELECT * FROM *", "select * from *", "  SeLeCt\t*\nFROM   *  ", "SELECT *  FROM *\n"]
)
def test_select_all_tables(sql: str) -> None:
    assert is_select_all_tables(sql)
    assert parse_subscription(sql) == AllTables()


@pytest.mark.parametrize(
    "sql", ["SELECT * FROM *;", "SELECT t.* FROM *", "SELECT * FROM * WHERE x = 1", "SELECT*FROM*"]
)
def test_not_select_all_tables(sql: str) -> None:
    assert not is_select_all_tables(sql)
    with pytest.raises(SqlError):
        parse_subscription(sql)


def test_select_all_tables_is_not_a_one_off_query() -> None:
    with pytest.raises(SqlError):
        parse_one_off_query("SELECT * FROM *")


def test_select_all_tables_expansion_skips_event_tables() -> None:
    names = [q.table for q in queries_for_all_tables(CATALOG.tables)]
    assert names == ["t", "s", "logged_out_player", "Order", "v", "q"]
    assert all(
        q.projection == Star() and q.where is None for q in queries_for_all_tables(CATALOG.tables)
    )


# --- rejections ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "Empty SQL query"),
        ("   \n\t", "Empty SQL query"),
        (";", "Empty SQL query"),
        ("select * from t; select * from s", "Multiple SQL statements are not supported"),
        ("select * from t limit 5", "Unsupported: SELECT"),
        ("select * from t offset 5", "Unsupported: SELECT"),
        ("select * from t order by u32", "Unsupported: SELECT"),
        ("select * from t group by u32", "Unsupported: SELECT"),
        ("select * from t group by u32 having u32 = 1", "Unsupported: SELECT"),
        ("select distinct * from t", "Unsupported: SELECT DISTINCT"),
        ("with x as (select * from t) select * from x", "Unsupported: "),
        ("select * from t union select * from t", "Unsupported set operation"),
        ("select * from (select * from t)", "Unsupported FROM expression"),
        ("select * from t where u32 in (select u32 from s)", "Unsupported expression"),
        ("select * from t where not u32 = 1", "Unsupported expression: NOT"),
        ("select * from t where u32 in (1, 2)", "Unsupported expression"),
        ("select * from t where str like 'a%'", "Unsupported expression"),
        ("select * from t where u32 is null", "Unsupported expression"),
        ("select * from t where u32 between 1 and 2", "Unsupported expression"),
        ("select * from t where u32 + 1 = 2", "Unsupported binary operator: +"),
        ("select * from t where u32 = 2 * 3", "Unsupported binary operator: *"),
        ("select * from t where u32 = null", "Unsupported literal expression"),
        ("select * from t where u32 = :other", "Unsupported literal expression: :other"),
        ("select * from t where u32 = -u8", "Unsupported expression"),
        ("select * from t, s", "Implicit joins are not supported"),
        ("select t.* from t left join s on t.u32 = s.u32", "Non-inner joins are not supported"),
        ("select t.* from t right join s on t.u32 = s.u32", "Non-inner joins are not supported"),
        (
            "select t.* from t full outer join s on t.u32 = s.u32",
            "Non-inner joins are not supported",
        ),
        ("select t.* from t natural join s", "Non-inner joins are not supported"),
        ("select t.* from t join s using (u32)", "Non-inner joins are not supported"),
        ("select t.* from t join s on t.u32 < s.u32", "Non-inner joins are not supported"),
        ("select t.* from t join s on t.u32 = 5", "Non-inner joins are not supported"),
        ("delete from t", "Unsupported: Non-SELECT queries"),
        ("insert into t (u32) values (1)", "Unsupported: Non-SELECT queries"),
        ("update t set u32 = 1", "Unsupported: Non-SELECT queries"),
        ("select u32 from t", "Column projections are not supported in subscriptions"),
        ("select count(*) as n from t", "Column projections are not supported in subscriptions"),
        ("select count(*) from t", "Aggregate expressions must have column aliases"),
        ("select * from t join s on t.u32 = s.u32", r"SELECT \* is not supported for joins"),
        ("select t.*, s.* from t join s", "Mixed wildcard projections are not supported"),
        (
            "select t.* from t join s on t.u32 = s.u32 where u32 = 1",
            "Names must be qualified when using joins",
        ),
        ("select t.* from t join s on u32 = s.u32", "Names must be qualified when using joins"),
        ("select * from r", "no such table: `r`. If the table exists, it may be marked private."),
        ("select * from t where t.a = 1", "`t` does not have a field `a`"),
        ("select * from t as r where r.a = 1", "`t` does not have a field `a`"),
        ("select * from t as r where t.u32 = 5", "`t` is not in scope"),
        ("select x.* from t", "`x` is not in scope"),
        ("select t.* from t join t", "Duplicate name `t`"),
        ("select t.* from t join s on t.u32 = r.u32 join s as r", "`r` is not in scope"),
        (
            "select * from t where u32 = 'str'",
            "The literal expression `str` cannot be parsed as type `U32`",
        ),
        ("select * from t where u32 = 1.3", "cannot be parsed as type `U32`"),
        ("select * from t where u8 = -1", "cannot be parsed as type `U8`"),
        ("select * from t where u8 = 256", "cannot be parsed as type `U8`"),
        ("select * from t where u8 = 1e3", "cannot be parsed as type `U8`"),
        ("select * from t where u8 = 0.1", "cannot be parsed as type `U8`"),
        ("select * from t where i32 = 1e-3", "cannot be parsed as type `I32`"),
        ("select * from t where u32 = 1e999999", "cannot be parsed as type `U32`"),
        ("select * from t where u32 = 0xFF", "cannot be parsed as type `U32`"),
        ("select * from t where flag = 1", "cannot be parsed as type `Bool`"),
        ("select * from t where flag = 'true'", "cannot be parsed as type `Bool`"),
        (
            "select * from t where u32 = true",
            r"Unexpected type: \(expected\) U32 != Bool \(inferred\)",
        ),
        ("select * from t where u32", r"Unexpected type: \(expected\) Bool != U32 \(inferred\)"),
        ("select * from t where 5", "cannot be parsed as type `Bool`"),
        ("select * from t where 1 = 2", "Cannot resolve type for literal expression"),
        ("select * from t where u32 = u8", r"Unexpected type: \(expected\) U32 != U8 \(inferred\)"),
        ("select * from t where arr = :sender", "Unexpected type"),
        ("select * from t where u32 = :sender", "Unexpected type"),
        (
            "select * from s where id = 0xABCD",
            "cannot be parsed as type `\\(__identity__: U256\\)`",
        ),
        ("select * from s where id = 'zz'", "cannot be parsed"),
        ("select * from s where bytes = 0xABC", "cannot be parsed"),
        ("select * from s where conn = 0x01", "cannot be parsed"),
        ("select * from s where uuid = 'not-a-uuid'", "cannot be parsed"),
        ("select * from t where ts = '2025-02-10'", "cannot be parsed"),
        ("select * from t where ts = '2025-02-10T15:45:30'", "cannot be parsed"),
        ("select * from t where ts = 0", "cannot be parsed"),
        ("select * from t where arr = arr", "Invalid binary operator `=` for type `Array<String>`"),
        ("select * from t where opt = opt", "Invalid binary operator `=` for type `\\(some: U32"),
        (
            "select * from t where pair = pair",
            "Invalid binary operator `=` for type `\\(a: U8, b: U8\\)`",
        ),
        (
            "select * from t where color = color",
            "Invalid binary operator `=` for type `\\(Red: \\(\\)",
        ),
        (
            "select t.* from t join s on t.arr = s.arr",
            "Invalid binary operator `=` for type `Array<String>`",
        ),
        ("select t.* from t join s on t.u8 = s.u32", "Unexpected type"),
        ("select * from t where u32 = 0xZZ", "sql parser error"),
        ("select * from t where", "sql parser error"),
        ("select from t", "sql parser error"),
        ("select 1", "A FROM clause is required"),
        ("SELECT * FROM v WHERE", "sql parser error"),
    ],
)
def test_rejected_subscriptions(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        sub(sql)


def test_subscription_only_rules() -> None:
    three = "select t.* from t join s on t.u32 = s.u32 join s as r on s.u32 = r.u32"
    with pytest.raises(SqlError, match="Invalid number of tables in subscription: 3"):
        sub(three)
    assert one_off(three).tables == ("t", "s", "s")

    no_index = "select t.* from t join q on t.u32 = q.u32"
    with pytest.raises(SqlError, match="Subscriptions require indexes on join columns"):
        sub(no_index)
    assert one_off(no_index).table == "t"
    assert sub("select t.* from t join s on t.u32 = s.u32").table == "t"  # s.u32 is indexed
    # Without ON the real planner has only a nested-loop join, whatever the WHERE says.
    with pytest.raises(SqlError, match="Subscriptions require indexes on join columns"):
        sub("select t.* from t join s where s.u32 = t.u32 and t.u8 = 1")

    with pytest.raises(SqlError, match="Subscriptions require indexes on join columns"):
        sub("select t.* from t join s")  # a cross join can only be a nested loop
    assert one_off("select t.* from t join s").table == "t"

    event_lookup = SimpleCatalog(
        [
            *CATALOG.tables,
            TableInfo.of(
                "hit", [("target", U64)], is_event=True, indexed_columns=frozenset({"target"})
            ),
        ]
    )
    query = parse_one_off_query(
        "select p.* from logged_out_player p join hit h on p.player_id = h.target"
    )
    with pytest.raises(SqlError, match="Event tables cannot be used as the lookup table"):
        bind_subscription(query, event_lookup)
    returned_event = parse_one_off_query(
        "select h.* from hit h join logged_out_player p on p.player_id = h.target"
    )
    assert bind_subscription(returned_event, event_lookup).table == "hit"


def test_private_tables_are_reported_as_unknown() -> None:
    visible = SimpleCatalog([t for t in CATALOG.tables if t.name != "s"])
    with pytest.raises(SqlError, match="no such table: `s`"):
        bind_subscription(parse_one_off_query("select * from s"), visible)


def test_too_long_query_is_rejected() -> None:
    sql = "select * from t where " + " or ".join(["u32 = 1"] * 6000)
    assert len(sql) > MAX_SQL_LENGTH
    with pytest.raises(SqlError, match="exceeds maximum allowed length"):
        parse_subscription(sql)


def test_sender_is_required_when_used() -> None:
    with pytest.raises(SqlError, match=":sender"):
        sub("select * from s where id = :sender", sender=None)
    assert parse_one_off_query("select * from s where id = :sender").uses_sender
    assert not parse_one_off_query("select * from s where u32 = 1").uses_sender


# --- evaluation -----------------------------------------------------------------------------------


def _matches(sql: str, rows: Iterable[Row], sender: Identity = ME) -> list[Row]:
    predicate = sub(sql, sender).row_predicate()
    return [row for row in rows if predicate(row)]


def test_integer_and_logic_predicates() -> None:
    rows = [t_row(u32=i, str=f"s{i}", flag=i % 2 == 0) for i in range(6)]

    def pick(sql: str) -> list[int]:
        return [r["u32"] for r in _matches(sql, rows)]

    assert pick("select * from t where u32 = 3") == [3]
    assert pick("select * from t where u32 <> 3") == [0, 1, 2, 4, 5]
    assert pick("select * from t where u32 != 3") == [0, 1, 2, 4, 5]
    assert pick("select * from t where u32 < 2") == [0, 1]
    assert pick("select * from t where u32 <= 2") == [0, 1, 2]
    assert pick("select * from t where u32 > 3") == [4, 5]
    assert pick("select * from t where 3 < u32") == [4, 5]
    assert pick("select * from t where u32 >= 3") == [3, 4, 5]
    assert pick("select * from t where flag") == [0, 2, 4]
    assert pick("select * from t where flag = false") == [1, 3, 5]
    assert pick("select * from t where true") == [0, 1, 2, 3, 4, 5]
    assert pick("select * from t where false") == []
    # AND binds tighter than OR; parentheses override.
    assert pick("select * from t where u32 = 1 or u32 = 2 and flag") == [1, 2]
    assert pick("select * from t where (u32 = 1 or u32 = 2) and flag") == [2]
    assert pick("select * from t where str = 's4' or u32 < 1") == [0, 4]
    assert pick("select * from t where str > 's3'") == [4, 5]


def test_float_predicates() -> None:
    tenth_f32 = struct.unpack("<f", struct.pack("<f", 0.1))[0]
    rows = [t_row(u32=1, f32=tenth_f32, f64=0.1), t_row(u32=2, f32=1.5, f64=105.3)]
    assert [r["u32"] for r in _matches("select * from t where f32 = 0.1", rows)] == [1]
    assert [r["u32"] for r in _matches("select * from t where f64 = 1053e-1", rows)] == [2]
    assert [r["u32"] for r in _matches("select * from t where f32 > 1", rows)] == [2]


def test_special_type_predicates() -> None:
    rows = [
        s_row(u32=1, id=ME, bytes=ME.data, conn=ConnectionId(5), uuid=Uuid(1)),
        s_row(u32=2, id=OTHER, bytes=b"\xab\xcd", conn=ConnectionId(6), uuid=Uuid(2)),
    ]

    def pick(sql: str, sender: Identity = ME) -> list[int]:
        return [r["u32"] for r in _matches(sql, rows, sender)]

    assert pick("select * from s where id = :sender") == [1]
    assert pick("select * from s where id = :sender", OTHER) == [2]
    assert pick("select * from s where :sender = id", OTHER) == [2]
    assert pick("select * from s where id <> :sender") == [2]
    assert pick("select * from s where bytes = :sender") == [1]  # big-endian bytes
    assert pick("select * from s where bytes = 0xABCD") == [2]
    assert pick("select * from s where bytes = X'abcd'") == [2]
    assert pick(f"select * from s where id = 0x{OTHER.to_hex()}") == [2]
    assert pick(f"select * from s where id = '{ME.to_hex()}'") == [1]
    assert pick("select * from s where conn = 0x00000000000000000000000000000006") == [2]
    assert pick("select * from s where conn > '00000000000000000000000000000005'") == [2]
    assert pick("select * from s where uuid = '00000000-0000-0000-0000-000000000001'") == [1]


def test_timestamp_predicates() -> None:
    rows = [
        t_row(u32=1, ts=Timestamp.from_iso("2025-02-10T15:45:30+00:00")),
        t_row(u32=2, ts=Timestamp.from_iso("2025-02-10T13:45:30.123000+00:00")),
    ]

    def pick(sql: str) -> list[int]:
        return [r["u32"] for r in _matches(sql, rows)]

    assert pick("select * from t where ts = '2025-02-10T15:45:30Z'") == [1]
    assert pick("select * from t where ts = '2025-02-10 15:45:30.123+02:00'") == [2]
    assert pick("select * from t where ts < '2025-02-10T14:00:00Z'") == [2]


def test_join_evaluation_is_a_bag_of_returned_rows() -> None:
    data: dict[str, list[Row]] = {
        "t": [t_row(u32=1, str="one"), t_row(u32=2, str="two"), t_row(u32=3, str="three")],
        "s": [s_row(u32=1, id=ME), s_row(u32=1, id=OTHER), s_row(u32=3, id=OTHER)],
    }

    def scan(name: str) -> list[Row]:
        return data[name]

    bound = sub("select t.* from t join s on t.u32 = s.u32")
    assert bound.is_join and bound.table == "t" and bound.tables == ("t", "s")
    assert [r["str"] for r in bound.evaluate(scan)] == ["one", "one", "three"]
    bound = sub("select t.* from t join s on t.u32 = s.u32 where s.id = :sender")
    assert [r["str"] for r in bound.evaluate(scan)] == ["one"]
    bound = sub("select s.* from t join s on s.u32 = t.u32 where t.str = 'three'")
    assert [r["u32"] for r in bound.evaluate(scan)] == [3]
    with pytest.raises(SqlError, match="single-row predicate"):
        bound.row_predicate()
    cross = one_off("select t.* from t join s where t.u32 = s.u32 and s.id = :sender")
    assert [r["str"] for r in cross.evaluate(scan)] == ["one"]
    single = sub("select * from t where u32 >= 2")
    assert [r["str"] for r in single.evaluate(scan)] == ["two", "three"]


# --- HTTP /sql ----------------------------------------------------------------------------------

HTTP_DATA: dict[str, list[Row]] = {
    "t": [t_row(u32=i, str=f"s{i}", f32=i / 2) for i in range(5)],
    "s": [s_row(u32=2, id=ME), s_row(u32=3, id=OTHER)],
}


def http(sql: str) -> Any:
    return bind_sql(parse_sql(sql), CATALOG, sender=ME)


def http_rows(sql: str) -> tuple[list[str], list[list[Any]]]:
    bound = http(sql)
    assert isinstance(bound, BoundSelect)
    return [c.name for c in bound.columns], bound.execute(lambda name: HTTP_DATA[name])


def test_http_select_projections() -> None:
    assert http_rows("select str from t where u32 < 2") == (["str"], [["s0"], ["s1"]])
    assert http_rows("select t.str as name, u32 from t where u32 = 4") == (
        ["name", "u32"],
        [["s4", 4]],
    )
    names, rows = http_rows("select * from t limit 2")
    assert names == [name for name, _ in T_COLUMNS] and len(rows) == 2
    assert rows[0][names.index("u32")] == 0
    assert http_rows("select t.u32 as a, s.u32 as b from t join s on t.u32 = s.u32") == (
        ["a", "b"],
        [[2, 2], [3, 3]],
    )
    bound = http("select str from t")
    assert isinstance(bound, BoundSelect) and bound.columns[0].type == STRING


def test_http_count_and_limit() -> None:
    assert http_rows("select count(*) as n from t") == (["n"], [[5]])
    assert http_rows("SELECT COUNT(*) n FROM t WHERE u32 > 2") == (["n"], [[2]])
    assert http_rows(
        "select count(*) as n from t join s on t.u32 = s.u32 where s.id = :sender"
    ) == (
        ["n"],
        [[1]],
    )
    assert http_rows("select u32 from t limit 3") == (["u32"], [[0], [1], [2]])
    assert http_rows("select u32 from t limit 1e1") == (["u32"], [[i] for i in range(5)])
    bound = http("select count(*) as n from t")
    assert isinstance(bound, BoundSelect) and bound.columns[0].type == U64
    assert parse_sql("select count(*) as n from t").projection == CountStar("n")  # type: ignore[union-attr]


def test_http_multi_way_join() -> None:
    assert http_rows(
        "select a.str from t a join s b on a.u32 = b.u32 join t c on c.u32 = a.u32 where b.id = :sender"
    ) == (["str"], [["s2"]])


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select id, str from s join t", "Names must be qualified when using joins"),
        ("select * from t limit '5'", "Unsupported"),
        ("select * from t limit -1", "Unsupported"),
        ("select * from t limit 1.5", "cannot be parsed as type `U64`"),
        ("select count(u32) as n from t", "Unsupported aggregate function"),
        ("select sum(u32) as n from t", "Unsupported aggregate function"),
        ("select count(*) from t", "Aggregate expressions must have column aliases"),
        ("select u32, count(*) as n from t", "Unsupported projection expression"),
        ("select u32 + 1 from t", "Unsupported projection expression"),
        ("select t.u32 as a, t.u8 as a from t", "Duplicate name `a`"),
        ("select nope from t", "`t` does not have a field `nope`"),
        ("select * from t order by u32", "Unsupported"),
        ("grant select on t to bob", "Unsupported"),
    ],
)
def test_http_select_rejections(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        http(sql)


def test_http_dml_parses_to_our_ast() -> None:
    assert parse_sql("INSERT INTO s (a, b) VALUES (1, 'x'), (-2, 0xFF)") == Insert(
        "s",
        ("a", "b"),
        (
            (Literal("number", "1"), Literal("string", "x")),
            (Literal("number", "-2"), Literal("hex", "FF")),
        ),
    )
    assert parse_sql("update t set u32 = 5, str = 'q' where u32 = 1") == Update(
        "t",
        (Assignment("u32", Literal("number", "5")), Assignment("str", Literal("string", "q"))),
        Compare("=", ColumnRef("t", "u32"), Literal("number", "1")),
    )
    assert parse_sql("DELETE FROM t") == Delete("t")
    assert parse_sql("delete from s where id = :sender") == Delete(
        "s", Compare("=", ColumnRef("s", "id"), SenderParam())
    )
    assert parse_sql("set row_limit = 10") == SetVar("row_limit", Literal("number", "10"))
    assert parse_sql("SET row_limit TO +2") == SetVar("row_limit", Literal("number", "2"))
    assert parse_sql("show row_limit") == ShowVar("row_limit")
    assert parse_sql('SHOW "row_limit";') == ShowVar("row_limit")
    select = parse_sql("select a.u32 as x, str from t as a")
    assert isinstance(select, Query)
    assert select.projection == ColumnList(
        (ProjectColumn(ColumnRef("a", "u32"), "x"), ProjectColumn(ColumnRef("a", "str"), "str"))
    )


def test_http_dml_binding() -> None:
    catalog = SimpleCatalog(
        [TableInfo.of("p", [("id", U32), ("name", STRING), ("owner", IDENTITY), ("ok", BOOL)])]
    )

    def bind(sql: str) -> Any:
        return bind_sql(parse_sql(sql), catalog, sender=ME)

    insert = bind(f"insert into p (id, name, owner, ok) values (1, 'a', 0x{ME.to_hex()}, true)")
    assert isinstance(insert, BoundInsert)
    assert insert.rows == ({"id": 1, "name": "a", "owner": ME, "ok": True},)
    update = bind("update p set name = 'b', ok = false where id = 1 or owner = :sender")
    assert isinstance(update, BoundUpdate)
    assert update.assignments == (("name", "b"), ("ok", False))
    assert update.predicate({"id": 2, "name": "", "owner": ME, "ok": True})
    assert not update.predicate({"id": 2, "name": "", "owner": OTHER, "ok": True})
    delete = bind("delete from p where id > 5")
    assert isinstance(delete, BoundDelete)
    assert delete.predicate({"id": 6}) and not delete.predicate({"id": 5})
    assert bind("delete from p").predicate({})  # no WHERE: every row
    assert bind("set row_limit = 1e3") == BoundSetVar("row_limit", 1000)
    assert bind("show row_limit") == BoundShowVar("row_limit")

    for sql, message in [
        ("insert into p values (1, 'a', 0x00, true)", r"number of fields \(0\)"),
        ("insert into p (id, name) values (1, 'a')", r"number of fields \(2\) .* columns \(4\)"),
        ("insert into p (a, b, c, d) values (1, 'a')", "Inserting a row with 2 values"),
        ("insert into p (a, b, c, d) values ('1', 'a', 0x00, true)", "Unexpected type"),
        ("insert into p (a, b, c, d) values (1, 2, 0x00, true)", "cannot be parsed"),
        ("insert into p (a, b, c, d) values (1, 'a', 'zz', true)", "Unexpected type"),
        (f"insert into p (a, b, c, d) values (1, 'a', 0x{ME.to_hex()}, 1)", "type `Bool`"),
        ("insert into p (a) select * from p", "Unsupported"),
        ("insert into p (a, b, c, d) values (1, 'a', :sender, true)", "Unsupported literal"),
        ("insert into nope (a) values (1)", "no such table: `nope`"),
        ("update p set nope = 1", "`p` does not have a field `nope`"),
        ("update p set id = '1'", "Unexpected type"),
        ("update p set id = id + 1", "Unsupported column/variable assignment"),
        ("update p as x set id = 1", "Unsupported"),
        ("update p set id = 1 where nope = 2", "`p` does not have a field `nope`"),
        ("delete from p as x", "Unsupported table expression in DELETE"),
        ("delete from p using v", "Multi-table DELETE is not supported"),
        ("delete from p where name = 1 = 2", "cannot be parsed as type `Bool`"),
        ("set nope = 1", "nope is not a valid system variable"),
        ("set row_limit = 'x'", "Unexpected type"),
        ("set row_limit = -1", "cannot be parsed as type `U64`"),
        ("show nope", "nope is not a valid system variable"),
        ("show", "sql parser error"),
    ]:
        with pytest.raises(SqlError, match=message):
            bind(sql)


def test_dml_on_views_is_rejected() -> None:
    for sql in ("delete from v", "update v set a = 'x'", "insert into v (a) values ('x')"):
        with pytest.raises(SqlError, match="`v` is a view; DML on views is not supported"):
            bind_sql(parse_sql(sql), CATALOG)


# --- helpers ------------------------------------------------------------------------------------


def test_format_type() -> None:
    assert format_type(U32) == "U32"
    assert format_type(array(STRING)) == "Array<String>"
    assert format_type(IDENTITY) == "(__identity__: U256)"
    assert format_type(option(U8)) == "(some: U8 | none: ())"


def test_parse_literal_directly() -> None:
    assert parse_literal("7", U8) == 7
    assert parse_literal("x", STRING) == "x"
    with pytest.raises(SqlError, match="cannot be parsed as type `Array<String>`"):
        parse_literal("x", array(STRING))
