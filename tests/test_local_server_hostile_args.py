"""The server decodes client messages with the same codec: a four-byte length claim in reducer
arguments or a subscription is refused cleanly, and the server carries on.

The server runs as its own process with a capped address space, so a regression (building
2**31 elements) ends in that process's MemoryError, never in the test run's.
"""

from __future__ import annotations

import asyncio
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from spacetimedb_sdk.messages import (
    CallReducerMsg,
    InternalErrorOutcome,
    OneOffQueryMsg,
    OneOffQueryResultMsg,
    ReducerOk,
    ReducerResultMsg,
)
from spacetimedb_sdk.values import Ok
from tests.local_server_support import V3, RawClient

REPO = Path(__file__).resolve().parent.parent
MODULE = REPO / "tests" / "local_server_modules" / "zero_size_args.py"
HUGE = b"\xff\xff\xff\x7f"  # Array length 2**31 - 1
MEMORY_CAP = 1536 * 1024 * 1024
# `python -m spacetimedb_sdk serve ...` with the address space capped first.
LAUNCH = (
    "import resource, runpy, sys; "
    f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP})); "
    "sys.argv[0] = 'spacetimedb_sdk'; runpy.run_module('spacetimedb_sdk', run_name='__main__')"
)


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "serve", "--port", "0", f"zs={MODULE}"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = None
        for _ in range(300):
            found = re.search(r"listening on (http://\S+)", log.read_text())
            if found:
                url = found.group(1)
                break
            if proc.poll() is not None:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert url is not None, log.read_text()
        yield url
        assert proc.poll() is None, "the server died:\n" + log.read_text()[-3000:]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # busy (a regression building billions of elements)
            proc.kill()
            proc.wait(10)


def test_a_huge_zero_size_array_in_reducer_args_is_refused_and_the_server_lives(
    server_url: str,
) -> None:
    ws_url = server_url.replace("http://", "ws://")

    async def main() -> None:
        client = await RawClient.connect(ws_url, "zs")
        await client.send(CallReducerMsg(1, 0, "count_units", HUGE))
        refused = await client.expect(ReducerResultMsg, timeout=30)
        assert isinstance(refused.result, InternalErrorOutcome), refused
        assert "invalid arguments" in refused.result.message
        assert "zero-size" in refused.result.message
        # The same connection, then a new one, still work.
        await client.send(CallReducerMsg(2, 0, "count_units", struct.pack("<I", 3)))
        done = await client.expect(ReducerResultMsg)
        assert isinstance(done.result, ReducerOk), done
        other = await RawClient.connect(ws_url, "zs", protocols=(V3,))
        await other.send(OneOffQueryMsg(3, "SELECT * FROM tally"))
        answer = await other.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok) and len(answer.result.value.tables[0].rows) == 1
        await client.close()
        await other.close()

    asyncio.run(asyncio.wait_for(main(), 120))


def test_a_huge_query_count_in_a_subscribe_is_refused_and_the_server_lives(
    server_url: str,
) -> None:
    ws_url = server_url.replace("http://", "ws://")

    async def main() -> None:
        client = await RawClient.connect(ws_url, "zs")
        # Subscribe (tag 0): request id, query set id, then 2**31 - 1 query strings claimed.
        await client.ws.send(b"\x00" + struct.pack("<II", 1, 1) + HUGE)
        with pytest.raises(ConnectionClosed):
            while True:
                await client.recv(timeout=30)
        other = await RawClient.connect(ws_url, "zs")
        await other.send(CallReducerMsg(4, 0, "count_units", struct.pack("<I", 0)))
        done = await other.expect(ReducerResultMsg)
        assert isinstance(done.result, ReducerOk), done
        await other.close()

    asyncio.run(asyncio.wait_for(main(), 120))
