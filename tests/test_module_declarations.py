"""The module API's declarations beyond tables and reducers: views, row-level security, the
case-conversion policy, ``Result`` columns, and the context helpers (UUIDs, ``sender_auth``,
``sleep_until``, ``ctx.http``, the view query builder)."""

from __future__ import annotations

import http.server
import json
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import pytest

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.errors import ModuleDefError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.auth import identity_from_claims
from spacetimedb_sdk.local_server.module_loader import load_module
from spacetimedb_sdk.module import (
    AuthCtx,
    HttpClient,
    HttpError,
    ProcedureContext,
    ReducerContext,
    build_module_model,
    describe_module,
)
from spacetimedb_sdk.module.context import uuid_v4_from_bytes, uuid_v7_from_counter
from spacetimedb_sdk.module.query import QueryBuilder, TableNames
from spacetimedb_sdk.raw_module_def import (
    CaseConversionPolicy,
    CaseConversionPolicySection,
    RawModuleDefV10,
    RawViewDefV10,
    RawViewPrimaryKeyDefV10,
    RowLevelSecuritySection,
    ViewPrimaryKeysSection,
    ViewsSection,
)
from spacetimedb_sdk.schema import ModuleSchema
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.values import Err, Ok

HEADER = """
from __future__ import annotations
from dataclasses import dataclass
from spacetimedb_sdk.module import *
"""


def _module(tmp_path: Path, body: str, name: str = "mod") -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(body))
    return load_module(path)


S = TypeVar("S")


def _section(raw: RawModuleDefV10, kind: type[S]) -> S:
    found = raw.section(kind)
    assert found is not None, kind.__name__
    return found


# ---------------------------------------------------------------------------------------- views

VIEWS = """
@table(public=True)
class Player:
    id: u64 = primary_key()
    owner: Identity = index("btree")
    level: u32

@dataclass
class Summary:
    count: u64

@view(public=True)
def my_players(ctx: ViewContext) -> list[Player]:
    return list(ctx.db.player.owner.filter(ctx.sender))

@view(public=True, primary_key="id", name="PlayersAt")
def players_at(ctx: AnonymousViewContext, level: u32) -> list[Player]:
    return [p for p in ctx.db.player.iter() if p.level == level]

@view
def summary(ctx: AnonymousViewContext) -> Summary | None:
    return Summary(ctx.db.player.count())

@view(public=True, accessor="everyone")
def all_players(ctx: ViewContext) -> Query[Player]:
    return ctx.from_.player
"""


def test_views_are_described_like_the_rust_bindings(tmp_path: Path) -> None:
    raw = describe_module(_module(tmp_path, VIEWS))
    views = _section(raw, ViewsSection)
    player = at.RefType(0)
    summary_ref = at.RefType(1)
    assert views.items == (
        RawViewDefV10("everyone", 0, True, False, at.product_of([]),
                      at.product_of([("__query__", player)])),
        RawViewDefV10("my_players", 1, True, False, at.product_of([]), at.array(player)),
        RawViewDefV10("players_at", 0, True, True, at.product_of([("level", at.U32)]),
                      at.array(player)),
        RawViewDefV10("summary", 1, False, True, at.product_of([]), at.option(summary_ref)),
    )  # fmt: skip
    pks = _section(raw, ViewPrimaryKeysSection)
    assert pks.items == (RawViewPrimaryKeyDefV10("players_at", ("id",)),)
    schema = ModuleSchema.from_raw(raw)
    assert schema.view("PlayersAt").primary_key == 0
    assert schema.view("everyone").primary_key == 0  # inferred from the table for a query view
    assert schema.view("summary").return_shape == "option"
    assert [c.name for c in schema.view("summary").columns] == ["count"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("@view\ndef v(ctx) -> list[Player]: ...", "annotate the first parameter"),
        ("@view\ndef v(ctx: ViewContext) -> Player: ...", "must return `Row | None`"),
        ("@view\ndef v(ctx: ViewContext) -> list[u32]: ...", "must return `Row | None`"),
        ("@view(primary_key='nope')\ndef v(ctx: ViewContext) -> list[Player]: ...",
         "primary_key 'nope' is not a field"),
        ("@view\ndef v(ctx: ViewContext, *rest: u32) -> list[Player]: ...", "must be positional"),
        ("@view\ndef my_players(ctx: ViewContext) -> list[Player]: ...\n"
         "@reducer\ndef my_players_r(ctx: ReducerContext) -> None: ...\n"
         "@view(name='my_players_r')\ndef w(ctx: ViewContext) -> list[Player]: ...",
         "duplicate function name"),
    ],
)  # fmt: skip
def test_bad_views_are_clear_errors(tmp_path: Path, body: str, message: str) -> None:
    base = "@table\nclass Player:\n    id: u64 = primary_key()\n"
    with pytest.raises(ModuleDefError, match=message):
        describe_module(_module(tmp_path, base + body))


