"""Identity, ConnectionId, Timestamp, TimeDuration, ScheduleAt and Uuid as first-class classes."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from spacetimedb_sdk.algebraic_type import CONNECTION_ID, IDENTITY, SCHEDULE_AT, TIMESTAMP, UUID
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.uuid import Uuid

HEX = "c200b3ce65d91b79ecfb7d881cd65bf8da2f647d590af1474ad19faa7aa87e38"
WIRE = bytes.fromhex(
    "387ea87aaa9fd14a47f10a597d642fdaf85bd61c887dfbec791bd965ceb300c2"
)  # docs/protocol.md#bsatn-examples: the hex bytes reversed


def test_identity_hex_is_big_endian_and_bsatn_little_endian() -> None:
    ident = Identity.from_hex(HEX)
    assert str(ident) == HEX
    assert ident.to_hex() == HEX
    assert compile_codec(IDENTITY).encode(ident) == WIRE
    assert compile_codec(IDENTITY).decode(WIRE) == ident
    assert ident.to_bsatn_bytes() == WIRE
    assert Identity.from_bsatn_bytes(WIRE) == ident
    assert ident.data == bytes.fromhex(HEX)  # the 0.7 SDK's big-endian `.data`
    assert Identity.from_string("0x" + HEX.upper()) == ident
    assert Identity.from_bytes(bytes.fromhex(HEX)) == ident
    assert ident.to_abbreviated_hex() == HEX[:16]


def test_identity_is_hashable_and_ordered() -> None:
    a, b = Identity(1), Identity(2)
    assert a < b and b > a and a <= Identity(1)
    assert {a: 1}[Identity(1)] == 1
    assert sorted([b, a]) == [a, b]
    assert Identity(1) != ConnectionId(1)


@pytest.mark.parametrize("bad", ["", "xyz", "0x", "1" * 65])
def test_identity_rejects_bad_hex(bad: str) -> None:
    with pytest.raises(ValueError, match="Identity"):
        Identity.from_hex(bad)


def test_connection_id_zero_means_none() -> None:
    cid = ConnectionId.from_hex("00112233445566778899aabbccddeeff")
    assert compile_codec(CONNECTION_ID).encode(cid) == bytes.fromhex(
        "ffeeddccbbaa99887766554433221100"
    )
    assert not ConnectionId.zero() and ConnectionId.zero().is_zero()
    assert ConnectionId.random() and not ConnectionId.random().is_zero()
    assert str(cid) == "00112233445566778899aabbccddeeff"


def test_timestamp_datetime_round_trip_and_arithmetic() -> None:
    when = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    ts = Timestamp.from_datetime(when)
    assert ts.micros_since_unix_epoch == 1704067200000000
    assert compile_codec(TIMESTAMP).encode(ts) == bytes.fromhex("00202110d70d0600")
    assert ts.to_datetime() == when
    assert ts.to_iso() == "2024-01-01T00:00:00.000000Z"
    later = ts + TimeDuration.from_seconds(1.5)
    assert later - ts == TimeDuration(1_500_000)
    assert later - TimeDuration(1_500_000) == ts
    assert ts < later and sorted([later, ts]) == [ts, later]
    assert Timestamp(-1).to_datetime() == when.replace(year=1970) - dt.timedelta(microseconds=1)
    other_zone = dt.datetime(2024, 1, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert Timestamp.from_datetime(other_zone) == ts
    with pytest.raises(ValueError, match="timezone-aware"):
        Timestamp.from_datetime(dt.datetime(2024, 1, 1))
    assert Timestamp.from_iso("2024-01-01T00:00:00Z") == ts


def test_time_duration_conversions() -> None:
    d = TimeDuration.from_timedelta(dt.timedelta(seconds=-1, microseconds=500))
    assert d.micros == -999_500
    assert d.to_timedelta() == dt.timedelta(microseconds=-999_500)
    assert abs(d) == TimeDuration(999_500) and -d == TimeDuration(999_500)
    with pytest.raises(OverflowError):
        TimeDuration(1 << 63)


def test_schedule_at_tags() -> None:
    codec = compile_codec(SCHEDULE_AT)
    assert codec.encode(ScheduleAt.interval(TimeDuration(1_000_000))) == bytes.fromhex(
        "0040420f0000000000"
    )
    at = ScheduleAt.time(Timestamp(1704067200000000))
    assert codec.encode(at) == bytes.fromhex("0100202110d70d0600")
    assert codec.decode(codec.encode(at)) == at and not at.is_interval


def test_uuid_interop_with_stdlib() -> None:
    text = "01888d6e-5c00-7000-8000-000000000123"
    u = Uuid(text)
    assert u == uuid.UUID(text) and u.to_uuid() == uuid.UUID(text) and str(u) == text
    assert compile_codec(UUID).encode(u) == bytes.fromhex(
        "230100000000008000700 05c6e8d8801".replace(" ", "")
    )
    assert Uuid(uuid.UUID(text)) == u and hash(u) == hash(Uuid(text))
