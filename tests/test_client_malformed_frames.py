"""Hostile or broken server frames: refused whole, reported, and the cache stays readable.

* A message with one malformed row changes nothing (no row cached, no callback) and is reported
  as a protocol error; the table keeps working.
* Frames past :class:`~spacetimedb_sdk.core.limits.MessageLimits` (decompressed size, rows per
  message) are refused before anything is built, with ``LimitExceededError``.
* Valid Brotli frames of any size up to the cap are applied.
* A time-bounded fuzz run feeds mutated frames to the sans-I/O core.
"""

from __future__ import annotations

import random
import resource
import struct
import time
from typing import Any

import brotli
import pytest

from spacetimedb_sdk.client import DbConnection
from spacetimedb_sdk.client.testing import build_offline
from spacetimedb_sdk.compression import Compression, compress_server_payload
from spacetimedb_sdk.core import ConnectionCore
from spacetimedb_sdk.core.effects import (
    Effect,
    ProtocolViolation,
    QuerySetApplied,
    RowsChanged,
)
from spacetimedb_sdk.core.limits import MessageLimits
from spacetimedb_sdk.errors import LimitExceededError, ProtocolError
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.messages import (
    InitialConnectionMsg,
    QueryRows,
    QuerySetId,
    SingleTableRows,
    SubscribeAppliedMsg,
    encode_server_message,
)
from spacetimedb_sdk.row_list import BsatnRowList, RowOffsets
from tests.client_helpers import (
    ME,
    MY_CONNECTION,
    TOKEN,
    applied,
    connected,
    persistent,
    schema,
    score,
    server_vectors,
    set_update,
    transaction,
    user,
)
from tests.test_bsatn_limits import run_limited


