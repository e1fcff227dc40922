"""The token file store, compatible with the Rust SDK's ``credentials::File``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from spacetimedb_sdk.client import credentials
from spacetimedb_sdk.errors import BsatnDecodeError

TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiLwn5GLIn0.c2ln"


def test_format_is_the_bsatn_of_a_token_struct(tmp_path: Path) -> None:
    store = credentials.File("chat", directory=tmp_path)
    store.save(TOKEN)
    data = (tmp_path / "chat").read_bytes()
    assert data == len(TOKEN).to_bytes(4, "little") + TOKEN.encode()
    assert store.load() == TOKEN


def test_default_location_is_the_rust_sdk_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    store = credentials.File("my-app")
    assert store.path == tmp_path / ".spacetimedb_client_credentials" / "my-app"
    assert store.load() is None
    store.save("t")
    assert store.load() == "t"


def test_permissions_and_atomic_replacement(tmp_path: Path) -> None:
    directory = tmp_path / "creds"
    store = credentials.File("k", directory=directory)
    store.save("first")
    store.save("second")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert store.load() == "second"
    assert sorted(p.name for p in directory.iterdir()) == ["k"]  # no temporary files left


def test_a_rust_written_file_is_read(tmp_path: Path) -> None:
    # What the Rust SDK writes: bsatn::to_vec(&Credentials { token }) = u32 length + UTF-8.
    (tmp_path / "rust").write_bytes(b"\x05\x00\x00\x00hello")
    assert credentials.File("rust", directory=tmp_path).load() == "hello"


@pytest.mark.parametrize(
    "data", [b"", b"\x05\x00", b"\x05\x00\x00\x00hi", b"\x02\x00\x00\x00\xff\xfe"]
)
def test_corrupt_files_raise(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "bad").write_bytes(data)
    with pytest.raises(BsatnDecodeError):
        credentials.File("bad", directory=tmp_path).load()


def test_clear_and_key_validation(tmp_path: Path) -> None:
    store = credentials.File("x", directory=tmp_path)
    store.clear()
    store.save("t")
    store.clear()
    assert store.load() is None
    for bad in ("", "a/b", "..", "."):
        with pytest.raises(ValueError):
            credentials.File(bad, directory=tmp_path)
