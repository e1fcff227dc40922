"""Damaged database files are refused at start-up with a typed error naming the file; the
``serve --fresh-database`` option moves them aside (nothing deleted) and starts empty."""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.durability import DATABASE_FILE, CorruptDatabaseError
from spacetimedb_sdk.local_server.host import Database
from tests.local_server_support import CHAT_MODULE, http_request

FEATURES = Path(__file__).parent / "server_modules" / "features.py"
ALICE = Identity(0xA11CE)
PLAYERS = 300  # enough rows for a file of many pages


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes]:
    """A closed database with PLAYERS players; (its directory, a stored row, that row renamed)."""
    data = tmp_path_factory.mktemp("healthy") / "data"
    stored, renamed = _build(data)
    return data, stored, renamed


def _build(data: Path) -> tuple[bytes, bytes]:
    db = Database.open("f", FEATURES, data_dir=data)
    add = compile_codec(at.product_of([("name", at.STRING), ("level", at.U32)]))
    for i in range(PLAYERS):
        assert db.call_reducer("add_player", add.encode({"name": f"p{i}", "level": i}), ALICE)
    stored, player = next(iter(db.table_rows("player")))
    renamed = db.row_codec("player").encode(dataclasses.replace(player, name="someone else"))
    db.close()
    return stored, renamed


def _sql(data: Path, *statements: str, params: tuple[object, ...] = ()) -> None:
    conn = sqlite3.connect(data / DATABASE_FILE)
    try:
        for statement in statements:
            conn.execute(statement, params if "?" in statement else ())
        conn.commit()
    finally:
        conn.close()


def _truncate(fraction: float) -> Callable[[Path, bytes, bytes], None]:
    def damage(data: Path, _stored: bytes, _renamed: bytes) -> None:
        path = data / DATABASE_FILE
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.truncate(int(size * fraction))

    return damage


def _garbage_header(data: Path, _stored: bytes, _renamed: bytes) -> None:
    with open(data / DATABASE_FILE, "r+b") as f:
        f.write(b"this is not a database header!!!" * 4)


def _garbage_page(data: Path, _stored: bytes, _renamed: bytes) -> None:
    path = data / DATABASE_FILE
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        f.write(b"\xff" * 4096)


def _statements(*sql: str) -> Callable[[Path, bytes, bytes], None]:
    def damage(data: Path, _stored: bytes, _renamed: bytes) -> None:
        _sql(data, *sql)

    return damage


def _duplicate_primary_key(data: Path, _stored: bytes, renamed: bytes) -> None:
    # Same id as an existing player, another name: two rows with one primary key.
    _sql(data, "INSERT INTO rows(tbl, row) VALUES ('player', ?)", params=(renamed,))


def _duplicate_unique_name(data: Path, stored: bytes, _renamed: bytes) -> None:
    codec = compile_codec(at.product_of([("id", at.U64)]))
    # Player rows start with the u64 id: same bytes after it, a new id -> the name repeats.
    other = codec.encode({"id": 10_000}) + stored[8:]
    _sql(data, "INSERT INTO rows(tbl, row) VALUES ('player', ?)", params=(other,))


def _undecodable_row(data: Path, _stored: bytes, _renamed: bytes) -> None:
    _sql(data, "INSERT INTO rows(tbl, row) VALUES ('player', ?)", params=(b"\x01\x02\x03",))


def _log_without_file(data: Path, _stored: bytes, _renamed: bytes) -> None:
    (data / DATABASE_FILE).rename(data / "elsewhere")
    (data / f"{DATABASE_FILE}-wal").write_bytes(b"\x00" * 32)


