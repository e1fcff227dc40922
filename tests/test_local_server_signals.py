"""``spacetimedb-sdk serve`` stops on SIGTERM / Ctrl-C even under heavy load (a real process),
keeping every acknowledged commit; a second signal forces the exit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from spacetimedb_sdk.local_server.stop_signals import StopSignals
from spacetimedb_sdk.messages import (
    CallReducerMsg,
    QuerySetId,
    ReducerOk,
    ReducerResultMsg,
    SubscribeAppliedMsg,
    SubscribeMsg,
    UnsubscribeFlags,
    UnsubscribeMsg,
    encode_client_message,
)
from tests.local_server_support import CHAT_MODULE, V3, RawClient, http_request

MESSAGE_ARGS = b"\x04\x00\x00\x00load"  # send_message("load")
FLOOD = encode_client_message(UnsubscribeMsg(0, QuerySetId(0), UnsubscribeFlags.DEFAULT)) * 200_000


def _start(data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "spacetimedb_sdk", "serve", "--port", "0", "--log-level",
         "error", "--data-dir", str(data), f"chat={CHAT_MODULE}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("Serving "), line
    proc.stdout.readline()  # the owner token
    return proc, line.rsplit(" ", 1)[1].strip()


async def _load(ws_url: str, stop: asyncio.Event, acknowledged: list[int]) -> None:
    """Writers pipelining frames of reducer calls while subscribers get every update."""

    async def subscriber() -> None:
        client = await RawClient.connect(ws_url, "chat", protocols=[V3])
        await client.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM message"]))
        await client.expect(SubscribeAppliedMsg, timeout=30)
        while True:
            await client.recv(60)

    async def writer() -> None:
        client = await RawClient.connect(ws_url, "chat", protocols=[V3])
        request = 0
        while not stop.is_set():
            calls = [
                CallReducerMsg(request + i, 0, "send_message", MESSAGE_ARGS) for i in range(4000)
            ]
            request += len(calls)
            await client.send(*calls)
            for _ in calls:
                result = await client.expect(ReducerResultMsg, timeout=60)
                assert isinstance(result.result, ReducerOk)
                acknowledged[0] += 1

    async def flooder() -> None:
        # Just before the signal: one frame of 200,000 requests, closed with 1013. (Before the
        # fix the server decoded it in one go, the database thread's wake-ups filled the event
        # loop's self-pipe meanwhile, and the SIGTERM written to that pipe was lost.)
        await asyncio.sleep(1.8)
        client = await RawClient.connect(ws_url, "chat", protocols=[V3])
        await client.ws.send(FLOOD)
        with contextlib.suppress(Exception):
            while True:
                await client.recv(60)
        await asyncio.Event().wait()  # the closed connection is not a reason to stop the load

    tasks = [asyncio.ensure_future(subscriber()) for _ in range(3)]
    tasks += [asyncio.ensure_future(writer()) for _ in range(4)]
    tasks.append(asyncio.ensure_future(flooder()))
    await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)  # ends when the server does
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_on_a_signal_under_load_and_keeps_acknowledged_commits(
    tmp_path: Path, sig: signal.Signals
) -> None:
    data = tmp_path / "data"
    proc, url = _start(data)
    acknowledged = [0]
    stopped_after: list[float] = []

    def signal_later() -> None:
        time.sleep(2.0)  # the load is in full swing
        sent = time.monotonic()
        proc.send_signal(sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stopped_after.append(time.monotonic() - sent)

    signaller = threading.Thread(target=signal_later)
    signaller.start()
    try:
        asyncio.run(
            asyncio.wait_for(_load(url.replace("http", "ws"), asyncio.Event(), acknowledged), 60)
        )
    finally:
        signaller.join(60)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert stopped_after[0] < 10.0, f"stopped {stopped_after[0]:.1f} s after the signal"
    assert acknowledged[0] > 0
    proc, url = _start(data)
    try:
        status, _, body = http_request(
            "POST", f"{url}/v1/database/chat/sql", "SELECT * FROM message"
        )
        assert status == 200
        assert len(json.loads(body)[0]["rows"]) >= acknowledged[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


def test_a_second_signal_forces_the_exit_and_a_stuck_stop_is_forced_too() -> None:
    exits: list[int] = []

    async def main() -> None:
        with StopSignals(poll_interval=0.01, grace=0.2, exit=exits.append) as signals:
            waiting = asyncio.ensure_future(signals.wait())
            os.kill(os.getpid(), signal.SIGTERM)
            assert await asyncio.wait_for(waiting, 5) == signal.SIGTERM
            os.kill(os.getpid(), signal.SIGINT)  # the second one: forced at once
            await asyncio.sleep(0.05)
            assert exits == [128 + signal.SIGINT]
            await asyncio.sleep(0.5)  # the stop "hangs": the grace period forces it too
            assert exits == [128 + signal.SIGINT, 128 + signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        asyncio.run(main())
    finally:
        signal.signal(signal.SIGTERM, previous)
