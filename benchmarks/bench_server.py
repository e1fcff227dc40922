"""Local server throughput and fan-out latency: ``python benchmarks/bench_server.py``.

The server runs as a separate process (``spacetimedb-sdk serve``) hosting the chat module from
``server/``, so client and server do not share a GIL. Clients are raw ``websockets`` v3
connections (what the TypeScript client negotiates) with ``compression=None``.

Measured:

* ``reducer_calls``: ``send_message`` calls by one client, *pipelined* (``--calls`` requests sent
  back to back, time until the last ``ReducerResult``) and *sequential* (send, wait for the
  result, repeat): calls per second;
* ``fan_out``: with 1, 10 and 100 clients subscribed to ``SELECT * FROM message``, the time from
  one ``send_message`` call (by a client that is not subscribed) until *every* subscriber has
  received its ``TransactionUpdate``; median / p95 / max over ``--rounds`` calls.

``--data-dir`` makes every commit durable (SQLite WAL with fsync per commit); the default keeps
data in memory. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from spacetimedb_sdk.algebraic_type import STRING, product_of
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.frames import V3_BSATN_PROTOCOL, decode_server_frame
from spacetimedb_sdk.messages import (
    CallReducerMsg,
    InitialConnectionMsg,
    QuerySetId,
    ReducerOk,
    ReducerResultMsg,
    ServerMessage,
    SubscribeAppliedMsg,
    SubscribeMsg,
    TransactionUpdateMsg,
    encode_client_message,
)

REPO = Path(__file__).resolve().parent.parent
TEXT_ARGS = compile_codec(product_of([("text", STRING)]))


def _args(text: str) -> bytes:
    return TEXT_ARGS.encode({"text": text})


class Client:
    """A minimal v3 client: frames in, decoded messages out."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pending: list[ServerMessage] = []

    @classmethod
    async def connect(cls, ws_url: str) -> Client:
        ws = await websockets.connect(
            f"{ws_url}/v1/database/chat/subscribe?compression=None",
            subprotocols=[websockets.Subprotocol(V3_BSATN_PROTOCOL)],
            max_size=None,
            compression=None,
        )
        client = cls(ws)
        assert isinstance(await client.recv(), InitialConnectionMsg)
        return client

    async def recv(self) -> ServerMessage:
        if not self.pending:
            frame = await self.ws.recv()
            assert isinstance(frame, bytes)
            self.pending.extend(decode_server_frame(frame, V3_BSATN_PROTOCOL))
        return self.pending.pop(0)

    async def send(self, *messages: Any) -> None:
        await self.ws.send(b"".join(encode_client_message(m) for m in messages))


async def _reducer_calls(ws_url: str, calls: int) -> dict[str, Any]:
    client = await Client.connect(ws_url)
    # Warm up.
    for i in range(50):
        await client.send(CallReducerMsg(i, 0, "send_message", _args("warm-up")))
        assert isinstance(await client.recv(), ReducerResultMsg)

    started = time.perf_counter()
    batch = 256  # requests per frame, like a client flushing a busy tick
    for first in range(0, calls, batch):
        await client.send(
            *(
                CallReducerMsg(i, 0, "send_message", _args(f"m{i}"))
                for i in range(first, min(first + batch, calls))
            )
        )
    for _ in range(calls):
        result = await client.recv()
        assert isinstance(result, ReducerResultMsg) and isinstance(result.result, ReducerOk)
    pipelined = time.perf_counter() - started

    sequential_calls = max(calls // 5, 100)
    started = time.perf_counter()
    for i in range(sequential_calls):
        await client.send(CallReducerMsg(i, 0, "send_message", _args(f"s{i}")))
        assert isinstance(await client.recv(), ReducerResultMsg)
    sequential = time.perf_counter() - started
    await client.ws.close()
    return {
        "pipelined": {"calls": calls, "calls_per_s": round(calls / pipelined)},
        "sequential": {
            "calls": sequential_calls,
            "calls_per_s": round(sequential_calls / sequential),
            "round_trip_ms": round(sequential / sequential_calls * 1e3, 3),
        },
    }


async def _fan_out(ws_url: str, subscribers: int, rounds: int) -> dict[str, Any]:
    clients = [await Client.connect(ws_url) for _ in range(subscribers)]
    for i, client in enumerate(clients):
        await client.send(
            SubscribeMsg(i, QuerySetId(0), ["SELECT * FROM message WHERE text = 'fan'"])
        )
        assert isinstance(await client.recv(), SubscribeAppliedMsg)
    sender = await Client.connect(ws_url)

    async def receive_update(client: Client) -> float:
        message = await client.recv()
        assert isinstance(message, TransactionUpdateMsg), message
        return time.perf_counter()

    latencies: list[float] = []
    for i in range(rounds + 3):
        waiters = [asyncio.ensure_future(receive_update(c)) for c in clients]
        await asyncio.sleep(0)  # every waiter is parked in recv()
        started = time.perf_counter()
        await sender.send(CallReducerMsg(i, 0, "send_message", _args("fan")))
        done = await asyncio.gather(*waiters)
        assert isinstance(await sender.recv(), ReducerResultMsg)
        if i >= 3:  # the first rounds warm caches up
            latencies.append(max(done) - started)
    for client in [*clients, sender]:
        await client.ws.close()
    latencies.sort()
    return {
        "subscribers": subscribers,
        "rounds": rounds,
        "median_ms": round(statistics.median(latencies) * 1e3, 3),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1e3, 3),
        "max_ms": round(latencies[-1] * 1e3, 3),
    }


def _start_server(data_dir: str | None) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable,
        "-m",
        "spacetimedb_sdk",
        "serve",
        "--port",
        "0",
        "--log-level",
        "warning",
    ]
    if data_dir is not None:
        cmd += ["--data-dir", data_dir]
    cmd.append(f"chat={REPO / 'server'}")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("Serving "):
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    proc.stdout.readline()  # owner token
    return proc, line.rsplit(" ", 1)[1].strip().replace("http://", "ws://")


async def _main(args: argparse.Namespace, ws_url: str) -> dict[str, Any]:
    return {
        "reducer_calls": await _reducer_calls(ws_url, args.calls),
        "fan_out": [await _fan_out(ws_url, n, args.rounds) for n in (1, 10, 100)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=5000, help="pipelined reducer calls")
    parser.add_argument("--rounds", type=int, default=50, help="fan-out rounds per size")
    parser.add_argument("--durable", action="store_true", help="use a temporary data dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, ws_url = _start_server(tmp if args.durable else None)
        try:
            results = asyncio.run(_main(args, ws_url))
        finally:
            proc.terminate()
            proc.wait(30)
    report = {
        "benchmark": "local_server",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "durable": args.durable,
        **results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
