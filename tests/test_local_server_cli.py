"""``spacetimedb-sdk serve`` as a real process: URL on stdout, clean shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from spacetimedb_sdk.local_server.serve_command import parse_database_specs
from spacetimedb_sdk.messages import CallReducerMsg, ReducerOk, ReducerResultMsg
from tests.local_server_support import CHAT_MODULE, RawClient, http_request


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "spacetimedb_sdk", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    assert line.startswith("Serving "), (
        line,
        proc.stderr.read() if proc.poll() is not None else "",
    )
    url = line.rsplit(" ", 1)[1].strip()
    proc.stdout.readline()  # the owner token
    return proc, url


def _stop(proc: subprocess.Popen[str], sig: signal.Signals) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_runs_until_signalled_and_keeps_data(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "data"
    proc, url = _start("--data-dir", str(data), f"chat={CHAT_MODULE}")
    ws_url = url.replace("http", "ws")

    async def session() -> None:
        client = await RawClient.connect(ws_url, "chat")
        await client.send(CallReducerMsg(1, 0, "send_message", b"\x04\x00\x00\x00kept"))
        result = await client.expect(ReducerResultMsg)
        assert isinstance(result.result, ReducerOk)
        await asyncio.get_running_loop().run_in_executor(None, proc.send_signal, sig)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await client.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1001

    try:
        asyncio.run(session())
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

    proc, url = _start("--data-dir", str(data), f"chat={CHAT_MODULE}")
    try:
        status, _, body = http_request(
            "POST", f"{url}/v1/database/chat/sql", "SELECT text FROM message"
        )
        assert status == 200
        assert json.loads(body)[0]["rows"] == [["kept"]]
    finally:
        assert _stop(proc, signal.SIGTERM) == 0


def test_serve_rejects_bad_arguments() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spacetimedb_sdk", "serve", "Bad_Name=server"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid database name" in result.stderr
    with pytest.raises(ValueError, match="NAME=PATH"):
        parse_database_specs(["chat"])
    with pytest.raises(ValueError, match="twice"):
        parse_database_specs(["chat=a", "chat=b"])
    assert parse_database_specs(["a=x", "b-2=y"]) == {"a": Path("x"), "b-2": Path("y")}


def test_serve_survives_kill_9_with_data_tokens_and_sequences(tmp_path: Path) -> None:
    """A committed call is durable before its result is sent: SIGKILL right after it, restart,
    and the rows, the caller's identity (the signing key was kept) and the data are all there."""
    data = tmp_path / "data"
    proc, url = _start("--data-dir", str(data), f"chat={CHAT_MODULE}")
    ws_url = url.replace("http", "ws")
    texts = [f"message {i}" for i in range(20)]

    async def write() -> tuple[str, str]:
        client = await RawClient.connect(ws_url, "chat")
        assert client.initial is not None
        for i, text in enumerate(texts):
            payload = text.encode()
            args = len(payload).to_bytes(4, "little") + payload
            await client.send(CallReducerMsg(i, 0, "send_message", args))
            result = await client.expect(ReducerResultMsg)
            assert isinstance(result.result, ReducerOk)
        return client.initial.identity.to_hex(), client.initial.token

    try:
        identity, token = asyncio.run(write())
        proc.kill()  # SIGKILL: no shutdown, no flush
        assert proc.wait(20) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()

    proc, url = _start("--data-dir", str(data), f"chat={CHAT_MODULE}")
    try:
        status, headers, body = http_request(
            "POST",
            f"{url}/v1/database/chat/sql",
            "SELECT * FROM message",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status == 200, body
        assert headers["spacetime-identity"] == identity  # the old token still validates
        rows = json.loads(body)[0]["rows"]
        assert sorted(row[2] for row in rows) == sorted(texts)
        assert {row[0][0] for row in rows} == {"0x" + identity.lstrip("0")}
    finally:
        assert _stop(proc, signal.SIGTERM) == 0


def test_serve_refuses_an_overlong_database_name_before_touching_the_disk(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "spacetimedb_sdk", "serve", "--data-dir", data, f"{'a' * 300}=x.py"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "invalid database name" in result.stderr
    assert "at most 64 characters (this one has 300)" in result.stderr
    assert "File name too long" not in result.stderr
    assert not (tmp_path / "data" / "databases").exists()
    assert list(parse_database_specs([f"{'b' * 64}=x"])) == ["b" * 64]
    with pytest.raises(ValueError, match="at most 64 characters"):
        parse_database_specs([f"{'b' * 65}=x"])