CASES: dict[str, tuple[Callable[[Path, bytes, bytes], None], str]] = {
    "zero-length file": (_truncate(0.0), "the file is empty"),
    "truncated to half": (_truncate(0.5), "SQLite"),
    "truncated by one page": (_truncate(0.97), "SQLite"),
    "garbage header": (_garbage_header, "SQLite cannot read it"),
    "garbage page": (_garbage_page, "SQLite"),
    "duplicate primary key": (_duplicate_primary_key, "unique constraint player_id_key"),
    "duplicate unique column": (_duplicate_unique_name, "unique constraint player_name_key"),
    "row that does not decode": (_undecodable_row, "does not decode as its row type"),
    "row stored as text": (
        _statements("UPDATE rows SET row = 'text' WHERE id = (SELECT min(id) FROM rows)"),
        "not stored as bytes",
    ),
    "rows of an unrecorded table": (
        _statements("UPDATE rows SET tbl = 'ghost' WHERE id = (SELECT min(id) FROM rows)"),
        "`ghost`, a table it never recorded",
    ),
    "schema record damaged": (
        _statements("UPDATE tables SET row_type = '{not json' WHERE name = 'player'"),
        "recorded row type of table `player` is damaged",
    ),
    "schema table missing": (_statements("DROP TABLE tables"), "`tables` table is missing"),
    "rows table missing": (_statements("DROP TABLE rows"), "`rows` table is missing"),
    "rows table replaced": (
        _statements("DROP TABLE rows", "CREATE TABLE rows(tbl TEXT, row BLOB)"),
        "`rows` table has columns",
    ),
    "identity lost": (
        _statements("DELETE FROM meta WHERE key = 'owner_identity'"),
        "owner_identity is missing",
    ),
    "initialized marker lost": (
        _statements("DELETE FROM meta WHERE key = 'initialized'"),
        "never marked initialized",
    ),
    "format marker lost": (
        _statements("DELETE FROM meta WHERE key = 'format'"),
        "format marker is missing",
    ),
    "sequence record damaged": (
        _statements("UPDATE sequences SET allocated = 'many'"),
        "sequence record of table `player` is damaged",
    ),
    "system variable damaged": (
        _statements("INSERT INTO meta(key, value) VALUES ('var:row_limit', X'2D31')"),
        "system variable 'var:row_limit'",
    ),
    "log without its database file": (_log_without_file, "write-ahead log is still there"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_damaged_files_are_refused_with_a_typed_error_naming_the_file(
    tmp_path: Path, case: str, healthy: tuple[Path, bytes, bytes]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(healthy[0], data)
    stored, renamed = healthy[1:]
    damage, expected = CASES[case]
    damage(data, stored, renamed)
    with pytest.raises(CorruptDatabaseError) as info:
        Database.open("f", FEATURES, data_dir=data)
    path = data / DATABASE_FILE
    assert info.value.path == path
    assert str(path) in str(info.value)
    assert expected in info.value.problem, info.value.problem
    assert "--fresh-database" in str(info.value)


def test_a_healthy_file_still_opens_with_every_row(
    tmp_path: Path, healthy: tuple[Path, bytes, bytes]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(healthy[0], data)
    db = Database.open("f", FEATURES, data_dir=data)
    assert db.table("player").count() == PLAYERS
    db.close()


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "spacetimedb_sdk", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_refuses_a_damaged_database_until_asked_for_a_fresh_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    database_dir = data / "databases" / "chat"
    Database.open("chat", CHAT_MODULE, data_dir=database_dir).close()
    (database_dir / DATABASE_FILE).write_bytes(b"")  # zero length: everything gone

    refused = _serve("--data-dir", str(data), f"chat={CHAT_MODULE}")
    out, err = refused.communicate(timeout=60)
    assert refused.returncode == 1, (out, err)
    assert "Serving" not in out
    assert str(database_dir / DATABASE_FILE) in err
    assert "the file is empty" in err and "--fresh-database" in err

    fresh = _serve("--data-dir", str(data), "--fresh-database", f"chat={CHAT_MODULE}")
    try:
        assert fresh.stdout is not None and fresh.stderr is not None
        line = fresh.stdout.readline()
        assert line.startswith("Serving chat at "), (line, fresh.stderr.read())
        url = line.rsplit(" ", 1)[1].strip()
        status, _, body = http_request(
            "POST", f"{url}/v1/database/chat/sql", "SELECT * FROM message"
        )
        assert status == 200 and json.loads(body)[0]["rows"] == []
    finally:
        fresh.send_signal(signal.SIGTERM)
        _, err = fresh.communicate(timeout=60)
    assert fresh.returncode == 0, err
    assert "moved the old database to" in err
    # The damaged file was kept, under a new name.
    (kept,) = database_dir.glob(f"{DATABASE_FILE}.set-aside-*")
    assert kept.stat().st_size == 0
