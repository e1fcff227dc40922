"""Per-connection limits over real sockets: a client that stops reading is dropped once its
outgoing queue passes the cap, and a v3 frame packed with messages cannot stall the server or
queue unbounded work. Memory is the process's resident set (the server runs in-process)."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.local_server.websocket_session import SessionConfig
from spacetimedb_sdk.messages import (
    CallReducerMsg,
    QuerySetId,
    ReducerOk,
    ReducerResultMsg,
    SubscribeAppliedMsg,
    SubscribeMsg,
    TransactionUpdateMsg,
    UnsubscribeFlags,
    UnsubscribeMsg,
    encode_client_message,
)
from tests.local_server_support import CHAT_MODULE, V3, RawClient, encode_args
from tests.raw_websocket import RawSocketClient

__all__ = ["spacetimedb_local_server"]

MIB = 1024 * 1024


def resident_bytes() -> int:
    """This process's resident set size (VmRSS)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@contextmanager
def ping_latency(url: str) -> Iterator[list[float]]:
    """Ping ``/v1/ping`` back to back in a thread; the list gets every round-trip time."""
    times: list[float] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            started = time.monotonic()
            with urllib.request.urlopen(f"{url}/v1/ping", timeout=60) as response:
                assert response.status == 200
            times.append(time.monotonic() - started)
            time.sleep(0.02)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield times
    finally:
        stop.set()
        thread.join(60)


# ================================================================================ outgoing


def test_a_client_that_stops_reading_is_dropped_and_memory_stays_bounded(
    spacetimedb_local_server: ServerFactory,
) -> None:
    config = SessionConfig(max_outgoing_bytes=4 * MIB, idle_timeout=120.0)
    server = spacetimedb_local_server({"chat": CHAT_MODULE}, session_config=config)
    schema = server.runtime("chat").database.schema
    calls, size = 400, 32 * 1024
    laggards = []
    for i in range(4):  # distinct query set ids: each laggard's updates are encoded separately
        laggard = RawSocketClient.connect(server.port, receive_buffer=4096)
        laggard.send(
            encode_client_message(SubscribeMsg(1, QuerySetId(i + 1), ["SELECT * FROM user"]))
        )
        laggards.append(laggard)

    async def main() -> int:
        reader = await RawClient.connect(server.ws_url, "chat", protocols=[V3])
        await reader.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM user"]))
        await reader.expect(SubscribeAppliedMsg)
        writer = await RawClient.connect(server.ws_url, "chat", protocols=[V3])
        await reader.expect(TransactionUpdateMsg)  # the writer came online
        before = resident_bytes()

        step = 20  # the reader keeps up: each step waits for its updates
        for start in range(0, calls, step):
            names = (f"{i:05}" * (size // 5) for i in range(start, start + step))
            await writer.send(
                *(
                    CallReducerMsg(i, 0, "set_name", encode_args(schema, "set_name", name))
                    for i, name in enumerate(names, start)
                )
            )
            for i in range(start, start + step):
                result = await writer.expect(ReducerResultMsg, timeout=30)
                assert result.request_id == i and isinstance(result.result, ReducerOk)
                await reader.expect(TransactionUpdateMsg, timeout=30)  # served as before
        grown = resident_bytes() - before
        await reader.close()
        await writer.close()
        return grown

    grown = asyncio.run(asyncio.wait_for(main(), 120))
    # Each laggard was sent about 25 MiB of updates; without the cap the server kept them all
    # (about 100 MiB of growth here, against about 25 MiB with it).
    assert grown < 40 * MIB, f"the server grew by {grown / MIB:.0f} MiB"
    for laggard in laggards:
        assert laggard.read_until_close() is None  # dropped at the TCP level, as the real server
        laggard.close()
    assert server.runtime("chat").database.connected_clients() == []


def test_stopping_the_server_does_not_wait_for_a_client_that_does_not_read(
    spacetimedb_local_server: ServerFactory,
) -> None:
    config = SessionConfig(flush_timeout=1.0, idle_timeout=120.0)
    server = spacetimedb_local_server({"chat": CHAT_MODULE}, session_config=config)
    schema = server.runtime("chat").database.schema
    laggard = RawSocketClient.connect(server.port, receive_buffer=4096)
    laggard.send(encode_client_message(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM user"])))

    async def main() -> None:  # about 19 MiB of updates for it: under the cap, over any buffer
        writer = await RawClient.connect(server.ws_url, "chat", protocols=[V3])
        for start in range(0, 300, 50):
            await writer.send(
                *(
                    CallReducerMsg(
                        i, 0, "set_name", encode_args(schema, "set_name", f"{i:05}" * 6554)
                    )
                    for i in range(start, start + 50)
                )
            )
            for _ in range(50):
                await writer.expect(ReducerResultMsg, timeout=30)
        await writer.close()

    asyncio.run(asyncio.wait_for(main(), 60))
    started = time.monotonic()
    server.stop_thread()
    elapsed = time.monotonic() - started
    laggard.close()
    # flush_timeout (1 s) for its queue, then it is cut off: no Close frame could reach it.
    assert elapsed < 5.0, f"stopping took {elapsed:.1f} s"


# ================================================================================ incoming


UNSUBSCRIBE = encode_client_message(UnsubscribeMsg(0, QuerySetId(0), UnsubscribeFlags.DEFAULT))


@pytest.mark.parametrize(
    ("payload", "codes"),
    [
        (UNSUBSCRIBE * 200_000, {1013}),  # 200,000 requests in one 2 MB frame
        (b"\x00" * 2 * MIB, {1011, 1013}),  # empty Subscribes: ~161,000 of them
    ],
    ids=["unsubscribes", "zeros"],
)
def test_one_v3_frame_cannot_queue_unbounded_work(
    spacetimedb_local_server: ServerFactory, payload: bytes, codes: set[int]
) -> None:
    server: LocalServer = spacetimedb_local_server({"chat": CHAT_MODULE})
    offender = RawSocketClient.connect(server.port)
    before = resident_bytes()
    with ping_latency(server.url) as pings:
        time.sleep(0.1)
        offender.send(payload)
        closed = offender.read_until_close()
        time.sleep(0.3)
    grown = resident_bytes() - before
    offender.close()
    assert closed is not None and closed.close_code in codes, closed
    assert pings and max(pings) < 1.0, f"/v1/ping took up to {max(pings):.1f} s"
    assert grown < 150 * MIB, f"the server grew by {grown / MIB:.0f} MiB"
