"""SQL literals typed by the column they meet, and type names as error messages print them."""

from __future__ import annotations

import datetime as _dt
import math
import re
import struct
import uuid as _uuid
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from spacetimedb_sdk.algebraic_type import (
    INTEGER_RANGES,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    special_kind,
)
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.sql.errors import SqlError
from spacetimedb_sdk.timestamp import Timestamp
from spacetimedb_sdk.uuid import Uuid

__all__ = ["format_type", "is_comparable", "parse_literal"]


_NUMBER: Final = re.compile(r"\A[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEX: Final = re.compile(r"\A[0-9a-fA-F]*\Z")
_RFC3339: Final = re.compile(
    r"\A(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)
_COMPARABLE_KINDS: Final = frozenset({"bytes", "identity", "connection_id", "timestamp", "uuid"})


def format_type(ty: AlgebraicType) -> str:
    """A short text form of a type, as used in the server's error messages."""
    if isinstance(ty, PrimitiveType):
        return ty.name
    if isinstance(ty, ArrayType):
        return f"Array<{format_type(ty.element)}>"
    if isinstance(ty, RefType):
        return f"&{ty.index}"
    if isinstance(ty, ProductType):
        inner = ", ".join(
            f"{e.name if e.name is not None else i}: {format_type(e.algebraic_type)}"
            for i, e in enumerate(ty.elements)
        )
        return f"({inner})"
    if isinstance(ty, SumType):
        if not ty.variants:
            return "(|)"
        inner = " | ".join(
            (f"{v.name}: " if v.name is not None else "") + format_type(v.algebraic_type)
            for v in ty.variants
        )
        return f"({inner})"
    return type(ty).__name__


def is_comparable(ty: AlgebraicType) -> bool:
    """True for types the comparison operators accept."""
    if isinstance(ty, PrimitiveType):
        return True  # bool, the integers, the floats and String
    return special_kind(ty) in _COMPARABLE_KINDS


class _LiteralTypeError(ValueError):
    pass


def parse_literal(text: str, ty: AlgebraicType) -> Any:
    """Read a literal's text as a value of ``ty`` (numbers, strings or hex digits).

    Raises :class:`SqlError` ("The literal expression `x` cannot be parsed as type `T`").
    """
    try:
        return _parse_literal(text, ty)
    except _LiteralTypeError:
        raise SqlError(
            f"The literal expression `{text}` cannot be parsed as type `{format_type(ty)}`"
        ) from None


def _parse_literal(text: str, ty: AlgebraicType) -> Any:
    if isinstance(ty, PrimitiveType):
        if ty.name == "String":
            return text
        if ty.name == "Bool":
            raise _LiteralTypeError  # only TRUE/FALSE literals denote booleans
        if ty.name in ("F32", "F64"):
            return _parse_float(text, single=ty.name == "F32")
        low, high = INTEGER_RANGES[ty.name]
        return _parse_int(text, low, high)
    kind = special_kind(ty)
    if kind == "timestamp":
        return _parse_timestamp(text)
    if kind == "bytes":
        return _parse_hex_bytes(text)
    if kind == "identity":
        data = _parse_hex_bytes(text)
        if len(data) != 32:
            raise _LiteralTypeError
        return Identity.from_be_bytes(data)
    if kind == "connection_id":
        data = _parse_hex_bytes(text)
        if len(data) != 16:
            raise _LiteralTypeError
        return ConnectionId(data)
    if kind == "uuid":
        try:
            return Uuid(_uuid.UUID(text))
        except ValueError:
            raise _LiteralTypeError from None
    raise _LiteralTypeError


def _decimal(text: str) -> Decimal:
    if _NUMBER.match(text) is None:
        raise _LiteralTypeError
    try:
        return Decimal(text)
    except InvalidOperation:
        raise _LiteralTypeError from None


def _parse_int(text: str, low: int, high: int) -> int:
    number = _decimal(text)
    # Refuse absurd exponents before materialising the integer (u256 has 78 digits).
    if number != 0 and number.adjusted() > 80:
        raise _LiteralTypeError
    if number != number.to_integral_value():
        raise _LiteralTypeError
    value = int(number)
    if not low <= value <= high:
        raise _LiteralTypeError
    return value


def _parse_float(text: str, *, single: bool) -> float:
    value = float(_decimal(text))
    if single and not math.isinf(value):
        try:
            value = struct.unpack("<f", struct.pack("<f", value))[0]
        except OverflowError:
            value = math.copysign(math.inf, value)
    return value


def _parse_hex_bytes(text: str) -> bytes:
    body = text[2:] if text.startswith("0x") else text
    if len(body) % 2 or _HEX.match(body) is None:
        raise _LiteralTypeError
    return bytes.fromhex(body)


def _parse_timestamp(text: str) -> Timestamp:
    match = _RFC3339.match(text)
    if match is None:
        raise _LiteralTypeError
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    if match.group(8):
        offset = _dt.timedelta(0)
    else:
        sign = -1 if match.group(9) == "-" else 1
        offset = sign * _dt.timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
    leap = second == 60  # RFC 3339 allows a leap second; fold it into the next second
    try:
        when = _dt.datetime(
            year, month, day, hour, minute, 59 if leap else second, micros,
            tzinfo=_dt.timezone(offset),
        )  # fmt: skip
    except ValueError:
        raise _LiteralTypeError from None
    stamp = Timestamp.from_datetime(when)
    return Timestamp(stamp.micros_since_unix_epoch + 1_000_000) if leap else stamp
