"""BSATN: the binary encoding of SATS values, compiled once per type.

:func:`compile_codec` turns an :class:`~spacetimedb_sdk.algebraic_type.AlgebraicType` (plus its
typespace and optional Python-class bindings) into a :class:`BsatnCodec` whose ``encode`` and
``decode`` are specialised Python functions generated for that type:

* consecutive fixed-width fields (integers, floats, bools, Identity, Timestamp, the length prefix
  of the next string, the tag of the next sum, ...) are read or written with one precompiled
  ``struct.Struct`` call, so a row such as ``{id: u64, x: f32, y: f32, z: f32, hp: u32}`` costs one
  ``unpack_from``;
* there is no per-field type dispatch at run time: the type was resolved when the code was
  generated;
* non-recursive ``Ref``\\ s are inlined; recursive ones become calls to their own function.

Decoding is strict. Truncated input, trailing bytes, an unknown sum tag, a bool byte other than
0/1 and invalid UTF-8 all raise :class:`~spacetimedb_sdk.errors.BsatnDecodeError` naming the
problem and its byte offset; nothing else escapes.

Value shapes: see :mod:`spacetimedb_sdk.values`. Bindings (:class:`ProductBinding`,
:class:`SumBinding`) let generated code decode straight into its own classes.
"""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import starmap
from typing import Any, Final, Generic, TypeVar, cast

from spacetimedb_sdk.algebraic_type import (
    INTEGER_RANGES,
    UNIT,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    special_kind,
    type_to_json,
)
from spacetimedb_sdk.errors import BsatnDecodeError, BsatnEncodeError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.uuid import Uuid
from spacetimedb_sdk.values import Err, Ok, Some, SumValue

__all__ = [
    "ZERO_SIZE_ELEMENT_ALLOWANCE",
    "Bindings",
    "BsatnCodec",
    "ProductBinding",
    "SumBinding",
    "compile_codec",
    "decode",
    "encode",
    "resolve_binding",
]

T = TypeVar("T")

#: Elements of a zero-size type (unit, empty products) cost no input bytes, so an array of them
#: could claim billions of elements in four bytes. A decoded value may hold at most this many
#: such elements plus one per byte of its input; a longer claim is a BsatnDecodeError.
ZERO_SIZE_ELEMENT_ALLOWANCE: Final = 65536


@dataclass(frozen=True)
class ProductBinding:
    """Decode a product into ``cls(*fields)`` and encode by reading ``attrs`` from the object.

    ``attrs`` are the Python attribute names, one per element in wire order.
    """

    cls: Callable[..., Any]
    attrs: tuple[str, ...]


@dataclass(frozen=True)
class SumBinding:
    """Decode variant ``tag`` with ``wrap[tag](payload)``; encode with ``unwrap(obj) -> (tag, payload)``.

    ``constants`` may give, per tag, a ready-made value for unit variants (e.g. enum members) so
    the decoder does not call ``wrap`` for them.
    """

    wrap: tuple[Callable[[Any], Any], ...]
    unwrap: Callable[[Any], tuple[int, Any]]
    constants: Mapping[int, Any] = field(default_factory=dict)


#: Bindings by typespace index: the type at ``Ref(i)`` decodes into ``bindings[i]``'s class.
Bindings = Mapping[int, ProductBinding | SumBinding]


def resolve_binding(
    ty: AlgebraicType, typespace: Typespace, bindings: Bindings
) -> tuple[AlgebraicType, ProductBinding | SumBinding | None]:
    """Follow ``Ref``s to a concrete type; return it and the first binding met on the way.

    Raises ValueError for a dangling or cyclic reference.
    """
    binding: ProductBinding | SumBinding | None = None
    seen: set[int] = set()
    while isinstance(ty, RefType):
        if ty.index in seen or not 0 <= ty.index < len(typespace):
            raise ValueError(f"unresolvable type reference Ref({ty.index})")
        seen.add(ty.index)
        if binding is None:
            binding = bindings.get(ty.index)
        ty = typespace.types[ty.index]
    return ty, binding


# ------------------------------------------------------------------------------- fast constructors
# The special classes validate their arguments in __init__; decoded values are valid by
# construction, so the generated code builds them without the checks.

_new = object.__new__


def _mk_schedule_at(value: TimeDuration | Timestamp) -> ScheduleAt:
    obj = _new(ScheduleAt)
    obj._value = value
    return obj


# --------------------------------------------------------------------------------- error helpers


def _truncated(pos: int, need: int, have: int, what: str) -> BsatnDecodeError:
    return BsatnDecodeError(
        f"input truncated: {what} needs {need} byte(s) but only {max(have - pos, 0)} remain", pos
    )


def _bad_bool(pos: int, byte: int) -> BsatnDecodeError:
    return BsatnDecodeError(f"invalid Bool byte 0x{byte:02x} (only 0x00 and 0x01 are valid)", pos)


def _bad_tag(pos: int, tag: int, what: str, count: int) -> BsatnDecodeError:
    return BsatnDecodeError(f"invalid sum tag {tag} for {what} with {count} variant(s)", pos)


def _bad_utf8(pos: int, exc: UnicodeDecodeError) -> BsatnDecodeError:
    return BsatnDecodeError(f"invalid UTF-8 in String: {exc.reason}", pos + exc.start)


def _not_bytes(data: object) -> BsatnDecodeError:
    return BsatnDecodeError(f"BSATN input must be bytes-like, not {type(data).__name__}")


def _too_many(pos: int, count: int, min_size: int, remaining: int) -> BsatnDecodeError:
    return BsatnDecodeError(
        f"Array claims {count} element(s) of at least {min_size} byte(s) each but only "
        f"{remaining} byte(s) remain",
        pos,
    )


def _zero_size_exhausted(pos: int, count: int) -> BsatnDecodeError:
    return BsatnDecodeError(
        f"Array claims {count} zero-size element(s): more than the input can justify "
        f"(at most {ZERO_SIZE_ELEMENT_ALLOWANCE} plus the input length per value)",
        pos,
    )


def _too_deep() -> BsatnDecodeError:
    return BsatnDecodeError("value nested too deeply to decode")


# ------------------------------------------------------------------------------- the compiled codec

_FIXED_FORMATS: Final[dict[str, tuple[str, int]]] = {
    "Bool": ("B", 1),
    "I8": ("b", 1),
    "U8": ("B", 1),
    "I16": ("h", 2),
    "U16": ("H", 2),
    "I32": ("i", 4),
    "U32": ("I", 4),
    "I64": ("q", 8),
    "U64": ("Q", 8),
    "I128": ("16s", 16),
    "U128": ("16s", 16),
    "I256": ("32s", 32),
    "U256": ("32s", 32),
    "F32": ("f", 4),
    "F64": ("d", 8),
}

