"""The compiled codec object, and :func:`compile_codec` with its cache."""

from __future__ import annotations

import gc
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from spacetimedb_sdk.algebraic_type import AlgebraicType, Typespace
from spacetimedb_sdk.bsatn.bindings import Bindings
from spacetimedb_sdk.bsatn.errors import (
    bad_bool,
    bad_tag,
    not_bytes,
    short_repr,
    too_deep,
    trailing,
    type_name,
)
from spacetimedb_sdk.bsatn.generator import CodecGenerator
from spacetimedb_sdk.bsatn.validator import (
    Validator,
    allowed_bytes,
    texts_are_utf8,
    validator_for,
)
from spacetimedb_sdk.errors import BsatnDecodeError, BsatnEncodeError

__all__ = ["BsatnCodec", "compile_codec", "decode", "encode"]

T = TypeVar("T")


#: Bulk decodes of at least this many values run with only the youngest collections enabled.
_PAUSE_GC_FROM = 1000
#: An older generation's threshold no allocation count reaches during one decode.
_NEVER = 1 << 30
_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_saved: tuple[int, ...] | None = None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the older generations' collections around a bulk decode.

    Decoding builds only acyclic values (nothing it makes can be cyclic garbage), yet each
    allocation counts towards the collector's thresholds, and the full collections these
    trigger traverse every live object: about half the time of decoding 100,000 rows. So the
    thresholds of generations 1 and 2 are raised for the decode: those collections are
    deferred, not skipped (their counts carry over, the next one runs soon after). Generation 0
    keeps its threshold: its collections each traverse the few hundred values made since the
    last one while they are still in the CPU cache. Disabling the collector instead would leave
    all of them young, for one collection that walks them back in from memory on re-enabling
    (100,000 24-byte rows: 8-9 ms instead of about 4 in hot collections; 100,000 chat
    messages: 21-27 ms instead of about 6).

    Concurrent decodes share one setting; the thresholds found by the first are restored by
    the last, unless something else changed them meanwhile. A disabled collector (or a zero
    generation-0 threshold) is left alone.
    """
    global _gc_pausers, _gc_saved
    with _gc_lock:
        if _gc_pausers == 0:
            found = gc.get_threshold()
            if gc.isenabled() and found[0]:
                gc.set_threshold(found[0], _NEVER, _NEVER)
                _gc_saved = found
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            saved = _gc_saved
            if _gc_pausers == 0 and saved is not None:
                _gc_saved = None
                if gc.get_threshold() == (saved[0], _NEVER, _NEVER):
                    gc.set_threshold(*saved)


class BsatnCodec(Generic[T]):
    """An encoder/decoder pair generated for one AlgebraicType.

    Build with :func:`compile_codec`. Instances are immutable and thread-safe.
    """

    __slots__ = (
        "_decode_at",
        "_decode_fixed_many",
        "_decode_many",
        "_encode_into",
        "_validator",
        "fixed_format",
        "fixed_size",
        "source",
        "type",
        "typespace",
    )

    def __init__(
        self,
        ty: AlgebraicType,
        typespace: Typespace,
        decode_at: Callable[[Any, int], tuple[T, int]],
        encode_into: Callable[[T, bytearray], None],
        fixed_size: int | None,
        fixed_format: struct.Struct | None,
        decode_fixed_many: Callable[[Any], list[T]] | None,
        source: str,
        decode_many: Callable[[Sequence[bytes]], list[T]],
    ) -> None:
        self.type = ty
        self.typespace = typespace
        self._decode_at = decode_at
        self._encode_into = encode_into
        #: The BSATN size of every value of this type, when it is statically fixed.
        self.fixed_size = fixed_size
        #: For types that are a flat run of fixed-width fields: the struct that reads one value.
        self.fixed_format = fixed_format
        self._decode_fixed_many = decode_fixed_many
        #: The generated Python source (for debugging and the curious).
        self.source = source
        self._validator: Validator | None = None
        self._decode_many = decode_many

    def decode(self, data: bytes | bytearray | memoryview) -> T:
        """Decode exactly one value; trailing bytes are an error."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise not_bytes(data)
        try:
            value, pos = self._decode_at(data, 0)
        except RecursionError:
            raise too_deep() from None
        if pos != len(data):
            raise BsatnDecodeError(f"{len(data) - pos} trailing byte(s) after the value", pos)
        return value

    def decode_from(self, data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[T, int]:
        """Decode one value starting at ``offset``; return it and the offset just past it."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise not_bytes(data)
        try:
            return self._decode_at(data, offset)
        except RecursionError:
            raise too_deep() from None

    def decode_many(self, values: Sequence[bytes]) -> list[T]:
        """Decode each of ``values`` (``bytes`` or ``bytearray``, each exactly one value) in one
        generated loop.

        For input that already passed :meth:`validate` (the client cache's rows): trailing
        bytes go unnoticed here, every other error still raises
        :class:`~spacetimedb_sdk.errors.BsatnDecodeError`.
        """
        try:
            if len(values) < _PAUSE_GC_FROM:
                return self._decode_many(values)
            with _gc_paused():
                return self._decode_many(values)
        except RecursionError:
            raise too_deep() from None

    def decode_concatenated(self, data: bytes | bytearray | memoryview) -> list[T]:
        """Decode values laid back to back until ``data`` is exhausted."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise not_bytes(data)
        fmt = self.fixed_format
        if fmt is not None and self._decode_fixed_many is not None:
            size = fmt.size
            if len(data) % size:
                raise BsatnDecodeError(
                    f"{len(data)} bytes is not a whole number of {size}-byte values",
                    len(data) - len(data) % size,
                )
            if len(data) < _PAUSE_GC_FROM * size:
                return self._decode_fixed_many(data)
            with _gc_paused():
                return self._decode_fixed_many(data)
        if self.fixed_size == 0:
            # Values that take no bytes cannot be laid back to back: nothing would advance.
            if len(data):
                raise BsatnDecodeError(f"{len(data)} byte(s) left after zero-size values", 0)
            return []
        out: list[T] = []
        append = out.append
        pos, end, decode_at = 0, len(data), self._decode_at
        try:
            while pos < end:
                value, pos = decode_at(data, pos)
                append(value)
        except RecursionError:
            raise too_deep() from None
        return out

    # -------------------------------------------------------------------------- validation
    def _get_validator(self) -> Validator:
        validator = self._validator
        if validator is None:
            validator = self._validator = validator_for(self.type, self.typespace)
        return validator

    def validate(self, data: bytes | bytearray | memoryview) -> None:
        """Check that ``data`` is exactly one value, as strictly as :meth:`decode`, building nothing.

        Raises :class:`~spacetimedb_sdk.errors.BsatnDecodeError` where ``decode`` would.
        """
        self.validate_spans(data, (0,), (len(data),))

    def validate_spans(
        self, data: bytes | bytearray | memoryview, starts: Sequence[int], ends: Sequence[int]
    ) -> None:
        """Check that each ``data[start:end]`` holds exactly one value (e.g. a row list's rows).

        Cheaper than decoding: fixed-width runs are skipped by size and nothing is built, yet
        whatever passes decodes without error. Raises
        :class:`~spacetimedb_sdk.errors.BsatnDecodeError` (offsets are into ``data``).
        """
        self._check_spans(data, starts, ends, None)

    def split_validated(
        self, data: bytes, starts: Sequence[int], ends: Sequence[int]
    ) -> list[bytes]:
        """:meth:`validate_spans`, returning each span's bytes (one pass does both)."""
        out: list[bytes] = []
        self._check_spans(data, starts, ends, out.append)
        return out

    def _check_spans(
        self,
        data: bytes | bytearray | memoryview,
        starts: Sequence[int],
        ends: Sequence[int],
        keep: Callable[[bytes], None] | None,
    ) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise not_bytes(data)
        texts: list[bytes] = []
        validator = self._get_validator()
        try:
            if keep is None:
                validator.spans(data, starts, ends, texts.append)
            else:
                validator.split(data, starts, ends, texts.append, keep)
        except RecursionError:
            raise too_deep() from None
        if texts and not texts_are_utf8(texts):
            # Rare: find the offending value (and its exact offset) with the decoder.
            for start, end in zip(starts, ends, strict=True):
                _, pos = self.decode_from(data, start)
                if pos != end:
                    raise trailing(pos, end)
            raise BsatnDecodeError("invalid UTF-8 in String")  # pragma: no cover

    def validate_concatenated(self, data: bytes | bytearray | memoryview) -> None:
        """Check values laid back to back, as :meth:`decode_concatenated` reads them.

        For fixed-size types only the bool bytes and sum tags are looked at, by stride, in C.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise not_bytes(data)
        validator = self._get_validator()
        size = validator.fixed_size
        end = len(data)
        if size is None:
            texts: list[bytes] = []
            pos, one, append = 0, validator.one, texts.append
            try:
                while pos < end:
                    pos = one(data, pos, end, append)
            except RecursionError:
                raise too_deep() from None
            if texts and not texts_are_utf8(texts):
                self.decode_concatenated(data)
                raise BsatnDecodeError("invalid UTF-8 in String")  # pragma: no cover
            return
        if size == 0 or end % size:
            if end:
                raise BsatnDecodeError(
                    f"{end} bytes is not a whole number of {size}-byte values", end - end % size
                )
            return
        buf = data if isinstance(data, bytes) else bytes(data)
        for offset, limit, is_bool in validator.static_checks or ():
            column = buf[offset::size]
            if column.translate(None, allowed_bytes(limit)):
                for i, byte in enumerate(column):
                    if byte >= limit:
                        at = i * size + offset
                        if is_bool:
                            raise bad_bool(at, byte)
                        raise bad_tag(at, byte, "sum", limit)

    def encode(self, value: T) -> bytes:
        """Encode one value to BSATN bytes."""
        out = bytearray()
        self.encode_into(value, out)
        return bytes(out)

    def encode_into(self, value: T, out: bytearray) -> None:
        """Append the BSATN of ``value`` to ``out``."""
        try:
            self._encode_into(value, out)
        except BsatnEncodeError:
            raise
        except (struct.error, TypeError, AttributeError, KeyError, OverflowError, ValueError,
                IndexError, UnicodeEncodeError) as exc:  # fmt: skip
            raise BsatnEncodeError(
                f"cannot encode {short_repr(value)} as {type_name(self.type)}: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return f"BsatnCodec({type_name(self.type)})"


# ------------------------------------------------------------------------------------ compiling

_CACHE: dict[tuple[AlgebraicType, Typespace, int], BsatnCodec[Any]] = {}
_CACHE_LOCK = threading.Lock()


def _compiled(ty: AlgebraicType, ts: Typespace, bindings: Bindings) -> BsatnCodec[Any]:
    made = CodecGenerator(ts, bindings).build(ty)
    return BsatnCodec(
        ty,
        ts,
        made.decode_at,
        made.encode_into,
        made.fixed_size,
        made.fixed_format,
        made.decode_fixed_many,
        made.source,
        made.decode_many,
    )


def compile_codec(
    ty: AlgebraicType,
    typespace: Typespace | Sequence[AlgebraicType] = (),
    bindings: Bindings | None = None,
) -> BsatnCodec[Any]:
    """Generate (or fetch from the cache) the codec for ``ty``.

    ``typespace`` resolves ``Ref``\\ s; ``bindings`` maps typespace indices to Python classes.
    Codecs without bindings are cached by type; with bindings the caller should keep the codec.
    """
    ts = typespace if isinstance(typespace, Typespace) else Typespace(tuple(typespace))
    if not bindings:
        key = (ty, ts, 0)
        with _CACHE_LOCK:
            cached = _CACHE.get(key)
        if cached is not None:
            return cached
        codec = _compiled(ty, ts, {})
        with _CACHE_LOCK:
            _CACHE[key] = codec
        return codec
    return _compiled(ty, ts, bindings)


def encode(
    ty: AlgebraicType, value: Any, typespace: Typespace | Sequence[AlgebraicType] = ()
) -> bytes:
    """Encode ``value`` as ``ty`` (convenience over :func:`compile_codec`)."""
    return compile_codec(ty, typespace).encode(value)


def decode(
    ty: AlgebraicType,
    data: bytes | bytearray | memoryview,
    typespace: Typespace | Sequence[AlgebraicType] = (),
) -> Any:
    """Decode exactly one value of ``ty`` from ``data``."""
    return compile_codec(ty, typespace).decode(data)
