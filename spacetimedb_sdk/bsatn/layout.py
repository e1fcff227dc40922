"""How types lie on the wire: fixed-width formats, static sizes, and the zero-size allowance.

Shared by the decoder, encoder and validator generators, which decide what code to emit from
these facts (known when the code is generated, never looked up at run time).
"""

from __future__ import annotations

from typing import Final

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    special_kind,
)
from spacetimedb_sdk.bsatn.bindings import Bindings, ProductBinding, SumBinding, resolve_binding

#: Elements of a zero-size type (unit, empty products) cost no input bytes, so an array of them
#: could claim billions of elements in four bytes. A decoded value may hold at most this many
#: such elements plus one per byte of its input; a longer claim is a BsatnDecodeError.
ZERO_SIZE_ELEMENT_ALLOWANCE: Final = 65536

#: Fixed-width primitives: (struct format, size). 128- and 256-bit integers are raw bytes.
FIXED_FORMATS: Final[dict[str, tuple[str, int]]] = {
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

#: Integers wider than struct can read: signedness and byte count.
WIDE_SIGNED: Final = {"I128": True, "U128": False, "I256": True, "U256": False}
WIDE_BYTES: Final = {"I128": 16, "U128": 16, "I256": 32, "U256": 32}

#: Special products that are one fixed-width primitive:
#: (format, size, class, slot, decode conversion of the raw field, encoder expression).
SPECIAL_FIXED: Final[dict[str, tuple[str, int, str, str, str, str]]] = {
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


class TypeLayout:
    """Static facts about the types of one typespace (with its bindings)."""

    def __init__(self, typespace: Typespace, bindings: Bindings) -> None:
        self.ts = typespace
        self.bindings = bindings

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
            entry = FIXED_FORMATS.get(ty.name)
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
            entry = FIXED_FORMATS.get(ty.name)
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

    def may_be_none(self, ty: AlgebraicType) -> bool:
        """True if a decoded value of ``ty`` can be ``None`` (an unbound Option)."""
        resolved, binding = self.resolve(ty)
        return binding is None and special_kind(resolved) == "option"