_WIDE_SIGNED: Final = {"I128": True, "U128": False, "I256": True, "U256": False}
_WIDE_BYTES: Final = {"I128": 16, "U128": 16, "I256": 32, "U256": 32}

# Special products that are one fixed-width primitive: (format, size, fast constructor, encoder expr).
# Special products that are one fixed-width primitive:
# (format, size, class, slot, decode conversion of the raw field, encoder expression).
_SPECIAL_FIXED: Final[dict[str, tuple[str, int, str, str, str, str]]] = {
    "identity": (
        "32s", 32, "Identity", "_value", "_from_bytes({}, 'little')",
        "{}._value.to_bytes(32, 'little')",
    ),
    "connection_id": (
        "16s", 16, "ConnectionId", "_value", "_from_bytes({}, 'little')",
        "{}._value.to_bytes(16, 'little')",
    ),
    "uuid": (
        "16s", 16, "Uuid", "_value", "_from_bytes({}, 'little')",
        "{}._value.to_bytes(16, 'little')",
    ),
    "timestamp": ("q", 8, "Timestamp", "_micros", "{}", "{}._micros"),
    "time_duration": ("q", 8, "TimeDuration", "_micros", "{}", "{}._micros"),
}  # fmt: skip


class BsatnCodec(Generic[T]):
    """An encoder/decoder pair generated for one AlgebraicType.

    Build with :func:`compile_codec`. Instances are immutable and thread-safe.
    """

    __slots__ = (
        "_decode_at",
        "_decode_fixed_tuple",
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
        decode_fixed_tuple: Callable[..., T] | None,
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
        self._decode_fixed_tuple = decode_fixed_tuple
        #: The generated Python source (for debugging and the curious).
        self.source = source
        self._validator: _Validator | None = None
        self._decode_many = decode_many

    def decode(self, data: bytes | bytearray | memoryview) -> T:
        """Decode exactly one value; trailing bytes are an error."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _not_bytes(data)
        try:
            value, pos = self._decode_at(data, 0)
        except RecursionError:
            raise _too_deep() from None
        if pos != len(data):
            raise BsatnDecodeError(f"{len(data) - pos} trailing byte(s) after the value", pos)
        return value

    def decode_from(self, data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[T, int]:
        """Decode one value starting at ``offset``; return it and the offset just past it."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _not_bytes(data)
        try:
            return self._decode_at(data, offset)
        except RecursionError:
            raise _too_deep() from None

    def decode_many(self, values: Sequence[bytes]) -> list[T]:
        """Decode each of ``values`` (each exactly one value) in one generated loop.

        For input that already passed :meth:`validate` (the client cache's rows): trailing
        bytes go unnoticed here, every other error still raises
        :class:`~spacetimedb_sdk.errors.BsatnDecodeError`.
        """
        try:
            return self._decode_many(values)
        except RecursionError:
            raise _too_deep() from None

    def decode_concatenated(self, data: bytes | bytearray | memoryview) -> list[T]:
        """Decode values laid back to back until ``data`` is exhausted."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _not_bytes(data)
        fmt = self.fixed_format
        if fmt is not None and self._decode_fixed_tuple is not None:
            size = fmt.size
            if len(data) % size:
                raise BsatnDecodeError(
                    f"{len(data)} bytes is not a whole number of {size}-byte values",
                    len(data) - len(data) % size,
                )
            return list(starmap(self._decode_fixed_tuple, fmt.iter_unpack(data)))
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
            raise _too_deep() from None
        return out

    # -------------------------------------------------------------------------- validation
    def _get_validator(self) -> _Validator:
        validator = self._validator
        if validator is None:
            validator = self._validator = _validator_for(self.type, self.typespace)
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
            raise _not_bytes(data)
        texts: list[bytes] = []
        validator = self._get_validator()
        try:
            if keep is None:
                validator.spans(data, starts, ends, texts.append)
            else:
                validator.split(data, starts, ends, texts.append, keep)
        except RecursionError:
            raise _too_deep() from None
        if texts and not _texts_are_utf8(texts):
            # Rare: find the offending value (and its exact offset) with the decoder.
            for start, end in zip(starts, ends, strict=True):
                _, pos = self.decode_from(data, start)
                if pos != end:
                    raise _trailing(pos, end)
            raise BsatnDecodeError("invalid UTF-8 in String")  # pragma: no cover

    def validate_concatenated(self, data: bytes | bytearray | memoryview) -> None:
        """Check values laid back to back, as :meth:`decode_concatenated` reads them.

        For fixed-size types only the bool bytes and sum tags are looked at, by stride, in C.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _not_bytes(data)
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
                raise _too_deep() from None
            if texts and not _texts_are_utf8(texts):
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
            if column.translate(None, _allowed(limit)):
                for i, byte in enumerate(column):
                    if byte >= limit:
                        at = i * size + offset
                        if is_bool:
                            raise _bad_bool(at, byte)
                        raise _bad_tag(at, byte, "sum", limit)

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
                f"cannot encode {_short_repr(value)} as {_type_name(self.type)}: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return f"BsatnCodec({_type_name(self.type)})"


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _type_name(ty: AlgebraicType) -> str:
    text = str(type_to_json(ty))
    return text if len(text) <= 160 else text[:157] + "..."


# --------------------------------------------------------------------------------- code generation


@dataclass
class _Run:
    """Fixed-width items waiting to be read (decode) or written (encode) with one struct call."""

    fmt: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    bool_names: list[tuple[str, int]] = field(default_factory=list)  # (name, offset in run)
    # Statements run right after the unpack (building special values without a call).
    post: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(self.sizes)


class _Block:
    """Lines of generated code at one indentation, with the fixed-width run still open in it."""

    def __init__(self, lines: list[str], indent: int) -> None:
        self.lines = lines
        self.indent = indent
        self.run = _Run()

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)


