"""Awaiting a ``CallFuture``: answered on the loop's own thread (the asyncio driver) or on
another thread (the threaded driver), with a value, an error, or abandoned by a cancelled task."""

from __future__ import annotations

import asyncio
import threading

import pytest

from spacetimedb_sdk.client.call_future import CallFuture


def test_answered_on_the_awaiting_loop_thread() -> None:
    async def main() -> tuple[int, str]:
        ok: CallFuture[int] = CallFuture(None, "ok")
        bad: CallFuture[int] = CallFuture(None, "bad")
        loop = asyncio.get_running_loop()
        loop.call_soon(ok._set_result, None, 7)
        loop.call_soon(bad._set_exception, None, ValueError("no"))
        with pytest.raises(ValueError) as info:
            await bad
        return await ok, str(info.value)

    assert asyncio.run(main()) == (7, "no")


def test_answered_from_another_thread_and_when_already_done() -> None:
    async def main() -> tuple[int, int]:
        call: CallFuture[int] = CallFuture(None, "threaded")
        threading.Timer(0.05, call._set_result, (None, 3)).start()
        first = await call
        return first, await call  # done already: answered at once

    assert asyncio.run(main()) == (3, 3)


def test_a_cancelled_await_gives_the_call_up() -> None:
    async def main() -> CallFuture[int]:
        call: CallFuture[int] = CallFuture(None, "abandoned")
        task = asyncio.ensure_future(_await(call))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return call

    call = asyncio.run(main())
    assert call._future.cancelled()


async def _await(call: CallFuture[int]) -> int:
    return await call
