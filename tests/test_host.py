"""``Database``: reducer calls, failures and rollback, lifecycle, procedures, schedules, reads."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.algebraic_type import AlgebraicType
from spacetimedb_sdk.bsatn import compile_codec, encode
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.host import Database
from spacetimedb_sdk.local_server.outcomes import (
    FATAL_ERROR_TEXT,
    CallStatus,
    CommitInfo,
    TxKind,
)
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from tests.conftest import REPO_ROOT

SERVER = REPO_ROOT / "server"
FEATURES = Path(__file__).parent / "server_modules" / "features.py"
ALICE = Identity(0xA11CE)
BOB = Identity(0xB0B)
OWNER = Identity(0x0E)
CONN = ConnectionId(0xC0)
T0 = 1_700_000_000_000_000


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, micros: int = T0) -> None:
        self.micros = micros

    def __call__(self) -> Timestamp:
        return Timestamp(self.micros)

    def advance(self, micros: int) -> None:
        self.micros += micros


def args(*fields: tuple[str, AlgebraicType, Any]) -> bytes:
    """BSATN of a reducer argument product."""
    return encode(at.product_of([(n, t) for n, t, _ in fields]), {n: v for n, _, v in fields})


def text(value: str) -> bytes:
    return args(("text", at.STRING, value))


def name(value: str) -> bytes:
    return args(("name", at.STRING, value))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chat(clock: FakeClock) -> Database:
    return Database.open("chat", SERVER, owner=OWNER, clock=clock)


@pytest.fixture
def feat(clock: FakeClock) -> Database:
    return Database.open("features", FEATURES, owner=OWNER, clock=clock)


def rows(db: Database, table: str) -> list[Any]:
    return [v for _, v in db.table_rows(table)]


# ============================================================================ the chat module


def test_chat_flow(chat: Database, clock: FakeClock) -> None:
    commits: list[CommitInfo] = []
    chat.add_commit_listener(commits.append)
    assert chat.client_connected(ALICE, CONN) is None
    assert [(u.identity, u.name, u.online) for u in rows(chat, "user")] == [(ALICE, None, True)]
    assert chat.connected_clients() == [(ALICE, CONN)]
    assert commits[-1].kind is TxKind.CLIENT_CONNECTED and commits[-1].function == "on_connect"

    out = chat.call_reducer("send_message", text("hello"), ALICE, CONN, request=17)
    assert out.status is CallStatus.OK and out.committed and out.message is None
    assert out.timestamp == Timestamp(T0) and out.reducer_id == chat.reducer_id("send_message")
    (msg,) = rows(chat, "message")
    assert (msg.sender, msg.sent, msg.text) == (ALICE, Timestamp(T0), "hello")
    info = commits[-1]
    assert (
        info.kind,
        info.function,
        info.caller_identity,
        info.caller_connection_id,
        info.request,
    ) == (
        TxKind.REDUCER,
        "send_message",
        ALICE,
        CONN,
        17,
    )
    assert info.outcome is not None and info.outcome.status is CallStatus.OK
    (inserted,) = info.delta.tables["message"].inserts
    assert inserted[0] == chat.row_codec("message").encode(msg)

    out = chat.call_reducer("set_name", name("Alice"), ALICE, CONN)
    assert out.committed
    d = out.delta.tables["user"]
    assert [v.name for _, v in d.deletes] == [None] and [v.name for _, v in d.inserts] == ["Alice"]

    chat.client_disconnected(ALICE, CONN)
    assert [(u.name, u.online) for u in rows(chat, "user")] == [("Alice", False)]
    assert chat.connected_clients() == []
    count = len(commits)
    chat.client_disconnected(ALICE, CONN)  # not registered any more: nothing runs
    assert len(commits) == count
    clock.advance(1)
    assert chat.client_connected(ALICE, ConnectionId(2)) is None
    assert [(u.name, u.online) for u in rows(chat, "user")] == [("Alice", True)]


def test_chat_user_errors(chat: Database) -> None:
    chat.client_connected(ALICE, CONN)
    out = chat.call_reducer("set_name", name(""), ALICE, CONN)
    assert (out.status, out.message) == (CallStatus.USER_ERROR, "Names must not be empty")
    assert not out.delta
    out = chat.call_reducer("send_message", text(""), ALICE, CONN)
    assert (out.status, out.message) == (CallStatus.USER_ERROR, "Messages must not be empty")
    out = chat.call_reducer("set_name", name("Bob"), BOB, None)
    assert (out.status, out.message) == (CallStatus.USER_ERROR, "Cannot set name for unknown user")
    assert rows(chat, "message") == []


def test_rejected_calls(chat: Database, clock: FakeClock) -> None:
    out = chat.call_reducer("nope", b"", ALICE, CONN)
    assert (out.status, out.message) == (CallStatus.NO_SUCH_FUNCTION, "no such reducer")
    assert out.timestamp == Timestamp(T0)
    for reducer, kind in [
        ("init", "Init"),
        ("on_connect", "OnConnect"),
        ("on_disconnect", "OnDisconnect"),
    ]:
        out = chat.call_reducer(reducer, b"", OWNER, CONN)
        assert out.status is CallStatus.LIFECYCLE
        assert out.message == f"can't directly call special {kind} lifecycle reducer"
    out = chat.call_reducer("send_message", b"\x05\x00", ALICE, CONN)
    assert out.status is CallStatus.BAD_ARGS
    assert out.message is not None and out.message.startswith(
        "invalid arguments for reducer send_message: "
    )
    out = chat.call_reducer("send_message", text("x") + b"!", ALICE, CONN)
    assert out.status is CallStatus.BAD_ARGS  # trailing bytes


def test_disconnect_of_unknown_user_logs_a_warning(
    chat: Database, caplog: pytest.LogCaptureFixture
) -> None:
    chat.client_connected(ALICE, CONN)
    with chat.transaction(OWNER) as tx:
        for b, _ in chat.table_rows("user"):
            tx.delete("user", b)
    chat.client_disconnected(ALICE, CONN)
    assert "Disconnect event for unknown user" in caplog.text
    assert chat.connected_clients() == []


# ============================================================================ failures roll back


@pytest.mark.parametrize("sender_error", [True, False])
def test_failed_reducer_rolls_back_every_write(
    feat: Database, sender_error: bool, caplog: pytest.LogCaptureFixture
) -> None:
    add = compile_codec(at.product_of([("name", at.STRING), ("level", at.U32)]))
    assert feat.call_reducer(
        "add_player", add.encode({"name": "alice", "level": 1}), ALICE
    ).committed
    assert feat.call_reducer("add_player", add.encode({"name": "bob", "level": 2}), ALICE).committed
    before = {t: set(feat.table(t).row_bytes()) for t in feat.tables}
    commits: list[CommitInfo] = []
    feat.add_commit_listener(commits.append)
    out = feat.call_reducer(
        "add_two_then_fail", args(("fail_with_sender_error", at.BOOL, sender_error)), ALICE
    )
    if sender_error:
        assert (out.status, out.message) == (CallStatus.USER_ERROR, "no thanks")
    else:
        assert (out.status, out.message) == (CallStatus.INTERNAL_ERROR, FATAL_ERROR_TEXT)
        assert "RuntimeError: boom" in caplog.text
    assert not out.delta and commits == []
    assert {t: set(feat.table(t).row_bytes()) for t in feat.tables} == before
    # The sequence was rolled back too: the next id follows the committed ones.
    assert feat.call_reducer(
        "add_player", add.encode({"name": "carol", "level": 3}), ALICE
    ).committed
    assert sorted(p.id for p in rows(feat, "player")) == [1, 2, 3]


def test_unhandled_unique_violation_is_an_internal_error(
    feat: Database, caplog: pytest.LogCaptureFixture
) -> None:
    add = compile_codec(at.product_of([("name", at.STRING), ("level", at.U32)]))
    feat.call_reducer("add_player", add.encode({"name": "alice", "level": 1}), ALICE)
    out = feat.call_reducer("duplicate_name", name("alice"), ALICE)
    assert (out.status, out.message) == (CallStatus.INTERNAL_ERROR, FATAL_ERROR_TEXT)
    assert "insertion error on table `player`:duplicate unique column" in caplog.text
    assert len(rows(feat, "player")) == 1


def test_whole_rows_as_arguments_and_auto_inc(feat: Database) -> None:
    player_cls = feat.model.table("player").cls
    ref = feat.model.table("player").type_ref
    codec = compile_codec(
        at.product_of([("player", at.RefType(ref))]), feat.model.typespace, feat.model.bindings
    )
    shape = feat.py_module.Shape
    point = feat.py_module.Point
    p = player_cls(
        0, "zed", 4, 1, 2, feat.py_module.Color.BLUE, shape.square(point(1.0, 2.0)), point(3.0, 4.0)
    )
    out = feat.call_reducer("add_player_full", codec.encode({"player": p}), ALICE)
    assert out.committed
    (stored,) = rows(feat, "player")
    assert (
        stored.id == 1
        and stored.shape == shape.square(point(1.0, 2.0))
        and stored.color.name == "BLUE"
    )
    p.id = 50
    p.name = "explicit"
    assert feat.call_reducer("add_player_full", codec.encode({"player": p}), ALICE).committed
    assert sorted(x.id for x in rows(feat, "player")) == [1, 50]
    generic = feat.row_to_generic("player", feat.table("player").row_bytes()[0])
    assert generic["name"] == "zed" and generic["home"] == {"x": 3.0, "y": 4.0}
    assert [b for b, _ in feat.table("player").find("name", "zed")] == [
        feat.table("player").row_bytes()[0]
    ]
    assert len(feat.table("player").find("home", {"x": 3.0, "y": 4.0})) == 2


def test_btree_filter_through_module_handles(feat: Database) -> None:
    add = compile_codec(at.product_of([("name", at.STRING), ("level", at.U32)]))
    for i, level in enumerate([5, 1, 3, 3, 9]):
        feat.call_reducer("add_player", add.encode({"name": f"p{i}", "level": level}), ALICE)
    lv = compile_codec(at.product_of([("lo", at.U32), ("hi", at.U32)]))
    assert feat.call_reducer("players_in_levels", lv.encode({"lo": 3, "hi": 9}), ALICE).committed
    labels = sorted(t.label for t in rows(feat, "tagged"))
    assert labels == ["level:p0", "level:p2", "level:p3"]
    assert [t.seq for t in rows(feat, "tagged")] == [1, 2, 3]


def test_module_handles_directly(feat: Database, clock: FakeClock) -> None:
    """Drive ``ctx.db`` handles inside a transaction opened through the write API."""
    mod = feat.py_module
    db = feat.db_view
    with feat.transaction(OWNER):
        a = db.player.insert(mod.Player(0, "a", 1, team=1, score=10))
        db.player.insert(mod.Player(0, "b", 2, team=1, score=20))
        db.player.insert(mod.Player(0, "c", 2, team=2, score=5))
        assert a.id == 1
        assert db.player.count() == 3 and len(list(db.player.iter())) == 3
        assert db.player.name.find("b").level == 2
        assert db.player.id.find(99) is None
        assert [p.name for p in db.player.level.filter(2)] == ["b", "c"]
        assert [p.name for p in db.player.level.filter(range(1, 2))] == ["a"]
        assert [p.name for p in db.player.level.filter(slice(2, None))] == ["b", "c"]
        assert [p.name for p in db.player.by_team_score.filter(1)] == ["a", "b"]
        assert [p.name for p in db.player.by_team_score.filter((1, 20))] == ["b"]
        from spacetimedb_sdk.module import Range

        assert [p.name for p in db.player.by_team_score.filter((1, Range(0, 15)))] == ["a"]
        found = db.player.name.find("a")
        found.level = 7  # mutating a read value does not touch the table...
        assert db.player.name.find("a").level == 1
        db.player.id.update(found)  # ...until it is written back
        assert db.player.name.find("a").level == 7
        with pytest.raises(TypeError, match="primary key"):
            db.player.name.update(found)
        assert db.player.level.delete(2) == 2
        assert db.player.name.delete("a") and not db.player.name.delete("a")
        assert db.player.count() == 0
        db.tagged.insert(mod.Tag("x"))
        assert [t.label for t in db.tagged.by_label.filter("x")] == ["x"]
        assert db.tagged.by_label.delete("x") == 1
    from spacetimedb_sdk.module.errors import NoTransactionError

    with pytest.raises(NoTransactionError):
        db.player.count()


def test_private_reducers_are_owner_only(feat: Database) -> None:
    out = feat.call_reducer("owner_only", b"", ALICE)
    assert (out.status, out.message) == (CallStatus.NO_SUCH_FUNCTION, "no such reducer")
    assert feat.call_reducer("owner_only", b"", OWNER).committed
    out = feat.call_reducer("tick", b"", ALICE)
    assert out.status is CallStatus.NO_SUCH_FUNCTION


def test_event_tables_publish_events_and_keep_nothing(feat: Database) -> None:
    xy = compile_codec(at.product_of([("x", at.U32), ("y", at.U32)]))
    out = feat.call_reducer("explode", xy.encode({"x": 1, "y": 2}), ALICE)
    assert out.committed
    d = out.delta.tables["explosion"]
    assert d.is_event and [(v.x, v.y) for _, v in d.inserts] == [(1, 2)] and d.deletes == ()
    assert rows(feat, "explosion") == []
    assert feat.call_reducer("explode", xy.encode({"x": 1, "y": 2}), ALICE).committed


def test_client_connected_can_refuse(feat: Database) -> None:
    assert feat.client_connected(ALICE, CONN) is None
    assert feat.call_reducer("ban", args(("who", at.IDENTITY, BOB)), ALICE).committed
    assert feat.client_connected(BOB, ConnectionId(9)) == "you are banned"
    assert feat.connected_clients() == [(ALICE, CONN)]


# ============================================================================ procedures


def test_procedures(feat: Database) -> None:
    ab = compile_codec(at.product_of([("a", at.U32), ("b", at.U32)]))
    out = feat.call_procedure("add_numbers", ab.encode({"a": 2, "b": 40}), ALICE)
    assert out.status is CallStatus.OK and out.return_value == encode(at.U32, 42)
    commits: list[CommitInfo] = []
    feat.add_commit_listener(commits.append)
    lf = compile_codec(at.product_of([("label", at.STRING), ("fail", at.BOOL)]))
    out = feat.call_procedure(
        "insert_via_tx", lf.encode({"label": "one", "fail": False}), ALICE, CONN
    )
    assert out.status is CallStatus.OK and out.return_value == encode(at.U32, 1)
    assert [(c.kind, c.function, c.caller_connection_id) for c in commits] == [
        (TxKind.PROCEDURE, "insert_via_tx", CONN)
    ]
    out = feat.call_procedure("insert_via_tx", lf.encode({"label": "two", "fail": True}), ALICE)
    assert (out.status, out.message) == (
        CallStatus.INTERNAL_ERROR,
        "The module instance encountered a fatal error: RuntimeError: rollback please",
    )
    assert [t.label for t in rows(feat, "tagged")] == ["one"]
    out = feat.call_procedure("shape_of", args(("radius", at.F32, 2.0)), ALICE)
    ref = next(i for n, i in feat.model.type_defs if n == "Shape")
    shape_codec = compile_codec(at.RefType(ref), feat.model.typespace, feat.model.bindings)
    assert shape_codec.decode(out.return_value) == feat.py_module.Shape.circle(2.0)
    assert feat.call_procedure("nope", b"", ALICE).message == "No such procedure"
    assert feat.call_procedure("add_numbers", b"", ALICE).status is CallStatus.BAD_ARGS


# ============================================================================ schedules


def schedule(db: Database, note: str, micros: int, repeat: bool) -> None:
    codec = compile_codec(
        at.product_of([("note", at.STRING), ("micros", at.I64), ("repeat", at.BOOL)])
    )
    out = db.call_reducer(
        "schedule_tick", codec.encode({"note": note, "micros": micros, "repeat": repeat}), ALICE
    )
    assert out.committed, out


def log_notes(db: Database) -> list[tuple[str, int]]:
    return [(r.note, r.at.micros_since_unix_epoch - T0) for r in rows(db, "tick_log")]


def test_one_shot_schedule_runs_once_at_its_time(feat: Database, clock: FakeClock) -> None:
    assert feat.next_scheduled_time() is None
    schedule(feat, "once", 1000, repeat=False)
    assert feat.next_scheduled_time() == Timestamp(T0 + 1000)
    assert feat.run_due_schedules(Timestamp(T0 + 999)) == []
    commits: list[CommitInfo] = []
    feat.add_commit_listener(commits.append)
    (out,) = feat.run_due_schedules(Timestamp(T0 + 1500))
    assert out.status is CallStatus.OK
    assert log_notes(feat) == [("once", 1500)]
    assert rows(feat, "tick_log")[0].sender == feat.identity
    assert rows(feat, "tick_schedule") == []  # deleted after the call
    assert [c.kind for c in commits] == [TxKind.SCHEDULED, TxKind.SCHEDULE_CLEANUP]
    assert commits[0].caller_identity == feat.identity and commits[0].caller_connection_id is None
    assert feat.next_scheduled_time() is None
    assert feat.run_due_schedules(Timestamp(T0 + 10_000)) == []


def test_past_times_run_immediately_and_cancellation(feat: Database, clock: FakeClock) -> None:
    schedule(feat, "past", -5, repeat=False)
    schedule(feat, "cancelled", 100, repeat=False)
    (sched_id,) = [r.scheduled_id for r in rows(feat, "tick_schedule") if r.note == "cancelled"]
    assert feat.call_reducer(
        "cancel_tick", args(("scheduled_id", at.U64, sched_id)), ALICE
    ).committed
    assert len(feat.run_due_schedules()) == 1
    feat.run_due_schedules(Timestamp(T0 + 1000))
    assert log_notes(feat) == [("past", 0)]


def test_interval_schedule_repeats_anchored_and_skips_missed_ticks(
    feat: Database, clock: FakeClock
) -> None:
    schedule(feat, "every", 100, repeat=True)
    assert feat.next_scheduled_time() == Timestamp(T0 + 100)
    feat.run_due_schedules(Timestamp(T0 + 100))
    feat.run_due_schedules(Timestamp(T0 + 230))  # late: runs once, next stays on the grid
    assert feat.next_scheduled_time() == Timestamp(T0 + 300)
    feat.run_due_schedules(Timestamp(T0 + 750))  # several ticks missed: one run, then 800
    assert feat.next_scheduled_time() == Timestamp(T0 + 800)
    assert log_notes(feat) == [("every", 100), ("every", 230), ("every", 750)]
    assert len(rows(feat, "tick_schedule")) == 1  # interval rows stay
    (row,) = rows(feat, "tick_schedule")
    assert row.scheduled_at == ScheduleAt.interval(TimeDuration(100))
    feat.call_reducer("cancel_tick", args(("scheduled_id", at.U64, row.scheduled_id)), ALICE)
    assert feat.next_scheduled_time() is None


# ============================================================================ lifecycle & misc


def test_init_runs_once_as_the_owner(tmp_path: Path) -> None:
    module = tmp_path / "initmod.py"
    module.write_text(
        "from spacetimedb_sdk.module import Identity, ReducerContext, reducer, table\n"
        "@table(public=True)\n"
        "class Seen:\n"
        "    who: Identity\n"
        "@reducer(init=True)\n"
        "def init(ctx: ReducerContext) -> None:\n"
        "    ctx.db.seen.insert(Seen(ctx.sender))\n",
        encoding="utf-8",
    )
    db = Database.open("initmod", module, owner=OWNER)
    assert [r.who for r in rows(db, "seen")] == [OWNER]
    assert db.identity != OWNER and db.owner_identity == OWNER


def test_failing_init_fails_the_publish(tmp_path: Path) -> None:
    module = tmp_path / "badinit.py"
    module.write_text(
        "from spacetimedb_sdk.module import ReducerContext, SenderError, reducer\n"
        "@reducer(init=True)\n"
        "def init(ctx: ReducerContext) -> None:\n"
        "    raise SenderError('not today')\n",
        encoding="utf-8",
    )
    from spacetimedb_sdk.errors import ModuleDefError

    with pytest.raises(ModuleDefError, match="not today"):
        Database.open("badinit", module)


def test_sql_style_writes_and_generic_reads(chat: Database) -> None:
    commits: list[CommitInfo] = []
    chat.add_commit_listener(commits.append)
    with chat.transaction(OWNER, None) as tx:
        b = tx.insert("message", {"sender": ALICE, "sent": Timestamp(5), "text": "via sql"})
    assert commits[-1].kind is TxKind.SQL and commits[-1].delta.tables["message"].insert_bytes == [
        b
    ]
    assert list(chat.table("message").generic_rows()) == [
        {"sender": ALICE, "sent": Timestamp(5), "text": "via sql"}
    ]
    with pytest.raises(RuntimeError), chat.transaction(OWNER) as tx:
        tx.delete("message", b)
        raise RuntimeError("abort")
    assert chat.table("message").count() == 1
    info = chat.table("message").sql_info()
    assert info.name == "message" and [c.name for c in info.columns] == ["sender", "sent", "text"]


def test_listener_errors_do_not_break_calls(
    chat: Database, caplog: pytest.LogCaptureFixture
) -> None:
    def bad(_info: CommitInfo) -> None:
        raise ValueError("listener bug")

    chat.add_commit_listener(bad)
    chat.client_connected(ALICE, CONN)
    assert chat.call_reducer("send_message", text("hi"), ALICE, CONN).committed
    assert "listener bug" in caplog.text
    chat.remove_commit_listener(bad)


def test_reducer_call_overhead_is_small(chat: Database) -> None:
    chat.client_connected(ALICE, CONN)
    payload = text("hello")
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        chat.call_reducer("send_message", payload, ALICE, CONN)
    per_call = (time.perf_counter() - start) / n
    # ~40-50 µs on the reference machine; generous bound against noisy CI.
    assert per_call < 500e-6


def test_scheduled_procedures_see_their_one_shot_row_deleted(feat: Database) -> None:
    codec = compile_codec(at.product_of([("note", at.STRING), ("micros", at.I64)]))
    assert feat.call_reducer(
        "schedule_proc", codec.encode({"note": "p", "micros": 10}), ALICE
    ).committed
    assert feat.next_scheduled_time() == Timestamp(T0 + 10)
    (out,) = feat.run_due_schedules(Timestamp(T0 + 10))
    assert out.status is CallStatus.OK
    assert [r.note for r in rows(feat, "tick_log")] == ["p:False"]
    assert rows(feat, "proc_schedule") == []