class _Generator:
    """Generates the decode and encode functions for one root type (and recursive refs)."""

    def __init__(self, typespace: Typespace, bindings: Bindings) -> None:
        self.ts = typespace
        self.bindings = bindings
        self.ns: dict[str, Any] = {
            "_unpack_from": struct.unpack_from,
            "_pack": struct.pack,
            "_from_bytes": int.from_bytes,
            "_new": object.__new__,
            "_mk_schedule_at": _mk_schedule_at,
            "Identity": Identity,
            "ConnectionId": ConnectionId,
            "Uuid": Uuid,
            "Timestamp": Timestamp,
            "TimeDuration": TimeDuration,
            "ScheduleAt": ScheduleAt,
            "_Some": Some,
            "_Ok": Ok,
            "_Err": Err,
            "_SumValue": SumValue,
            "_truncated": _truncated,
            "_bad_bool": _bad_bool,
            "_bad_tag": _bad_tag,
            "_bad_utf8": _bad_utf8,
            "_EncodeError": BsatnEncodeError,
            "_check_wide": _check_wide,
            "_encode_bytes": _encode_bytes,
            "_too_many": _too_many,
            "_zero_size_exhausted": _zero_size_exhausted,
            "_ZA": ZERO_SIZE_ELEMENT_ALLOWANCE,
        }
        #: Whether generated functions carry ``zb``, the zero-size element budget (a one-item
        #: list shared with recursive calls): only types with arrays of zero-size elements.
        self.zero_budget = False
        self.counter = 0
        self.sources: list[str] = []
        self.ref_funcs: dict[int, tuple[str, str]] = {}  # ref index -> (decode fn, encode fn)
        self.pending_refs: list[int] = []
        self.structs: dict[str, str] = {}

    # -- names ----------------------------------------------------------------------------------
    def tmp(self, prefix: str = "t") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: object, prefix: str = "_k") -> str:
        name = self.tmp(prefix)
        self.ns[name] = value
        return name

    def struct_name(self, fmt: str) -> str:
        name = self.structs.get(fmt)
        if name is None:
            name = self.tmp("_S")
            self.structs[fmt] = name
            self.ns[name] = struct.Struct("<" + fmt)
        return name

    # -- type helpers ---------------------------------------------------------------------------
    def resolve(
        self, ty: AlgebraicType
    ) -> tuple[AlgebraicType, ProductBinding | SumBinding | None]:
        """Follow refs; return the type and the first binding met on the way."""
        return resolve_binding(ty, self.ts, self.bindings)

    def fixed_size(self, ty: AlgebraicType, stack: frozenset[int] = frozenset()) -> int | None:
        """Statically known BSATN size of ``ty``, or None if values vary in size."""
        if isinstance(ty, RefType):
            if ty.index in stack:
                return None
            return self.fixed_size(self.ts.types[ty.index], stack | {ty.index})
        if isinstance(ty, PrimitiveType):
            entry = _FIXED_FORMATS.get(ty.name)
            return entry[1] if entry else None
        if isinstance(ty, ProductType):
            total = 0
            for el in ty.elements:
                size = self.fixed_size(el.algebraic_type, stack)
                if size is None:
                    return None
                total += size
            return total
        if isinstance(ty, SumType):
            # Only a sum whose variants are all unit has a fixed size (the tag byte).
            if ty.variants and all(
                self.fixed_size(v.algebraic_type, stack) == 0 for v in ty.variants
            ):
                return 1
            return None
        return None

    def min_size(self, ty: AlgebraicType, stack: frozenset[int] = frozenset()) -> int:
        """A lower bound on the BSATN size of any value of ``ty`` (exact unless recursive)."""
        if isinstance(ty, RefType):
            if ty.index in stack:
                return 0
            return self.min_size(self.ts.types[ty.index], stack | {ty.index})
        if isinstance(ty, PrimitiveType):
            entry = _FIXED_FORMATS.get(ty.name)
            return entry[1] if entry else 4  # String: its length prefix
        if isinstance(ty, ArrayType):
            return 4
        if isinstance(ty, ProductType):
            return sum(self.min_size(el.algebraic_type, stack) for el in ty.elements)
        if isinstance(ty, SumType):
            return 1 + min((self.min_size(v.algebraic_type, stack) for v in ty.variants), default=0)
        return 0

    def has_zero_size_array(self, ty: AlgebraicType) -> bool:
        """True if an array of zero-size elements is reachable from ``ty``."""
        seen: set[int] = set()
        todo = [ty]
        while todo:
            t = todo.pop()
            if isinstance(t, RefType):
                if t.index not in seen and 0 <= t.index < len(self.ts):
                    seen.add(t.index)
                    todo.append(self.ts.types[t.index])
            elif isinstance(t, ArrayType):
                if self.fixed_size(t.element) == 0:
                    return True
                todo.append(t.element)
            elif isinstance(t, ProductType):
                todo.extend(el.algebraic_type for el in t.elements)
            elif isinstance(t, SumType):
                todo.extend(v.algebraic_type for v in t.variants)
        return False

    # ================================================================================ decoding
    def flush(self, block: _Block) -> None:
        run = block.run
        if not run.fmt:
            return
        size = run.size
        sname = self.struct_name("".join(run.fmt))
        block.emit(
            f"if pos + {size} > blen: raise _truncated(pos, {size}, blen, 'fixed-width fields')"
        )
        targets = ", ".join(run.names) + ("," if len(run.names) == 1 else "")
        block.emit(f"{targets} = {sname}.unpack_from(buf, pos)")
        for name, offset in run.bool_names:
            block.emit(f"if {name} > 1: raise _bad_bool(pos + {offset}, {name})")
        for statement in run.post:
            block.emit(statement)
        block.emit(f"pos += {size}")
        block.run = _Run()

    def add_fixed(self, block: _Block, fmt: str, size: int, is_bool: bool = False) -> str:
        name = self.tmp()
        run = block.run
        if is_bool:
            run.bool_names.append((name, run.size))
        run.fmt.append(fmt)
        run.names.append(name)
        run.sizes.append(size)
        return name

    def dec(self, ty: AlgebraicType, block: _Block, stack: tuple[int, ...]) -> str:
        """Emit code decoding ``ty``; return an expression for the value.

        The expression may reference names that are only assigned when the block's run is
        flushed, so it must be used after the next flush of ``block``.
        """
        binding: ProductBinding | SumBinding | None = None
        if isinstance(ty, RefType):
            if ty.index in stack:
                # Recursive: call the ref's own function.
                self.flush(block)
                fn = self.ref_function(ty.index)[0]
                out = self.tmp()
                zb = ", zb" if self.zero_budget else ""
                block.emit(f"{out}, pos = {fn}(buf, pos{zb})")
                return out
            index = ty.index
            ty, binding = self.resolve(ty)
            stack = (*stack, index)
        if isinstance(ty, PrimitiveType):
            return self.dec_primitive(ty, block)
        if isinstance(ty, ArrayType):
            return self.dec_array(ty, block, stack)
        if isinstance(ty, ProductType):
            return self.dec_product(ty, block, stack, cast("ProductBinding | None", binding))
        if isinstance(ty, SumType):
            return self.dec_sum(ty, block, stack, cast("SumBinding | None", binding))
        raise TypeError(f"not an AlgebraicType: {ty!r}")

    def dec_primitive(self, ty: PrimitiveType, block: _Block) -> str:
        if ty.name == "String":
            return self.dec_string(block)
        fmt, size = _FIXED_FORMATS[ty.name]
        name = self.add_fixed(block, fmt, size, is_bool=ty.name == "Bool")
        if ty.name == "Bool":
            return f"({name} == 1)"
        if ty.name in _WIDE_SIGNED:
            signed = ", signed=True" if _WIDE_SIGNED[ty.name] else ""
            return f"_from_bytes({name}, 'little'{signed})"
        return name

    def dec_length_prefixed(self, block: _Block, what: str) -> tuple[str, str]:
        """Read a u32 length with the open run; return (start var, end var) of the payload."""
        length = self.add_fixed(block, "I", 4)
        self.flush(block)
        end = self.tmp("e")
        block.emit(f"{end} = pos + {length}")
        block.emit(f"if {end} > blen: raise _truncated(pos, {length}, blen, {what!r})")
        return length, end

    def dec_string(self, block: _Block) -> str:
        _, end = self.dec_length_prefixed(block, "String")
        out = self.tmp()
        block.emit("try:")
        block.emit(f"    {out} = str(buf[pos:{end}], 'utf-8')")
        block.emit("except UnicodeDecodeError as exc:")
        block.emit("    raise _bad_utf8(pos, exc) from None")
        block.emit(f"pos = {end}")
        return out

    def dec_array(self, ty: ArrayType, block: _Block, stack: tuple[int, ...]) -> str:
        elem, _ = self.resolve(ty.element)
        out = self.tmp()
        if (
            isinstance(elem, PrimitiveType)
            and elem.name == "U8"
            and not isinstance(ty.element, RefType)
        ):
            _, end = self.dec_length_prefixed(block, "Array<U8>")
            block.emit(f"{out} = bytes(buf[pos:{end}])")
            block.emit(f"pos = {end}")
            return out
        count = self.add_fixed(block, "I", 4)
        self.flush(block)
        if (
            isinstance(elem, PrimitiveType)
            and elem.name in _FIXED_FORMATS
            and elem.name not in _WIDE_SIGNED
            and elem.name != "Bool"
            and not isinstance(ty.element, RefType)
        ):
            fmt, size = _FIXED_FORMATS[elem.name]
            block.emit(
                f"if pos + {count} * {size} > blen: raise _truncated(pos, {count} * {size}, blen, 'Array')"
            )
            block.emit(f"{out} = list(_unpack_from('<%d{fmt}' % {count}, buf, pos))")
            block.emit(f"pos += {count} * {size}")
            return out
        elem_size = self.fixed_size(ty.element)
        if elem_size:
            block.emit(
                f"if pos + {count} * {elem_size} > blen: "
                f"raise _truncated(pos, {count} * {elem_size}, blen, 'Array')"
            )
        elif elem_size == 0:
            # Zero-size elements consume no input: charge them to the value's budget instead.
            block.emit(f"zb[0] -= {count}")
            block.emit(f"if zb[0] < 0: raise _zero_size_exhausted(pos - 4, {count})")
        else:
            least = self.min_size(ty.element)
            if least:
                # Refuse a count the remaining input cannot hold before building anything.
                block.emit(
                    f"if {count} * {least} > blen - pos: "
                    f"raise _too_many(pos - 4, {count}, {least}, blen - pos)"
                )
        block.emit(f"{out} = []")
        block.emit(f"for _ in range({count}):")
        inner = _Block(block.lines, block.indent + 1)
        expr = self.dec(ty.element, inner, stack)
        self.flush(inner)
        inner.emit(f"{out}.append({expr})")
        return out

    def dec_product(
        self,
        ty: ProductType,
        block: _Block,
        stack: tuple[int, ...],
        binding: ProductBinding | None,
    ) -> str:
        kind = special_kind(ty)
        if binding is None and kind in _SPECIAL_FIXED:
            fmt, size, cls, slot, convert, _ = _SPECIAL_FIXED[kind]
            raw = self.add_fixed(block, fmt, size)
            out = self.tmp()
            # Set the slot directly: decoded values are valid, so skip the checking __init__
            # (and a Python-level call per value).
            block.run.post.append(f"{out} = _new({cls}); {out}.{slot} = {convert.format(raw)}")
            return out
        exprs = [self.dec(el.algebraic_type, block, stack) for el in ty.elements]
        if binding is not None:
            cls = self.const(binding.cls, "_C")
            return f"{cls}({', '.join(exprs)})"
        if not ty.elements:
            return "()"
        keys = [el.name if el.name is not None else str(i) for i, el in enumerate(ty.elements)]
        return "{" + ", ".join(f"{k!r}: {e}" for k, e in zip(keys, exprs, strict=True)) + "}"

    def dec_sum(
        self,
        ty: SumType,
        block: _Block,
        stack: tuple[int, ...],
        binding: SumBinding | None,
    ) -> str:
        kind = special_kind(ty) if binding is None else None
        tag = self.add_fixed(block, "B", 1)
        self.flush(block)
        out = self.tmp()
        what = {"option": "Option", "result": "Result", "schedule_at": "ScheduleAt"}.get(
            kind or "", "sum"
        )
        for i, variant in enumerate(ty.variants):
            block.emit(f"{'if' if i == 0 else 'elif'} {tag} == {i}:")
            inner = _Block(block.lines, block.indent + 1)
            payload_ty = variant.algebraic_type
            if kind == "option" and i == 1:
                inner.emit(f"{out} = None")
                continue
            if binding is not None and i in binding.constants:
                inner.emit(f"{out} = {self.const(binding.constants[i])}")
                continue
            is_unit = payload_ty == UNIT
            expr = "()" if is_unit else self.dec(payload_ty, inner, stack)
            self.flush(inner)
            if binding is not None:
                wrap = self.const(binding.wrap[i], "_W")
                inner.emit(f"{out} = {wrap}({expr})")
            elif kind == "option":
                if self.may_be_none(payload_ty):
                    expr = f"_Some({expr})"
                inner.emit(f"{out} = {expr}")
            elif kind == "result":
                inner.emit(f"{out} = {'_Ok' if i == 0 else '_Err'}({expr})")
            elif kind == "schedule_at":
                inner.emit(f"{out} = _mk_schedule_at({expr})")
            else:
                inner.emit(f"{out} = _SumValue({i}, {variant.name!r}, {expr})")
        if ty.variants:
            block.emit("else:")
            block.emit(f"    raise _bad_tag(pos - 1, {tag}, {what!r}, {len(ty.variants)})")
        else:
            block.emit(f"raise _bad_tag(pos - 1, {tag}, 'empty sum', 0)")
        return out

    def may_be_none(self, ty: AlgebraicType) -> bool:
        """True if a decoded value of ``ty`` can be ``None`` (an unbound Option)."""
        resolved, binding = self.resolve(ty)
        return binding is None and special_kind(resolved) == "option"

    # ================================================================================ encoding
    def eflush(self, block: _Block) -> None:
        run = block.run
        if not run.fmt:
            return
        sname = self.struct_name("".join(run.fmt))
        block.emit(f"out += {sname}.pack({', '.join(run.names)})")
        block.run = _Run()

    def eadd(self, block: _Block, fmt: str, size: int, expr: str) -> None:
        """Queue ``expr`` to be packed with the open run."""
        run = block.run
        if not _is_simple(expr):
            name = self.tmp("v")
            block.emit(f"{name} = {expr}")
            expr = name
        run.fmt.append(fmt)
        run.names.append(expr)
        run.sizes.append(size)

    def enc(self, ty: AlgebraicType, value: str, block: _Block, stack: tuple[int, ...]) -> None:
        """Emit code appending the BSATN of the value held in variable ``value``."""
        binding: ProductBinding | SumBinding | None = None
        if isinstance(ty, RefType):
            if ty.index in stack:
                self.eflush(block)
                fn = self.ref_function(ty.index)[1]
                block.emit(f"{fn}({value}, out)")
                return
            index = ty.index
            ty, binding = self.resolve(ty)
            stack = (*stack, index)
        if isinstance(ty, PrimitiveType):
            self.enc_primitive(ty, value, block)
        elif isinstance(ty, ArrayType):
            self.enc_array(ty, value, block, stack)
        elif isinstance(ty, ProductType):
            self.enc_product(ty, value, block, stack, cast("ProductBinding | None", binding))
        elif isinstance(ty, SumType):
            self.enc_sum(ty, value, block, stack, cast("SumBinding | None", binding))
        else:
            raise TypeError(f"not an AlgebraicType: {ty!r}")

    def enc_primitive(self, ty: PrimitiveType, value: str, block: _Block) -> None:
        if ty.name == "String":
            data = self.tmp("b")
            block.emit(f"{data} = {value}.encode('utf-8')")
            self.eadd(block, "I", 4, f"len({data})")
            self.eflush(block)
            block.emit(f"out += {data}")
            return
        fmt, size = _FIXED_FORMATS[ty.name]
        if ty.name == "Bool":
            flag = self.tmp("v")
            block.emit(f"if {value} is True: {flag} = 1")
            block.emit(f"elif {value} is False: {flag} = 0")
            block.emit(f"else: raise _EncodeError('Bool needs True or False, got %r' % ({value},))")
            self.eadd(block, fmt, size, flag)
            return
        if ty.name in _WIDE_SIGNED:
            lo, hi = INTEGER_RANGES[ty.name]
            expr = f"_check_wide({value}, {lo}, {hi}, {ty.name!r}).to_bytes({_WIDE_BYTES[ty.name]}, 'little', signed={_WIDE_SIGNED[ty.name]})"
            self.eadd(block, fmt, size, expr)
            return
        self.eadd(block, fmt, size, value)

    def enc_array(self, ty: ArrayType, value: str, block: _Block, stack: tuple[int, ...]) -> None:
        elem, _ = self.resolve(ty.element)
        if (
            isinstance(elem, PrimitiveType)
            and elem.name == "U8"
            and not isinstance(ty.element, RefType)
        ):
            data = self.tmp("b")
            block.emit(f"{data} = _encode_bytes({value})")
            self.eadd(block, "I", 4, f"len({data})")
            self.eflush(block)
            block.emit(f"out += {data}")
            return
        seq = self.tmp("s")
        block.emit(f"{seq} = {value}")
        block.emit(
            f"if isinstance({seq}, (str, bytes, dict)): raise _EncodeError('Array needs a sequence, got %r' % (type({seq}).__name__,))"
        )
        self.eadd(block, "I", 4, f"len({seq})")
        self.eflush(block)
        if (
            isinstance(elem, PrimitiveType)
            and elem.name in _FIXED_FORMATS
            and elem.name not in _WIDE_SIGNED
            and elem.name != "Bool"
            and not isinstance(ty.element, RefType)
        ):
            fmt, _ = _FIXED_FORMATS[elem.name]
            block.emit(f"out += _pack('<%d{fmt}' % len({seq}), *{seq})")
            return
        item = self.tmp("x")
        block.emit(f"for {item} in {seq}:")
        inner = _Block(block.lines, block.indent + 1)
        self.enc(ty.element, item, inner, stack)
        self.eflush(inner)
        if len(inner.lines) and inner.lines[-1].endswith(":"):
            inner.emit("pass")

    def enc_product(
        self,
        ty: ProductType,
        value: str,
        block: _Block,
        stack: tuple[int, ...],
        binding: ProductBinding | None,
    ) -> None:
        kind = special_kind(ty)
        if binding is None and kind in _SPECIAL_FIXED:
            fmt, size, cls, _, _, enc_expr = _SPECIAL_FIXED[kind]
            block.emit(
                f"if not isinstance({value}, {cls}): "
                f"raise _EncodeError('expected {cls}, got %r' % (type({value}).__name__,))"
            )
            self.eadd(block, fmt, size, enc_expr.format(value))
            return
        if not ty.elements:
            return
        for i, el in enumerate(ty.elements):
            if binding is not None:
                attr = binding.attrs[i]
                access = f"{value}.{attr}" if attr.isidentifier() else f"getattr({value}, {attr!r})"
            else:
                key = el.name if el.name is not None else str(i)
                access = f"{value}[{key!r}]"
            item = self.tmp("x")
            block.emit(f"{item} = {access}")
            self.enc(el.algebraic_type, item, block, stack)

    def enc_sum(
        self,
        ty: SumType,
        value: str,
        block: _Block,
        stack: tuple[int, ...],
        binding: SumBinding | None,
    ) -> None:
        kind = special_kind(ty) if binding is None else None
        if kind == "option":
            payload = self.tmp("p")
            self.eflush(block)  # what is queued precedes the tag byte
            block.emit(f"if {value} is None:")
            block.emit("    out.append(1)")
            block.emit("else:")
            some_block = _Block(block.lines, block.indent + 1)
            some_block.emit(f"{payload} = {value}.value if isinstance({value}, _Some) else {value}")
            self.eadd(some_block, "B", 1, "0")
            self.enc(ty.variants[0].algebraic_type, payload, some_block, stack)
            self.eflush(some_block)
            return
        tag = self.tmp("g")
        payload = self.tmp("p")
        if binding is not None:
            unwrap = self.const(binding.unwrap, "_U")
            block.emit(f"{tag}, {payload} = {unwrap}({value})")
        elif kind == "result":
            block.emit(f"if isinstance({value}, _Ok): {tag}, {payload} = 0, {value}.value")
            block.emit(f"elif isinstance({value}, _Err): {tag}, {payload} = 1, {value}.error")
            block.emit(
                f"else: raise _EncodeError('Result needs Ok(...) or Err(...), got %r' % ({value},))"
            )
        elif kind == "schedule_at":
            block.emit(
                f"if not isinstance({value}, ScheduleAt): raise _EncodeError('expected ScheduleAt, got %r' % ({value},))"
            )
            block.emit(f"{tag}, {payload} = {value}.tag, {value}.value")
        else:
            block.emit(
                f"if not isinstance({value}, _SumValue): raise _EncodeError('expected SumValue, got %r' % ({value},))"
            )
            block.emit(f"{tag}, {payload} = {value}.tag, {value}.value")
        self.eadd(block, "B", 1, tag)
        self.eflush(block)
        for i, variant in enumerate(ty.variants):
            block.emit(f"{'if' if i == 0 else 'elif'} {tag} == {i}:")
            inner = _Block(block.lines, block.indent + 1)
            if variant.algebraic_type == UNIT:
                inner.emit("pass")
                continue
            self.enc(variant.algebraic_type, payload, inner, stack)
            self.eflush(inner)
        if ty.variants:
            block.emit("else:")
            block.emit(
                f"    raise _EncodeError('invalid tag %r for a sum of {len(ty.variants)} variant(s)' % ({tag},))"
            )
        else:
            block.emit("raise _EncodeError('the empty sum has no values')")

    # ================================================================================ functions
    def ref_function(self, index: int) -> tuple[str, str]:
        names = self.ref_funcs.get(index)
        if names is None:
            names = (f"_dec_ref{index}", f"_enc_ref{index}")
            self.ref_funcs[index] = names
            self.pending_refs.append(index)
        return names

    def function_pair(
        self,
        ty: AlgebraicType,
        dec_name: str,
        enc_name: str,
        stack: tuple[int, ...],
        root: bool = False,
    ) -> None:
        if not self.zero_budget:
            lines = [f"def {dec_name}(buf, pos):", "    blen = len(buf)"]
        elif root:
            lines = [
                f"def {dec_name}(buf, pos):",
                "    blen = len(buf)",
                "    zb = [blen - pos + _ZA]",
            ]
        else:
            lines = [f"def {dec_name}(buf, pos, zb):", "    blen = len(buf)"]
        block = _Block(lines, 1)
        expr = self.dec(ty, block, stack)
        self.flush(block)
        block.emit(f"return {expr}, pos")
        self.sources.append("\n".join(lines))

        lines = [f"def {enc_name}(value, out):"]
        block = _Block(lines, 1)
        self.enc(ty, "value", block, stack)
        self.eflush(block)
        block.emit("return None")
        self.sources.append("\n".join(lines))

    def many_function(self, ty: AlgebraicType) -> None:
        # The root decoder inlined in a loop: no call, tuple or wrapper per value.
        lines = [
            "def _dec_many(values):",
            "    out = []",
            "    _oa = out.append",
            "    for buf in values:",
            "        pos = 0",
            "        blen = len(buf)",
        ]
        if self.zero_budget:
            lines.append("        zb = [blen + _ZA]")
        block = _Block(lines, 2)
        expr = self.dec(ty, block, ())
        self.flush(block)
        block.emit(f"_oa({expr})")
        lines.append("    return out")
        self.sources.append("\n".join(lines))

    def fixed_tuple_builder(self, ty: AlgebraicType) -> struct.Struct | None:
        """For a type that is one flat fixed-width run, build ``(struct, f(*fields) -> value)``."""
        lines: list[str] = []
        block = _Block(lines, 1)
        try:
            expr = self.dec(ty, block, ())
        except TypeError:
            return None
        if lines or not block.run.fmt:
            return None  # something variable-width (or a branch) was emitted
        run = block.run
        fmt = "".join(run.fmt)
        args = ", ".join(run.names)
        body = ["def _from_fields(" + args + "):"]
        for name, _ in run.bool_names:
            body.append(f"    if {name} > 1: raise _bad_bool(-1, {name})")
        body.extend(f"    {statement}" for statement in run.post)
        body.append(f"    return {expr}")
        self.sources.append("\n".join(body))
        return struct.Struct("<" + fmt)

    def build(self, ty: AlgebraicType) -> BsatnCodec[Any]:
        self.zero_budget = self.has_zero_size_array(ty)
        self.function_pair(ty, "_dec_root", "_enc_root", (), root=True)
        self.many_function(ty)
        while self.pending_refs:
            index = self.pending_refs.pop()
            self.function_pair(RefType(index), *self.ref_funcs[index], ())
        fixed = self.fixed_tuple_builder(ty)
        source = "\n\n".join(self.sources) + "\n"
        exec(compile(source, f"<bsatn codec {_type_name(ty)[:60]}>", "exec"), self.ns)
        from_fields = self.ns["_from_fields"] if fixed is not None else None
        return BsatnCodec(
            ty,
            self.ts,
            self.ns["_dec_root"],
            self.ns["_enc_root"],
            self.fixed_size(ty),
            fixed,
            from_fields,
            source,
            self.ns["_dec_many"],
        )


