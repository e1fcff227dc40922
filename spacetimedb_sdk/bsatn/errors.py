"""The codec's error messages, worded in one place.

Each function returns (never raises) a :class:`~spacetimedb_sdk.errors.BsatnDecodeError` with the
byte offset, so generated code can ``raise _truncated(...)`` on its rare failing branches.
"""

from __future__ import annotations

from spacetimedb_sdk.algebraic_type import AlgebraicType, type_to_json
from spacetimedb_sdk.bsatn.layout import ZERO_SIZE_ELEMENT_ALLOWANCE
from spacetimedb_sdk.errors import BsatnDecodeError


def truncated(pos: int, need: int, have: int, what: str) -> BsatnDecodeError:
    """``what`` at ``pos`` needs ``need`` bytes but the input ends at ``have``."""
    return BsatnDecodeError(
        f"input truncated: {what} needs {need} byte(s) but only {max(have - pos, 0)} remain", pos
    )


def bad_bool(pos: int, byte: int) -> BsatnDecodeError:
    """A Bool byte other than 0 or 1."""
    return BsatnDecodeError(f"invalid Bool byte 0x{byte:02x} (only 0x00 and 0x01 are valid)", pos)


def bad_tag(pos: int, tag: int, what: str, count: int) -> BsatnDecodeError:
    """A sum tag past the last variant."""
    return BsatnDecodeError(f"invalid sum tag {tag} for {what} with {count} variant(s)", pos)


def bad_utf8(pos: int, exc: UnicodeDecodeError) -> BsatnDecodeError:
    """A String starting at ``pos`` that is not UTF-8."""
    return BsatnDecodeError(f"invalid UTF-8 in String: {exc.reason}", pos + exc.start)


def not_bytes(data: object) -> BsatnDecodeError:
    """Input that is not bytes-like."""
    return BsatnDecodeError(f"BSATN input must be bytes-like, not {type(data).__name__}")


def too_many(pos: int, count: int, min_size: int, remaining: int) -> BsatnDecodeError:
    """An array length the remaining input cannot hold."""
    return BsatnDecodeError(
        f"Array claims {count} element(s) of at least {min_size} byte(s) each but only "
        f"{remaining} byte(s) remain",
        pos,
    )


def zero_size_exhausted(pos: int, count: int) -> BsatnDecodeError:
    """More zero-size array elements than one value's allowance."""
    return BsatnDecodeError(
        f"Array claims {count} zero-size element(s): more than the input can justify "
        f"(at most {ZERO_SIZE_ELEMENT_ALLOWANCE} plus the input length per value)",
        pos,
    )


def too_deep() -> BsatnDecodeError:
    """A value nested past the Python stack."""
    return BsatnDecodeError("value nested too deeply to decode")


def trailing(pos: int, end: int) -> BsatnDecodeError:
    """Bytes left between the end of a value (``pos``) and the end of its span."""
    return BsatnDecodeError(f"{end - pos} trailing byte(s) after the value", pos)


def end_mismatch(pos: int, length: int, end: int, blen: int, what: str) -> BsatnDecodeError:
    """A final length-prefixed payload that does not end exactly at the end of its span."""
    if end > blen:
        return truncated(pos, length, blen, what)
    return trailing(end, blen)


def short_repr(value: object) -> str:
    """``repr(value)``, cut to fit an error message."""
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def type_name(ty: AlgebraicType) -> str:
    """``ty`` as SATS-JSON text, cut to fit an error message."""
    text = str(type_to_json(ty))
    return text if len(text) <= 160 else text[:157] + "..."
