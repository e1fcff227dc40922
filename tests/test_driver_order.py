"""DRIVER TESTS: both drivers take a message as soon as the socket delivers it (the asyncio driver
applies it from the protocol callback, the threaded one gets it from websockets' reading thread
with no queue or thread in between), yet keep the server's order when a message does not arrive
in one binary frame (fragmented, or a text frame): that one and every message after it take
websockets' queue.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from spacetimedb_sdk.client import Compression
from spacetimedb_sdk.frames import V3_BSATN_PROTOCOL, split_client_payload
from spacetimedb_sdk.messages import (
    OK_EMPTY,
    CallReducerMsg,
    InitialConnectionMsg,
    ReducerResultMsg,
    encode_server_message,
)
from spacetimedb_sdk.timestamp import Timestamp
from tests.client_helpers import ME, MY_CONNECTION
from tests.test_client_drivers import ScriptedServer, Session, builder


async def _answers_fragmented_first(session: Session) -> None:
    """Answer three calls in order: the first as a fragmented binary message, then a text frame
    (a protocol violation the client reports), then the other two in one binary frame each."""
    await session.send(InitialConnectionMsg(ME, MY_CONNECTION, "minted-token"))
    calls = [await session.recv() for _ in range(3)]
    assert all(isinstance(c, CallReducerMsg) for c in calls)
    frames = [
        b"\x00" + encode_server_message(ReducerResultMsg(c.request_id, Timestamp(1), OK_EMPTY))
        for c in calls
        if isinstance(c, CallReducerMsg)
    ]
    first = frames[0]
    await session.ws.send([first[:5], first[5:]])  # two fragments
    await session.ws.send("not a binary frame")
    for frame in frames[1:]:
        await session.ws.send(frame)
    await session.ws.wait_closed()


def test_asyncio_driver_keeps_the_order_behind_a_fragmented_message() -> None:
    async def main() -> tuple[list[Any], list[Any], bool]:
        with ScriptedServer(_answers_fragmented_first) as server:
            order: list[Any] = []
            errors: list[Any] = []
            loop_thread = threading.get_ident()
            async with builder(
                server.url,
                with_compression=Compression.NONE,
                on_error=lambda ctx, e: errors.append(type(e).__name__),
            ).build_async() as conn:
                calls = [conn.reducers.set_name(f"n{i}") for i in range(3)]
                for i, call in enumerate(calls):
                    call.then(
                        lambda ctx, ev, i=i: order.append((i, threading.get_ident() == loop_thread))
                    )
                await asyncio.wait_for(asyncio.gather(*calls), 5)
            return order, errors, conn.is_closed

    order, errors, closed = asyncio.run(main())
    assert order == [(0, True), (1, True), (2, True)]
    assert errors == ["ProtocolError"]
    assert closed


def test_threaded_driver_keeps_the_order_behind_a_fragmented_message() -> None:
    with ScriptedServer(_answers_fragmented_first) as server:
        order: list[Any] = []
        errors: list[Any] = []
        conn = builder(
            server.url,
            with_compression=Compression.NONE,
            on_error=lambda ctx, e: errors.append(type(e).__name__),
        ).build()
        thread = conn.run_threaded()
        calls = [conn.reducers.set_name(f"n{i}") for i in range(3)]
        for i, call in enumerate(calls):
            call.then(lambda ctx, ev, i=i: order.append((i, threading.current_thread() is thread)))
        for call in calls:
            assert call.result(5).committed
        conn.disconnect()
        thread.join(5)
    assert order == [(0, True), (1, True), (2, True)]
    assert errors == ["ProtocolError"]
    assert conn.is_closed


def test_threaded_frame_tick_takes_what_arrived_without_waiting() -> None:
    with ScriptedServer(_answers_fragmented_first) as server:
        order: list[int] = []
        conn = builder(server.url, with_compression=Compression.NONE).build()
        calls = [conn.reducers.set_name(f"n{i}") for i in range(3)]
        for i, call in enumerate(calls):
            call.then(lambda ctx, ev, i=i: order.append(i))
        deadline = time.monotonic() + 5
        while len(order) < 3 and time.monotonic() < deadline:
            started = time.monotonic()
            conn.frame_tick()
            assert time.monotonic() - started < 0.5  # never waits for a message
            time.sleep(0.005)
        assert order == [0, 1, 2]
        conn.disconnect()
        assert conn.wait_closed(5)


async def _reads_late(session: Session) -> None:
    """Read nothing for a while (the client's socket buffers fill up), then answer every call."""
    await session.send(InitialConnectionMsg(ME, MY_CONNECTION, "minted-token"))
    await asyncio.sleep(0.5)
    while True:
        call = await session.recv()
        assert isinstance(call, CallReducerMsg)
        await session.send(ReducerResultMsg(call.request_id, Timestamp(1), OK_EMPTY))


def test_asyncio_driver_sends_in_order_when_the_socket_is_full(monkeypatch: Any) -> None:
    from spacetimedb_sdk.asyncio import connection as driver_module

    waited: list[int] = []
    finish = driver_module._finish

    async def counting_finish(coroutine: Any, step: Any) -> None:
        waited.append(1)
        await finish(coroutine, step)

    monkeypatch.setattr(driver_module, "_finish", counting_finish)

    async def main() -> list[int]:
        with ScriptedServer(_reads_late) as server:
            async with builder(server.url, with_compression=Compression.NONE).build_async() as conn:
                # 80 calls of 256 kB each, each written at once (as if each followed an answer):
                # more than the socket buffers hold
                calls = []
                for i in range(80):
                    conn._driver._burst = False
                    calls.append(conn.reducers.set_name(f"{i:04}" + "x" * 262_144))
                    await asyncio.sleep(0)
                done: list[int] = []
                for i, call in enumerate(calls):
                    call.then(lambda ctx, ev, i=i: done.append(i))
                await asyncio.wait_for(asyncio.gather(*calls), 20)
                return done

    assert asyncio.run(main()) == list(range(80))
    assert waited  # a send had to wait for the socket, and the writer finished it


def test_asyncio_driver_coalesces_a_burst_of_requests() -> None:
    frames: list[bytes] = []

    async def count_frames(session: Session) -> None:
        await session.send(InitialConnectionMsg(ME, MY_CONNECTION, "minted-token"))
        answered = 0
        while answered < 50:
            frame = await session.ws.recv()
            assert isinstance(frame, bytes)
            frames.append(frame)
            for call in split_client_payload(frame):
                assert isinstance(call, CallReducerMsg)
                await session.send(ReducerResultMsg(call.request_id, Timestamp(1), OK_EMPTY))
                answered += 1
        await session.ws.wait_closed()

    async def main() -> None:
        with ScriptedServer(count_frames, protocols=(V3_BSATN_PROTOCOL,)) as server:
            async with builder(server.url, with_compression=Compression.NONE).build_async() as conn:
                calls = [conn.reducers.set_name(f"n{i}") for i in range(50)]  # one iteration
                await asyncio.wait_for(asyncio.gather(*calls), 5)

    asyncio.run(main())
    # the first call goes at once, the other 49 share the writer's frame
    assert len(frames) <= 2