# ------------------------------------------------------------------------------------ validation
# A validator checks BSATN exactly as strictly as the decoder but builds nothing: fixed-width runs
# are skipped by size, only bool bytes, sum tags and length prefixes are read, and String bytes
# are collected so their UTF-8 can be checked in one pass at the end. Whatever a validator
# accepts, the decoder decodes.


class _VBlock:
    """Validator code at one indentation; ``off`` bytes past ``pos`` are pending, unchecked."""

    def __init__(self, lines: list[str], indent: int) -> None:
        self.lines = lines
        self.indent = indent
        self.off = 0
        # (offset, limit, is_bool): the byte at that offset must be < limit.
        self.checks: list[tuple[int, int, bool]] = []

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)


class _ValidatorGenerator:
    """Generates the validation functions of one root type (and its recursive refs)."""

    def __init__(self, typespace: Typespace) -> None:
        self.ts = typespace
        self.types = _Generator(typespace, {})  # for its size and resolution helpers
        self.ns: dict[str, Any] = {
            "_u32": struct.Struct("<I").unpack_from,
            "_truncated": _truncated,
            "_bad_bool": _bad_bool,
            "_bad_tag": _bad_tag,
            "_too_many": _too_many,
            "_trailing": _trailing,
            "_end_mismatch": _end_mismatch,
            "_zero_size_exhausted": _zero_size_exhausted,
            "_ZA": ZERO_SIZE_ELEMENT_ALLOWANCE,
        }
        self.counter = 0
        self.sources: list[str] = []
        self.ref_funcs: dict[int, str] = {}
        self.pending_refs: list[int] = []
        self.zero_budget = False

    def tmp(self, prefix: str = "v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def static_checks(self, ty: AlgebraicType, base: int, out: list[tuple[int, int, bool]]) -> int:
        """Append the byte checks of fixed-size ``ty`` at offset ``base``; return its size."""
        ty, _ = self.types.resolve(ty)
        if isinstance(ty, PrimitiveType):
            if ty.name == "Bool":
                out.append((base, 2, True))
            return _FIXED_FORMATS[ty.name][1]
        if isinstance(ty, ProductType):
            kind = special_kind(ty)
            if kind in _SPECIAL_FIXED:
                return _SPECIAL_FIXED[kind][1]
            size = 0
            for el in ty.elements:
                size += self.static_checks(el.algebraic_type, base + size, out)
            return size
        if isinstance(ty, SumType):  # a fixed-size sum: every variant is zero-size
            out.append((base, len(ty.variants), False))
            return 1
        raise TypeError(f"not a fixed-size type: {ty!r}")

    def emit_checks(self, block: _VBlock) -> None:
        for offset, limit, is_bool in block.checks:
            at = f"pos + {offset}" if offset else "pos"
            if is_bool:
                block.emit(f"if buf[{at}] > 1: raise _bad_bool({at}, buf[{at}])")
            else:
                block.emit(
                    f"if buf[{at}] >= {limit}: raise _bad_tag({at}, buf[{at}], 'sum', {limit})"
                )
        block.checks = []

    def sync(self, block: _VBlock, extra: int, what: str) -> int:
        """Bounds-check the pending bytes plus ``extra``; return the pending offset."""
        off = block.off
        need = off + extra
        if need:
            block.emit(f"if pos + {need} > blen: raise _truncated(pos, {need}, blen, {what!r})")
        self.emit_checks(block)
        block.off = 0
        return off

    def flush(self, block: _VBlock) -> None:
        off = self.sync(block, 0, "fixed-width fields")
        if off:
            block.emit(f"pos += {off}")

    def read_u32(self, block: _VBlock, what: str) -> str:
        off = self.sync(block, 4, what)
        n = self.tmp("n")
        block.emit(f"{n} = _u32(buf, pos + {off})[0]" if off else f"{n} = _u32(buf, pos)[0]")
        block.emit(f"pos += {off + 4}")
        return n

    def val(self, ty: AlgebraicType, block: _VBlock, stack: tuple[int, ...]) -> None:
        """Emit code checking one value of ``ty`` at ``pos + block.off``."""
        if isinstance(ty, RefType):
            if ty.index in stack:
                self.flush(block)
                zb = ", zb" if self.zero_budget else ""
                block.emit(f"pos = {self.ref_function(ty.index)}(buf, pos, blen, _ta{zb})")
                return
            index = ty.index
            ty, _ = self.types.resolve(ty)
            stack = (*stack, index)
        if self.types.fixed_size(ty) is not None:
            block.off += self.static_checks(ty, block.off, block.checks)
            return
        if isinstance(ty, PrimitiveType):  # String
            self.val_bytes(block, "String", text=True)
        elif isinstance(ty, ArrayType):
            self.val_array(ty, block, stack)
        elif isinstance(ty, ProductType):
            for el in ty.elements:
                self.val(el.algebraic_type, block, stack)
        elif isinstance(ty, SumType):
            self.val_sum(ty, block, stack)
        else:
            raise TypeError(f"not an AlgebraicType: {ty!r}")

    def val_bytes(self, block: _VBlock, what: str, text: bool) -> None:
        n = self.read_u32(block, what)
        end = self.tmp("e")
        block.emit(f"{end} = pos + {n}")
        block.emit(f"if {end} > blen: raise _truncated(pos, {n}, blen, {what!r})")
        if text:
            block.emit(f"_ta(buf[pos:{end}])")
        block.emit(f"pos = {end}")

    def val_array(self, ty: ArrayType, block: _VBlock, stack: tuple[int, ...]) -> None:
        elem, _ = self.types.resolve(ty.element)
        if (
            isinstance(elem, PrimitiveType)
            and elem.name == "U8"
            and not isinstance(ty.element, RefType)
        ):
            self.val_bytes(block, "Array<U8>", text=False)
            return
        n = self.read_u32(block, "Array")
        size = self.types.fixed_size(ty.element)
        if size == 0:
            block.emit(f"zb[0] -= {n}")
            block.emit(f"if zb[0] < 0: raise _zero_size_exhausted(pos - 4, {n})")
            return
        least = size if size is not None else self.types.min_size(ty.element)
        if least:
            block.emit(
                f"if {n} * {least} > blen - pos: raise _too_many(pos - 4, {n}, {least}, blen - pos)"
            )
        if size is not None:
            checks: list[tuple[int, int, bool]] = []
            self.static_checks(ty.element, 0, checks)
            if not checks:
                block.emit(f"pos += {n} * {size}")
                return
        block.emit(f"for _ in range({n}):")
        inner = _VBlock(block.lines, block.indent + 1)
        self.val(ty.element, inner, stack)
        self.flush(inner)
        if block.lines[-1].endswith(":"):
            inner.emit("pass")

    def val_sum(self, ty: SumType, block: _VBlock, stack: tuple[int, ...]) -> None:
        off = self.sync(block, 1, "sum tag")
        tag = self.tmp("g")
        block.emit(f"{tag} = buf[pos + {off}]" if off else f"{tag} = buf[pos]")
        block.emit(f"pos += {off + 1}")
        count = len(ty.variants)
        first = True
        for i, variant in enumerate(ty.variants):
            if self.types.fixed_size(variant.algebraic_type) == 0:
                continue  # nothing to check: the tag range check below covers it
            block.emit(f"{'if' if first else 'elif'} {tag} == {i}:")
            first = False
            inner = _VBlock(block.lines, block.indent + 1)
            self.val(variant.algebraic_type, inner, stack)
            self.flush(inner)
            if block.lines[-1].endswith(":"):
                inner.emit("pass")
        block.emit(f"{'if' if first else 'elif'} {tag} >= {count}:")
        block.emit(f"    raise _bad_tag(pos - 1, {tag}, 'sum', {count})")

    def ref_function(self, index: int) -> str:
        name = self.ref_funcs.get(index)
        if name is None:
            name = self.ref_funcs[index] = f"_val_ref{index}"
            self.pending_refs.append(index)
        return name

    def function(self, ty: AlgebraicType, name: str, root: bool) -> None:
        zb = ", zb" if self.zero_budget and not root else ""
        lines = [f"def {name}(buf, pos, blen, _ta{zb}):"]
        if self.zero_budget and root:
            lines.append("    zb = [blen - pos + _ZA]")
        block = _VBlock(lines, 1)
        self.val(ty, block, ())
        self.flush(block)
        block.emit("return pos")
        self.sources.append("\n".join(lines))

    def spans_function(self, ty: AlgebraicType, split: bool) -> None:
        # The root value inlined in a loop over rows: one call validates a whole row list (and,
        # with ``split``, hands each row's bytes to ``_ra`` in the same pass).
        if split:
            lines = [
                "def _val_split(buf, starts, ends, _ta, _ra):",
                "    for start, blen in zip(starts, ends):",
                "        pos = start",
            ]
        else:
            lines = [
                "def _val_spans(buf, starts, ends, _ta):",
                "    for pos, blen in zip(starts, ends):",
            ]
        if self.zero_budget:
            lines.append("        zb = [blen - pos + _ZA]")
        block = _VBlock(lines, 2)
        self.val(ty, block, ())
        self.flush(block)
        if not _fold_tail_string(lines):
            block.emit("if pos != blen: raise _trailing(pos, blen)")
        if split:
            block.emit("_ra(buf[start:blen])")
        self.sources.append("\n".join(lines))

    def build(self, ty: AlgebraicType) -> _Validator:
        self.zero_budget = self.types.has_zero_size_array(ty)
        self.function(ty, "_val_root", root=True)
        self.spans_function(ty, split=False)
        self.spans_function(ty, split=True)
        while self.pending_refs:
            index = self.pending_refs.pop()
            self.function(RefType(index), self.ref_funcs[index], root=False)
        source = "\n\n".join(self.sources) + "\n"
        exec(compile(source, f"<bsatn validator {_type_name(ty)[:60]}>", "exec"), self.ns)
        size = self.types.fixed_size(ty)
        checks: list[tuple[int, int, bool]] | None = None
        if size is not None:
            checks = []
            self.static_checks(ty, 0, checks)
        return _Validator(
            self.ns["_val_root"], self.ns["_val_spans"], self.ns["_val_split"], size, checks, source
        )


@dataclass(frozen=True)
class _Validator:
    one: Callable[[Any, int, int, Callable[[bytes], None]], int]
    spans: Callable[[Any, Any, Any, Callable[[bytes], None]], None]
    split: Callable[[Any, Any, Any, Callable[[bytes], None], Callable[[bytes], None]], None]
    fixed_size: int | None
    #: For fixed-size types: every (offset, limit, is_bool) byte check of one value.
    static_checks: list[tuple[int, int, bool]] | None
    source: str


_TAIL = re.compile(
    r"(?P<ind> +)if (?P<e>e\d+) > blen: raise _truncated\(pos, (?P<n>n\d+), blen, (?P<w>'[^']*')\)"
)


def _fold_tail_string(lines: list[str]) -> bool:
    """Peephole for rows ending in a String: one ``!=`` check instead of three statements.

    ``if e > blen: raise ...; _ta(buf[pos:e]); pos = e`` followed by the trailing-bytes check
    becomes ``if e != blen: raise ...; _ta(buf[pos:e])``.
    """
    if len(lines) < 3:
        return False
    found = _TAIL.fullmatch(lines[-3])
    if found is None or found["ind"] != " " * 8:  # only at the loop body's own level
        return False
    ind, end = found["ind"], found["e"]
    if lines[-2] != f"{ind}_ta(buf[pos:{end}])" or lines[-1] != f"{ind}pos = {end}":
        return False
    lines[-3] = (
        f"{ind}if {end} != blen: raise _end_mismatch(pos, {found['n']}, {end}, blen, {found['w']})"
    )
    del lines[-1]
    return True


def _end_mismatch(pos: int, length: int, end: int, blen: int, what: str) -> BsatnDecodeError:
    if end > blen:
        return _truncated(pos, length, blen, what)
    return _trailing(end, blen)


def _trailing(pos: int, end: int) -> BsatnDecodeError:
    return BsatnDecodeError(f"{end - pos} trailing byte(s) after the value", pos)


def _texts_are_utf8(texts: list[bytes]) -> bool:
    # An ASCII separator keeps the pieces independent: a sequence cut at the end of one piece,
    # or a continuation byte starting the next, is still invalid in the joined bytes. Pieces
    # are checked about a thousand at a time: decoding a cache-sized chunk is several times
    # faster than one huge string (whose wide characters also force a 4-byte-per-char result).
    for i in range(0, len(texts), _UTF8_CHUNK):
        joined = b"\0".join(texts[i : i + _UTF8_CHUNK])
        if joined.isascii():
            continue
        try:
            joined.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


_UTF8_CHUNK: Final = 1024


_VALIDATORS: dict[tuple[AlgebraicType, Typespace], _Validator] = {}


def _validator_for(ty: AlgebraicType, typespace: Typespace) -> _Validator:
    key = (ty, typespace)
    with _CACHE_LOCK:
        found = _VALIDATORS.get(key)
    if found is None:
        found = _ValidatorGenerator(typespace).build(ty)
        with _CACHE_LOCK:
            found = _VALIDATORS.setdefault(key, found)
    return found


_ALLOWED_BYTES: dict[int, bytes] = {}


def _allowed(limit: int) -> bytes:
    allowed = _ALLOWED_BYTES.get(limit)
    if allowed is None:
        allowed = _ALLOWED_BYTES[limit] = bytes(range(min(limit, 256)))
    return allowed


def _is_simple(expr: str) -> bool:
    return expr.isidentifier() or expr.isdigit()


def _check_wide(value: object, lo: int, hi: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BsatnEncodeError(f"{what} needs an int, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise BsatnEncodeError(f"{value} is out of range for {what}")
    return value


def _encode_bytes(value: object) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return bytes(value)
    raise BsatnEncodeError(f"Array<U8> needs bytes, got {type(value).__name__}")


# ------------------------------------------------------------------------------------ public API

_CACHE: dict[tuple[AlgebraicType, Typespace, int], BsatnCodec[Any]] = {}
_CACHE_LOCK = threading.Lock()


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
        codec = _Generator(ts, {}).build(ty)
        with _CACHE_LOCK:
            _CACHE[key] = codec
        return codec
    return _Generator(ts, bindings).build(ty)


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
