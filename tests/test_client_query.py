"""The typed query builder: the SQL it renders, and client-side evaluation."""

from __future__ import annotations

from typing import Any

import pytest

from spacetimedb_sdk.client.query import QueryBuilder, and_, not_, or_, sql_literal
from spacetimedb_sdk.core.table_layout import compile_module
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.timestamp import Timestamp
from spacetimedb_sdk.uuid import Uuid
from tests.client_helpers import schema

q = QueryBuilder(compile_module(schema()))

CASES: dict[str, tuple[Any, str]] = {
    "whole table": (q.user, 'SELECT * FROM "user"'),
    "bool column": (
        q.user.where(lambda u: u.online),
        'SELECT * FROM "user" WHERE "user"."online" = TRUE',
    ),
    "comparison": (
        q.score.where(lambda s: s.level >= 10),
        'SELECT * FROM "score" WHERE "score"."level" >= 10',
    ),
    "chained where is AND": (
        q.score.where(lambda s: s.team == 1).where(lambda s: s.rank < 3),
        'SELECT * FROM "score" WHERE ("score"."team" = 1) AND ("score"."rank" < 3)',
    ),
    "or and not": (
        q.score.where(lambda s: (s.team == 1) | ~(s.player == "bot")),
        """SELECT * FROM "score" WHERE ("score"."team" = 1) OR ("score"."player" <> 'bot')""",
    ),
    "not of and (De Morgan)": (
        q.score.where(lambda s: not_(and_(s.team.eq(1), s.rank.gt(2)))),
        'SELECT * FROM "score" WHERE ("score"."team" <> 1) OR ("score"."rank" <= 2)',
    ),
    "not of or": (
        q.score.where(lambda s: not_(or_(s.team.lt(1), s.rank.ne(2)))),
        'SELECT * FROM "score" WHERE ("score"."team" >= 1) AND ("score"."rank" = 2)',
    ),
    "string quoting": (
        q.user.where(lambda u: u.name == "O'Brien"),
        """SELECT * FROM "user" WHERE "user"."name" = 'O''Brien'""",
    ),
    "identity literal": (
        q.user.where(lambda u: u.identity == Identity(0xAB)),
        'SELECT * FROM "user" WHERE "user"."identity" = 0x' + "0" * 62 + "ab",
    ),
    "timestamp literal": (
        q.message.where(lambda m: m.sent > Timestamp(0)),
        """SELECT * FROM "message" WHERE "message"."sent" > '1970-01-01T00:00:00.000000Z'""",
    ),
    "left semijoin": (
        q.message.left_semijoin(q.user, lambda m, u: m.sender == u.identity),
        'SELECT "message".* FROM "user" JOIN "message" ON "message"."sender" = "user"."identity"',
    ),
    "right semijoin with filters": (
        q.message.where(lambda m: m.text == "hi").right_semijoin(
            q.user.where(lambda u: u.online), lambda m, u: m.sender == u.identity
        ),
        'SELECT "user".* FROM "message" JOIN "user" ON "message"."sender" = "user"."identity" '
        """WHERE ("message"."text" = 'hi') AND ("user"."online" = TRUE)""",
    ),
    "semijoin then where": (
        q.message.left_semijoin(q.user, lambda m, u: m.sender == u.identity).where(
            lambda m: m.text != "x"
        ),
        'SELECT "message".* FROM "user" JOIN "message" ON "message"."sender" = "user"."identity" '
        """WHERE "message"."text" <> 'x'""",
    ),
}


def test_semijoin_filter_is_where() -> None:
    """The official builders spell it ``filter`` on a semijoin too (sdk-test-procedural-view-pk)."""
    query = (
        q.message.filter(lambda m: m.text == "hi")
        .right_semijoin(q.user, lambda m, u: m.sender == u.identity)
        .filter(lambda u: u.online)
    )
    assert query.to_sql() == (
        'SELECT "user".* FROM "message" JOIN "user" ON "message"."sender" = "user"."identity" '
        """WHERE ("message"."text" = 'hi') AND ("user"."online" = TRUE)"""
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_sql_output(name: str) -> None:
    query, sql = CASES[name]
    assert query.to_sql() == sql
    assert str(query) == sql


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_local_server_parses_the_sql(name: str) -> None:
    sql_module = pytest.importorskip("spacetimedb_sdk.local_server.sql")
    sql_module.parse_subscription(CASES[name][1])


def test_literals() -> None:
    assert sql_literal(True) == "TRUE" and sql_literal(-5) == "-5" and sql_literal(1.5) == "1.5"
    assert sql_literal(b"\x01\xff") == "0x01ff"
    assert sql_literal(ConnectionId(1)) == "0x" + "0" * 31 + "1"
    u = Uuid(0x123)
    assert sql_literal(u) == f"'{u}'"
    with pytest.raises(ValueError):
        sql_literal(float("nan"))
    with pytest.raises(TypeError):
        sql_literal(object())


def test_mistakes_are_caught() -> None:
    with pytest.raises(AttributeError, match="no column"):
        q.user.where(lambda u: u.nope == 1)
    with pytest.raises(AttributeError):
        q.nope  # noqa: B018
    with pytest.raises(TypeError, match=r"use & \| ~"):
        q.user.where(lambda u: (u.online == True) and (u.name == "x"))  # noqa: E712
    with pytest.raises(ValueError, match="cannot use columns"):
        q.user.where(lambda u: q.message.cols.text == "x")
    with pytest.raises(ValueError, match="semijoin condition"):
        q.message.left_semijoin(q.user, lambda m, u: m.text == "x")


def test_client_side_evaluation() -> None:
    query = q.score.where(lambda s: (s.level >= 3) & ~(s.player == "bot"))
    assert query.matches({"id": 1, "player": "ann", "level": 5, "team": 0, "rank": 0})
    assert not query.matches({"id": 1, "player": "bot", "level": 5, "team": 0, "rank": 0})
    assert not query.matches({"id": 1, "player": "ann", "level": 1, "team": 0, "rank": 0})
    assert q.user.matches({"anything": 1})
