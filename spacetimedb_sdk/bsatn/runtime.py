"""Helpers that generated encoders and decoders call at run time (bound into their namespace)."""

from __future__ import annotations

from spacetimedb_sdk.errors import BsatnEncodeError
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp

_new = object.__new__


def mk_schedule_at(value: TimeDuration | Timestamp) -> ScheduleAt:
    """A ScheduleAt built without its checking ``__init__``: decoded values are valid."""
    obj = _new(ScheduleAt)
    obj._value = value
    return obj


def check_wide(value: object, lo: int, hi: int, what: str) -> int:
    """``value`` if it is an int in ``[lo, hi]`` (a 128- or 256-bit integer to encode)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise BsatnEncodeError(f"{what} needs an int, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise BsatnEncodeError(f"{value} is out of range for {what}")
    return value


def encode_bytes(value: object) -> bytes:
    """The bytes of an ``Array<U8>`` value (bytes-like, or a list/tuple of ints)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return bytes(value)
    raise BsatnEncodeError(f"Array<U8> needs bytes, got {type(value).__name__}")