# ------------------------------------------------------------- RLS, case conversion, Result


def test_rls_filters_and_case_conversion_policy(tmp_path: Path) -> None:
    module = _module(
        tmp_path,
        """
        case_conversion_policy(CaseConversionPolicy.NONE)
        MINE = client_visibility_filter("SELECT * FROM user_score WHERE owner = :sender")

        @table(public=True)
        class UserScore:
            owner: Identity = primary_key()
            bestScore: u32

        @reducer
        def SetScore(ctx: ReducerContext, bestScore: u32) -> None: ...
        """,
    )
    model = build_module_model(module)
    raw = model.raw_def
    rls = _section(raw, RowLevelSecuritySection)
    assert [r.sql for r in rls.items] == ["SELECT * FROM user_score WHERE owner = :sender"]
    assert _section(raw, CaseConversionPolicySection) == CaseConversionPolicySection(
        CaseConversionPolicy.NONE
    )
    schema = ModuleSchema.from_raw(raw)
    # Under the NONE policy the server keeps every name verbatim (a table's is its accessor,
    # by default the class name in snake_case); the host model agrees.
    assert [t.name for t in schema.tables] == ["user_score"] == [t.name for t in model.tables]
    assert [c.name for c in schema.table("user_score").columns] == ["owner", "bestScore"]
    assert [c.name for c in model.tables[0].columns] == ["owner", "bestScore"]
    assert schema.reducer("SetScore").name == "SetScore" == model.functions[0].name
    assert schema.row_level_security == ("SELECT * FROM user_score WHERE owner = :sender",)


def test_default_policy_emits_no_policy_section(tmp_path: Path) -> None:
    raw = describe_module(_module(tmp_path, "@table\nclass T:\n    x: u8\n"))
    assert raw.section(CaseConversionPolicySection) is None
    assert raw.section(RowLevelSecuritySection) is None


def test_policy_declared_twice_is_an_error(tmp_path: Path) -> None:
    body = (
        "case_conversion_policy(CaseConversionPolicy.NONE)\n"
        "case_conversion_policy(CaseConversionPolicy.SNAKE_CASE)\n"
    )
    with pytest.raises(ModuleDefError, match="declared more than once"):
        describe_module(_module(tmp_path, body))


def test_result_columns_and_parameters(tmp_path: Path) -> None:
    module = _module(
        tmp_path,
        """
        @table
        class Outcome:
            r: Result[i32, str]
            maybe: Result[list[u16], Identity] | None

        @procedure
        def check(ctx: ProcedureContext, r: Result[str, u32]) -> Result[u64, str]:
            return Ok(1)
        """,
    )
    model = build_module_model(module)
    cols = {c.attr: c.type for c in model.tables[0].columns}
    assert cols["r"] == at.result(at.I32, at.STRING)
    assert cols["maybe"] == at.option(at.result(at.array(at.U16), at.IDENTITY))
    proc = model.functions[0]
    assert proc.params.elements[0].algebraic_type == at.result(at.STRING, at.U32)
    assert proc.return_type == at.result(at.U64, at.STRING)
    codec = compile_codec(at.RefType(model.tables[0].type_ref), model.typespace, model.bindings)
    row = model.tables[0].cls(r=Err("bad"), maybe=Ok([1, 2]))
    assert codec.decode(codec.encode(row)) == row


def test_a_union_that_is_not_a_result_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ModuleDefError, match="Result\\[T, E\\] for a Result"):
        describe_module(_module(tmp_path, "@table\nclass T:\n    x: Ok[u8] | Ok[str]\n"))


# ------------------------------------------------------------------------------------- UUIDs

T0 = Timestamp(1_700_000_000_123_456)


def _ctx(connection_id: ConnectionId | None = None, **kw: object) -> ReducerContext:
    return ReducerContext(Identity(1), connection_id, T0, Identity(2), None, **kw)  # type: ignore[arg-type]


def test_uuid_v7_layout() -> None:
    counter = 0x5A5A_1234
    u = uuid_v7_from_counter(counter, T0, b"\xff\x01\x02\x03").to_uuid()
    b = u.bytes
    assert int.from_bytes(b[0:6], "big") == T0.micros_since_unix_epoch // 1000
    assert u.version == 7 and u.variant == "specified in RFC 4122"
    got = (b[7] << 23) | (b[9] << 15) | (b[10] << 7) | (b[11] >> 1)
    assert got == counter
    assert b[12:16] == b"\x7f\x01\x02\x03"  # the top random bit is cleared


