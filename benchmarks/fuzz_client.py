"""Fuzz the sans-I/O client core with mutated server frames: ``fuzz_client.py [--frames N]``.

Seeds are the server-message vectors in ``tests/fixtures`` plus messages built here (row lists
of every shape the test module has, transactions, v3 bodies of several messages), sent plain,
Brotli- or gzip-compressed. Each frame is a seed mutated a few times (bytes flipped, cut short,
four-byte length claims inserted or overwritten, tags changed, two frames spliced) and handed
to :meth:`ConnectionCore.receive_frame` on v2 and v3 connections with live query sets.

What counts as a finding: an exception escaping ``receive_frame`` (only effects are allowed),
a cache that cannot be read back afterwards, a frame taking over a second, and memory growth.
Prints a JSON summary: frames, effects by kind, protocol errors by kind (with one example
each), findings (with the offending frame in hex), the slowest frame and peak RSS. Deterministic
for a given ``--seed``. Run it with ``nice``; a million frames takes some minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import re
import resource
import struct
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from spacetimedb_sdk.compression import Compression, compress_server_payload  # noqa: E402
from spacetimedb_sdk.core import ConnectionCore  # noqa: E402
from spacetimedb_sdk.core.effects import ProtocolViolation  # noqa: E402
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL  # noqa: E402
from spacetimedb_sdk.messages import (  # noqa: E402
    InitialConnectionMsg,
    QueryRows,
    QuerySetId,
    ReducerOk,
    ReducerResultMsg,
    SingleTableRows,
    SubscribeAppliedMsg,
    encode_server_message,
)
from spacetimedb_sdk.row_list import BsatnRowList, FixedSize, RowOffsets  # noqa: E402
from spacetimedb_sdk.timestamp import Timestamp  # noqa: E402
from tests.client_helpers import (  # noqa: E402
    ME,
    MY_CONNECTION,
    TOKEN,
    applied,
    events,
    persistent,
    row,
    schema,
    score,
    server_vectors,
    set_update,
    transaction,
    user,
)

HUGE_CLAIMS = [b"\xff\xff\xff\x7f", b"\xff\xff\xff\xff", b"\x00\x00\x00\x40", b"\x00\x00\x01\x00"]


def seed_bodies() -> list[bytes]:
    """Message bodies (no envelope) to mutate."""
    bodies = list(server_vectors().values())
    entity = [row("entity", id=i, x=1.0, y=2.0, z=3.0, hp=i) for i in range(5)]
    messages: list[Any] = [
        applied(0, user=[user(1, "ann"), user(2), user(3, "é👋")]),
        applied(1, score=[score(1), score(2, "p2", 3, 1, 2)], entity=entity),
        applied(0, points=[struct.pack("<II", i, i) for i in range(8)]),
        transaction(
            set_update(0, user=persistent([user(4, "new")], [user(1, "ann")])),
            set_update(1, score=persistent([score(3)], [score(1)])),
        ),
        transaction(set_update(0, test_event=events(row("test_event", name="x", value=1)))),
        ReducerResultMsg(
            0,
            Timestamp(1),
            ReducerOk(b"", transaction(set_update(0, user=persistent([user(5, "r")])))),
        ),
        SubscribeAppliedMsg(
            0,
            QuerySetId(1),
            QueryRows(
                [
                    SingleTableRows("message", BsatnRowList(RowOffsets([]), b"")),
                    SingleTableRows("points", BsatnRowList(FixedSize(8), bytes(64))),
                ]
            ),
        ),
    ]
    bodies += [encode_server_message(m) for m in messages]
    bodies.append(bodies[-1] + bodies[-3])  # a v3 body of two messages
    return bodies


def mutate(rng: random.Random, body: bytes, others: list[bytes]) -> bytes:
    """A few random edits of ``body``, wrapped in a random envelope."""
    out = bytearray(body)
    # Mostly one edit, so that many frames still decode and their rows reach the cache.
    for _ in range(rng.choice((1, 1, 1, 2, 3, 5))):
        op = rng.randrange(8)
        if op == 0 and out:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif op == 1 and out:
            del out[rng.randrange(len(out)) :]
        elif op == 2:
            at = rng.randrange(len(out) + 1)
            out[at:at] = rng.choice(HUGE_CLAIMS)
        elif op == 3 and len(out) >= 4:
            at = rng.randrange(len(out) - 3)
            out[at : at + 4] = rng.choice([*HUGE_CLAIMS, struct.pack("<I", rng.randrange(1 << 16))])
        elif op == 4 and out:
            out[0] = rng.randrange(12)  # message tag
        elif op == 5:
            other = rng.choice(others)
            out += other[rng.randrange(len(other) + 1) :]
        elif op == 6 and len(out) > 2:
            at = rng.randrange(len(out))
            del out[at : at + rng.randint(1, 8)]
        else:
            out += rng.randbytes(rng.randint(1, 16))
    envelope = rng.random()
    if envelope < 0.7:
        return b"\x00" + bytes(out)
    if envelope < 0.85:
        return compress_server_payload(bytes(out), Compression.BROTLI, threshold=0)
    if envelope < 0.97:
        return compress_server_payload(bytes(out), Compression.GZIP, threshold=0)
    frame = bytearray(compress_server_payload(bytes(out), Compression.GZIP, threshold=0))
    if len(frame) > 2:
        frame[rng.randrange(1, len(frame))] ^= 1 << rng.randrange(8)  # corrupt compressed data
    return bytes(frame)


def new_core(rng: random.Random) -> ConnectionCore:
    core = ConnectionCore(schema())
    core.connection_opened(rng.choice([V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL]))
    core.receive_message(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
    core.subscribe(["SELECT * FROM user", "SELECT * FROM points", "SELECT * FROM test_event"])
    core.subscribe(["SELECT * FROM score", "SELECT * FROM entity", "SELECT * FROM message"])
    return core


def read_back(core: ConnectionCore) -> None:
    for table in core.cache.tables():
        table.rows()


def _kind(error: BaseException) -> str:
    # Group messages by their wording, numbers and quoted names stripped.
    text = re.sub(r"'[^']*'|\d+", "#", str(error))
    return f"{type(error).__name__}: {text[:110]}"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    """Run the fuzzer and print its JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--fresh-core-every", type=int, default=500)
    args = parser.parse_args(argv)

    logging.disable(logging.CRITICAL)  # the core logs every refused message; we count them
    rng = random.Random(args.seed)
    bodies = seed_bodies()
    effects_seen: Counter[str] = Counter()
    errors_seen: Counter[str] = Counter()
    examples: dict[str, str] = {}
    findings: list[dict[str, Any]] = []
    slowest = (0.0, "")
    rss_start = _rss_mb()
    rss_marks: list[tuple[int, float]] = []
    core = new_core(rng)
    started = time.perf_counter()
    for i in range(args.frames):
        if i % args.fresh_core_every == 0:
            core = new_core(rng)
        frame = mutate(rng, rng.choice(bodies), bodies)
        t0 = time.process_time()  # CPU time: the machine may be shared
        try:
            effects = core.receive_frame(frame)
        except Exception as exc:  # a finding: only effects may come out
            findings.append(
                {
                    "frame": i,
                    "what": "exception escaped receive_frame",
                    "error": _kind(exc),
                    "traceback": traceback.format_exc(limit=4)[-800:],
                    "hex": frame[:2000].hex(),
                }
            )
            core = new_core(rng)
            continue
        elapsed = time.process_time() - t0
        if elapsed > slowest[0]:
            slowest = (elapsed, frame[:2000].hex())
        if elapsed > 1.0:
            findings.append(
                {"frame": i, "what": f"took {elapsed:.2f} s", "hex": frame[:2000].hex()}
            )
        for effect in effects:
            effects_seen[type(effect).__name__] += 1
            if isinstance(effect, ProtocolViolation):
                kind = _kind(effect.error)
                errors_seen[kind] += 1
                examples.setdefault(kind, str(effect.error)[:300])
        if i % 100 == 0:
            try:
                read_back(core)
            except Exception as exc:
                findings.append(
                    {
                        "frame": i,
                        "what": "cache unreadable",
                        "error": _kind(exc),
                        "hex": frame[:2000].hex(),
                    }
                )
                core = new_core(rng)
        if i % 50_000 == 0:
            rss_marks.append((i, round(_rss_mb(), 1)))
            print(
                f"... {i} frames, {len(findings)} findings, peak RSS {_rss_mb():.0f} MB",
                file=sys.stderr,
            )
    total = time.perf_counter() - started
    summary = {
        "frames": args.frames,
        "seed": args.seed,
        "seconds": round(total, 1),
        "us_per_frame": round(total * 1e6 / max(args.frames, 1), 1),
        "effects": dict(effects_seen.most_common()),
        "protocol_errors": {
            k: {"count": n, "example": examples[k]} for k, n in errors_seen.most_common(25)
        },
        "protocol_error_kinds": len(errors_seen),
        "findings": findings[:50],
        "finding_count": len(findings),
        "slowest_frame_cpu_ms": round(slowest[0] * 1e3, 2),
        "slowest_frame_hex": slowest[1],
        "peak_rss_mb": round(_rss_mb(), 1),
        "peak_rss_growth_mb": round(_rss_mb() - rss_start, 1),
        "peak_rss_marks": rss_marks,
        "python": platform.python_version(),
    }
    print(json.dumps(summary, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