def new_core(
    limits: MessageLimits | None = None, protocol: str = V2_BSATN_PROTOCOL
) -> ConnectionCore:
    core = ConnectionCore(schema(), limits=limits)
    core.connection_opened(protocol)
    core.receive_message(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
    return core


def frame(message: Any) -> bytes:
    return b"\x00" + encode_server_message(message)


def readable(core: ConnectionCore) -> dict[str, int]:
    """Every cached table fully decoded (raises if a cached row cannot be)."""
    return {t.layout.name: len(t.rows()) for t in core.cache.tables()}


def _bool_byte(row: bytes, value: int) -> bytes:
    return row[:-1] + bytes([value])  # a user row ends with its `online` bool


def _bad_utf8(row: bytes) -> bytes:
    # user(n, "ann"): identity (32), Some tag (1), length (4), "ann", online (1)
    return row[:37] + b"\xc3(" + row[39:]


def _bad_length(row: bytes) -> bytes:
    return row[:33] + struct.pack("<I", 200) + row[37:]


MALFORMED = {
    "bool byte 0x07": _bool_byte(user(2, "bob"), 7),
    "invalid UTF-8": _bad_utf8(user(2, "ann")),
    "string length past the row": _bad_length(user(2, "ann")),
    "option tag 5": user(2, "ann")[:32] + b"\x05" + user(2, "ann")[33:],
    "trailing byte": user(2, "ann") + b"\x00",
    "truncated": user(2, "ann")[:20],
}


@pytest.mark.parametrize("bad", list(MALFORMED.values()), ids=list(MALFORMED))
def test_subscribe_applied_with_a_malformed_row_applies_nothing(bad: bytes) -> None:
    core = new_core()
    qs = core.subscribe(["SELECT * FROM user"])
    effects = core.receive_message(applied(qs.id, user=[user(1, "ann"), bad, user(3)]))
    assert [type(e) for e in effects] == [ProtocolViolation]
    (violation,) = effects
    assert isinstance(violation, ProtocolViolation) and isinstance(violation.error, ProtocolError)
    assert "not applied" in str(violation.error)
    assert readable(core).get("user", 0) == 0
    # The same set answered properly later: applied, and every row readable.
    effects = core.receive_message(applied(qs.id, user=[user(1, "ann"), user(3)]))
    assert [type(e) for e in effects] == [QuerySetApplied, RowsChanged]
    assert readable(core)["user"] == 2
    table = core.cache.table("user")
    assert table is not None and sorted(r["identity"] for r in table.rows()) == [
        Identity(1),
        Identity(3),
    ]


def test_a_malformed_row_in_a_transaction_leaves_no_good_row_behind() -> None:
    # Before: the key extractor failed half-way, the good row stayed cached without on_insert.
    core = new_core()
    qs = core.subscribe(["SELECT * FROM score"])
    core.receive_message(applied(qs.id, score=[score(1)]))
    bad = score(3)[:6]  # the primary key column cut short
    effects = core.receive_message(
        transaction(set_update(qs.id, score=persistent([score(2), bad], [score(1)])))
    )
    assert [type(e) for e in effects] == [ProtocolViolation]
    table = core.cache.table("score")
    assert table is not None and [r["id"] for r in table.rows()] == [1]
    assert readable(core) == {"score": 1}


def test_callbacks_see_nothing_of_a_refused_message_and_on_error_hears_of_it() -> None:
    errors: list[Exception] = []
    conn, socket = connected(on_error=lambda ctx, err: errors.append(err))
    inserted: list[Any] = []
    conn.db.user.on_insert(lambda ctx, row: inserted.append(row))
    applied_calls: list[Any] = []
    handle = (
        conn.subscription_builder().on_applied(applied_calls.append).subscribe("SELECT * FROM user")
    )
    socket.deliver(applied(handle.query_set_id, user=[user(1), MALFORMED["bool byte 0x07"]]))
    assert inserted == [] and applied_calls == []
    assert len(errors) == 1 and isinstance(errors[0], ProtocolError)
    assert list(conn.db.user.iter()) == [] and conn.db.user.identity.find(Identity(1)) is None
    socket.deliver(applied(handle.query_set_id, user=[user(1)]))
    assert len(inserted) == 1 and len(applied_calls) == 1
    assert conn.db.user.identity.find(Identity(1)) is not None


# ----------------------------------------------------------------------------------- limits


def test_a_message_past_the_row_limit_is_refused_before_splitting() -> None:
    core = new_core(MessageLimits(max_rows_per_message=2))
    qs = core.subscribe(["SELECT * FROM user"])
    (violation,) = core.receive_message(applied(qs.id, user=[user(1), user(2), user(3)]))
    assert isinstance(violation, ProtocolViolation)
    assert isinstance(violation.error, LimitExceededError)
    assert "3 rows" in str(violation.error)
    assert readable(core) == {}
    effects = core.receive_message(applied(qs.id, user=[user(1), user(2)]))
    assert [type(e) for e in effects] == [QuerySetApplied, RowsChanged]


def test_the_decompressed_size_limit_is_configurable() -> None:
    core = new_core(MessageLimits(max_decompressed_size=4096))
    qs = core.subscribe(["SELECT * FROM user"])
    body = encode_server_message(applied(qs.id, user=[user(i, "x" * 40) for i in range(200)]))
    (violation,) = core.receive_frame(compress_server_payload(body, Compression.GZIP))
    assert isinstance(violation, ProtocolViolation)
    assert isinstance(violation.error, LimitExceededError)
    assert readable(core) == {}
    # The same body uncompressed is not subject to the decompression limit.
    assert [type(e) for e in core.receive_frame(b"\x00" + body)] == [
        QuerySetApplied,
        RowsChanged,
    ]


def test_builder_option_sets_the_limits_and_they_apply() -> None:
    default, _ = connected()
    assert default.core.limits == MessageLimits()
    errors: list[Exception] = []
    builder: Any = (
        DbConnection.builder()
        .with_uri("ws://test.invalid")
        .with_database_name("db")
        .with_module(schema())
        .with_limits(max_decompressed_size=1 << 20, max_rows_per_message=1)
        .on_error(lambda ctx, err: errors.append(err))
    )
    limited, limited_socket = build_offline(builder, V2_BSATN_PROTOCOL)
    assert limited.core.limits == MessageLimits(1 << 20, 1)
    limited_socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
    handle = limited.subscription_builder().subscribe("SELECT * FROM user")
    limited_socket.deliver(applied(handle.query_set_id, user=[user(1), user(2)]))
    assert [type(e) for e in errors] == [LimitExceededError]
    assert limited.db.user.count() == 0


def test_a_tiny_brotli_frame_of_millions_of_rows_is_refused_in_bounded_memory() -> None:
    # 64 MiB of FixedSize(2) zero rows compress to about 130 bytes; splitting them used to peak
    # at 2 GB. In a child limited to 768 MB of address space it must be refused cleanly.
    proc = run_limited(
        """
        import brotli, resource
        from spacetimedb_sdk.core import ConnectionCore
        from spacetimedb_sdk.core.effects import ProtocolViolation
        from spacetimedb_sdk.errors import LimitExceededError
        from spacetimedb_sdk.messages import *
        from spacetimedb_sdk.row_list import BsatnRowList, FixedSize
        from tests.client_helpers import ME, MY_CONNECTION, TOKEN, schema

        core = ConnectionCore(schema())
        core.connection_opened("v2.bsatn.spacetimedb")
        core.receive_message(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
        qs = core.subscribe(["SELECT * FROM points"])
        rows = BsatnRowList(FixedSize(2), bytes(64 << 20))
        body = encode_server_message(
            SubscribeAppliedMsg(0, QuerySetId(qs.id), QueryRows([SingleTableRows("points", rows)]))
        )
        del rows
        frame = b"\\x01" + brotli.compress(body, quality=11)
        del body
        print("frame bytes", len(frame))
        effects = core.receive_frame(frame)
        assert len(effects) == 1 and isinstance(effects[0], ProtocolViolation), effects
        assert isinstance(effects[0].error, LimitExceededError), effects[0].error
        print("refused:", effects[0].error)
        print("peak MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        """,
        memory_mb=768,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "refused:" in proc.stdout and "rows" in proc.stdout


# ---------------------------------------------------------------------------------- brotli


def _big_subscribe_applied(qs: int, n: int, rng: random.Random) -> bytes:
    names = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyzé") for _ in range(rng.randint(8, 40)))
        for _ in range(n)
    ]
    return encode_server_message(applied(qs, user=[user(i + 1, names[i]) for i in range(n)]))


@pytest.mark.parametrize("compression", [Compression.BROTLI, Compression.GZIP])
def test_compressed_frames_above_two_mib_are_applied(compression: Compression) -> None:
    # Before: every brotli frame decompressing past about 2 MiB was "truncated brotli data".
    core = new_core()
    qs = core.subscribe(["SELECT * FROM user"])
    body = _big_subscribe_applied(qs.id, 60_000, random.Random(3))
    assert len(body) > 3 << 20
    effects = core.receive_frame(compress_server_payload(body, compression))
    assert [type(e) for e in effects] == [QuerySetApplied, RowsChanged]
    assert readable(core) == {"user": 60_000}


def test_v3_brotli_frame_of_several_large_messages() -> None:
    core = new_core(protocol=V3_BSATN_PROTOCOL)
    first = core.subscribe(["SELECT * FROM user"])
    second = core.subscribe(["SELECT * FROM message"])
    rng = random.Random(4)
    body = _big_subscribe_applied(first.id, 40_000, rng) + encode_server_message(
        SubscribeAppliedMsg(0, QuerySetId(second.id), QueryRows([]))
    )
    frame = b"\x01" + brotli.compress(body, quality=5)
    effects = core.receive_frame(frame)
    assert [type(e) for e in effects] == [QuerySetApplied, RowsChanged, QuerySetApplied]


# ----------------------------------------------------------------------------------- fuzzing


def _seed_frames() -> list[bytes]:
    seeds = [b"\x00" + v for v in server_vectors().values()]
    seeds += [
        frame(applied(0, user=[user(1, "ann"), user(2)], points=[struct.pack("<II", 1, 2)])),
        frame(transaction(set_update(0, user=persistent([user(3, "é")], [user(1, "ann")])))),
        frame(applied(1, score=[score(1), score(2, "p2", 3)])),
        frame(
            SubscribeAppliedMsg(
                0,
                QuerySetId(0),
                QueryRows([SingleTableRows("message", BsatnRowList(RowOffsets([]), b""))]),
            )
        ),
    ]
    return seeds


def _mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        if op == 0 and out:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif op == 1 and len(out) > 1:
            del out[rng.randrange(1, len(out)) :]
        elif op == 2:
            at = rng.randrange(1, len(out) + 1) if len(out) > 1 else len(out)
            out[at:at] = rng.choice([b"\xff\xff\xff\x7f", b"\xff\xff\xff\xff", rng.randbytes(4)])
        elif op == 3 and len(out) > 8:
            at = rng.randrange(1, len(out) - 4)
            out[at : at + 4] = struct.pack("<I", rng.choice([0, 1, 2, 0xFFFF, 1 << 30]))
        elif op == 4 and out:
            out[0] = rng.choice([0, 0, 1, 2, 3])
        else:
            out += rng.randbytes(rng.randint(1, 16))
    if out[:1] == b"\x01":
        out = bytearray(b"\x01" + brotli.compress(bytes(out[1:]), quality=1))
    elif out[:1] == b"\x02":
        out = bytearray(compress_server_payload(bytes(out[1:]), Compression.GZIP, threshold=0))
    return bytes(out)


def test_fuzz_the_core_with_mutated_frames() -> None:
    """About four seconds of mutated frames (seed 10): typed effects only, cache readable."""
    rng = random.Random(10)
    seeds = _seed_frames()
    deadline = time.monotonic() + 4.0
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    frames = violations = 0
    core = new_core()
    core.subscribe(["SELECT * FROM user"])
    core.subscribe(["SELECT * FROM score"])
    while time.monotonic() < deadline:
        if frames % 200 == 0:
            core = new_core(protocol=rng.choice([V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL]))
            core.subscribe(["SELECT * FROM user", "SELECT * FROM points"])
            core.subscribe(["SELECT * FROM score"])
        data = _mutate(rng, rng.choice(seeds))
        effects: list[Effect] = core.receive_frame(data)  # must not raise
        violations += sum(isinstance(e, ProtocolViolation) for e in effects)
        readable(core)
        frames += 1
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert frames > 200 and violations > 0
    assert grown_mb < 200, f"peak RSS grew by {grown_mb:.0f} MB"