def test_uuid_v7_is_monotonic_within_a_call_and_deterministic() -> None:
    ctx = _ctx()
    uuids = [ctx.new_uuid_v7() for _ in range(1000)]
    assert uuids == sorted(uuids) and len(set(uuids)) == 1000
    # Each context starts its counter at 0 and draws from its own seeded rng.
    assert _ctx().new_uuid_v7() == uuids[0]


def test_uuid_v4() -> None:
    u = _ctx().new_uuid_v4().to_uuid()
    assert u.version == 4 and u.variant == "specified in RFC 4122"
    assert uuid_v4_from_bytes(bytes(16)).to_uuid().hex == "00000000000040008000000000000000"


# ---------------------------------------------------------------------------------- auth


def test_sender_auth_defaults_and_claims() -> None:
    assert _ctx().sender_auth.is_internal  # no connection: the database itself
    no_claims = _ctx(ConnectionId(7)).sender_auth
    assert not no_claims.is_internal and not no_claims.has_jwt and no_claims.jwt is None
    payload = json.dumps({"iss": "https://issuer.example", "sub": "alice", "aud": "game",
                          "role": "admin"})  # fmt: skip
    auth = _ctx(ConnectionId(7), sender_auth=AuthCtx.from_jwt_payload(payload)).sender_auth
    assert auth.has_jwt and auth.jwt is not None
    claims = auth.jwt
    assert (claims.issuer, claims.subject, claims.audience) == (
        "https://issuer.example", "alice", ("game",)
    )  # fmt: skip
    assert claims.get("role") == "admin" and claims.raw_payload == payload
    assert claims.identity == identity_from_claims("https://issuer.example", "alice")
    with pytest.raises(ValueError, match="JSON object"):
        AuthCtx.from_jwt_payload("[1, 2]")


# ------------------------------------------------------------------------- procedure helpers


def _proc_ctx(**kw: object) -> ProcedureContext:
    def no_tx(body: object) -> None:
        raise AssertionError("no transaction expected")

    return ProcedureContext(Identity(1), None, Timestamp.now(), Identity(2), no_tx, **kw)  # type: ignore[arg-type]


def test_sleep_until_waits_and_updates_the_timestamp() -> None:
    ctx = _proc_ctx()
    wake = ctx.timestamp + TimeDuration(30_000)
    ctx.sleep_until(wake)
    assert ctx.timestamp >= wake
    hooked = _proc_ctx(sleep=lambda at: at + TimeDuration(1))
    hooked.sleep_until(wake)
    assert hooked.timestamp == wake + TimeDuration(1)


@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 404 if self.path == "/missing" else 200
            body = f"{self.command} {self.path}".encode()
            self.send_response(status)
            self.send_header("X-Test", "yes")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_procedure_http_client(http_server: str) -> None:
    http = _proc_ctx().http
    ok = http.get(f"{http_server}/hello")
    assert (ok.status, ok.text(), ok.headers["x-test"]) == (200, "GET /hello", "yes")
    missing = http.get(f"{http_server}/missing")
    assert missing.status == 404  # any status is a response
    with pytest.raises(HttpError, match="error sending request"):
        HttpClient(timeout=5).get("http://127.0.0.1:1/")


# ------------------------------------------------------------------------------ query builder


def test_query_builder_sql() -> None:
    names = {
        "player1": TableNames("Player1Canonical", {"currentLevel2": "current_level_2",
                                                   "Player1Id": "player_1_id"}),
        "person2": TableNames("person_2", {"playerRef": "player_ref"}),
    }  # fmt: skip
    q = QueryBuilder(names)
    view = q.player1.where(lambda p: p.currentLevel2.eq(2)).right_semijoin(
        q.person2, lambda pl, per: pl.Player1Id.eq(per.playerRef)
    )
    assert view.to_sql() == (
        "SELECT person_2.* FROM Player1Canonical JOIN person_2 "
        "ON Player1Canonical.player_1_id = person_2.player_ref "
        "WHERE Player1Canonical.current_level_2 = 2"
    )
    plain = QueryBuilder()
    both = plain.t.where(lambda r: r.a.gt(1) & (r.b.eq("it's") | r.c.ne(True)))
    assert both.to_sql() == "SELECT * FROM t WHERE (t.a > 1) AND ((t.b = 'it''s') OR (t.c <> TRUE))"
    left = plain.a.left_semijoin(plain.b, lambda a, b: a.id.eq(b.id))
    assert left.to_sql() == "SELECT a.* FROM a JOIN b ON a.id = b.id"
    with pytest.raises(AttributeError, match="no column 'nope'"):
        q.player1.where(lambda p: p.nope.eq(1))
    with pytest.raises(TypeError, match="filter the left-hand query"):
        plain.a.right_semijoin(plain.b.where(lambda b: b.x.eq(1)), lambda a, b: a.id.eq(b.id))
