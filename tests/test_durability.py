"""Durability: commits survive ``kill -9``; restarts restore tables, sequences and clients."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.errors import ModuleDefError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.durability import DATABASE_FILE
from spacetimedb_sdk.local_server.host import Database
from spacetimedb_sdk.local_server.sequences import BLOCK_SIZE
from tests.conftest import REPO_ROOT

SERVER = REPO_ROOT / "server"
FEATURES = Path(__file__).parent / "server_modules" / "features.py"
OWNER = Identity(0x0E)
ALICE = Identity(0xA11CE)

CHILD = textwrap.dedent(
    """
    import sys
    from spacetimedb_sdk import algebraic_type as at
    from spacetimedb_sdk.bsatn import compile_codec
    from spacetimedb_sdk.identity import ConnectionId, Identity
    from spacetimedb_sdk.local_server.host import Database

    module, data_dir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    alice = Identity(0xA11CE)
    db = Database.open("durable", module, data_dir=data_dir, owner=Identity(0x0E))
    if module.endswith("features.py"):
        add = compile_codec(at.product_of([("name", at.STRING), ("level", at.U32)]))
        xy = compile_codec(at.product_of([("x", at.U32), ("y", at.U32)]))
        for i in range(count):
            out = db.call_reducer("add_player", add.encode({"name": f"p{i}", "level": i}), alice)
            assert out.committed, out
            assert db.call_reducer("explode", xy.encode({"x": i, "y": i}), alice).committed
            print(f"committed {i}", flush=True)
    else:
        assert db.client_connected(alice, ConnectionId(7)) is None
        text = compile_codec(at.product_of([("text", at.STRING)]))
        for i in range(count):
            assert db.call_reducer("send_message", text.encode({"text": f"m{i}"}), alice).committed
            print(f"committed {i}", flush=True)
    print("done", flush=True)
    sys.stdin.read()  # wait to be killed
    """
)


def run_and_kill(module: Path, data_dir: Path, count: int, kill_after: str = "done") -> list[str]:
    """Run the writer in a subprocess and SIGKILL it as soon as it prints ``kill_after``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(module), str(data_dir), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.strip() == kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, lines
    return lines


def test_commits_survive_kill_9_and_restart_disconnects_clients(tmp_path: Path) -> None:
    data = tmp_path / "chat"
    lines = run_and_kill(SERVER, data, 25)
    assert lines[-1] == "done"
    db = Database.open("durable", SERVER, data_dir=data)
    assert [m.text for _, m in db.table_rows("message")] == [f"m{i}" for i in range(25)]
    # The connection that died with the server was disconnected on restart.
    assert [(u.identity, u.online) for _, u in db.table_rows("user")] == [(ALICE, False)]
    assert db.connected_clients() == []
    assert db.owner_identity == OWNER  # kept from the first run
    db.close()


def test_kill_right_after_a_commit_returns(tmp_path: Path) -> None:
    data = tmp_path / "chat"
    lines = run_and_kill(SERVER, data, 1000, kill_after="committed 9")
    assert lines[-1] == "committed 9"
    db = Database.open("durable", SERVER, data_dir=data)
    texts = [m.text for _, m in db.table_rows("message")]
    # Every commit that returned is there (a few more may have landed before the kill).
    assert texts[:10] == [f"m{i}" for i in range(10)]
    assert texts == [f"m{i}" for i in range(len(texts))]
    db.close()


def test_sequences_continue_after_the_reserved_block(tmp_path: Path) -> None:
    data = tmp_path / "features"
    run_and_kill(FEATURES, data, 5)
    db = Database.open("durable", FEATURES, data_dir=data)
    assert sorted(p.id for _, p in db.table_rows("player")) == [1, 2, 3, 4, 5]
    assert [(p.name, p.level) for _, p in db.table_rows("player")] == [
        (f"p{i}", i) for i in range(5)
    ]
    assert db.table("explosion").count() == 0
    add = compile_codec(at.product_of([("name", at.STRING), ("level", at.U32)]))
    assert db.call_reducer("add_player", add.encode({"name": "after", "level": 0}), ALICE).committed
    assert max(p.id for _, p in db.table_rows("player")) == 1 + BLOCK_SIZE
    db.close()
    # Event rows were never written to disk.
    with sqlite3.connect(data / DATABASE_FILE) as conn:
        tables = {t for (t,) in conn.execute("SELECT DISTINCT tbl FROM rows")}
    assert "explosion" not in tables and "player" in tables


def test_init_runs_only_on_creation(tmp_path: Path) -> None:
    module = tmp_path / "initmod.py"
    module.write_text(
        "from spacetimedb_sdk.module import ReducerContext, reducer, table, u32\n"
        "@table(public=True)\n"
        "class Boot:\n"
        "    n: u32\n"
        "@reducer(init=True)\n"
        "def init(ctx: ReducerContext) -> None:\n"
        "    ctx.db.boot.insert(Boot(ctx.db.boot.count() + 1))\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    for _ in range(3):
        db = Database.open("initmod", module, data_dir=data)
        assert [b.n for _, b in db.table_rows("boot")] == [1]
        db.close()


def test_in_process_restart_keeps_everything(tmp_path: Path) -> None:
    data = tmp_path / "features"
    db = Database.open("f", FEATURES, data_dir=data, owner=OWNER)
    add = compile_codec(at.product_of([("name", at.STRING), ("level", at.U32)]))
    for i in range(3):
        db.call_reducer("add_player", add.encode({"name": f"p{i}", "level": i}), ALICE)
    level_up = compile_codec(at.product_of([("name", at.STRING)]))
    assert db.call_reducer("level_up", level_up.encode({"name": "p1"}), ALICE).committed
    out = db.call_reducer(
        "add_two_then_fail",
        compile_codec(at.product_of([("f", at.BOOL)])).encode({"f": True}),
        ALICE,
    )
    assert not out.committed
    before = sorted(b for b, _ in db.table_rows("player"))
    assert db.client_connected(ALICE, ConnectionId(1)) is None
    identity = db.identity
    db.close()
    db = Database.open("f", FEATURES, data_dir=data)
    assert sorted(b for b, _ in db.table_rows("player")) == before
    assert db.table("player").find("name", "p1")[0][1].level == 2
    assert db.identity == identity and db.owner_identity == OWNER
    assert db.connected_clients() == []
    db.close()


def test_changed_row_types_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Database.open("chat", SERVER, data_dir=data).close()
    changed = tmp_path / "changed.py"
    changed.write_text(
        "from spacetimedb_sdk.module import Identity, table, primary_key\n"
        "@table(public=True)\n"
        "class User:\n"
        "    identity: Identity = primary_key()\n"
        "    online: bool\n",
        encoding="utf-8",
    )
    with pytest.raises(ModuleDefError, match="changed its row type"):
        Database.open("chat", changed, data_dir=data)
