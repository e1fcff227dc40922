"""The SATS type model: ``AlgebraicType`` and ``Typespace``, plus their SATS-JSON form.

Types are immutable, hashable dataclasses. Special types (Identity, Timestamp, Option, ...) are
ordinary products and sums recognised by shape, exactly as the server recognises them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal

from spacetimedb_sdk.errors import SatsJsonError

__all__ = [
    "BOOL",
    "CONNECTION_ID",
    "F32",
    "F64",
    "I8",
    "I16",
    "I32",
    "I64",
    "I128",
    "I256",
    "IDENTITY",
    "INTEGER_RANGES",
    "SCHEDULE_AT",
    "STRING",
    "TIMESTAMP",
    "TIME_DURATION",
    "U8",
    "U16",
    "U32",
    "U64",
    "U128",
    "U256",
    "UNIT",
    "UUID",
    "AlgebraicType",
    "ArrayType",
    "PrimitiveType",
    "ProductType",
    "ProductTypeElement",
    "RefType",
    "SpecialKind",
    "SumType",
    "SumTypeVariant",
    "Typespace",
    "array",
    "option",
    "product_of",
    "result",
    "special_kind",
    "sum_of",
    "type_from_json",
    "type_to_json",
]

PrimitiveName = Literal[
    "String", "Bool", "I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64",
    "I128", "U128", "I256", "U256", "F32", "F64",
]  # fmt: skip

SpecialKind = Literal[
    "identity", "connection_id", "timestamp", "time_duration", "uuid",
    "option", "result", "schedule_at", "unit", "bytes",
]  # fmt: skip


class AlgebraicType:
    """Base class of every SATS type."""

    __slots__ = ()
    #: BSATN tag of this variant when the type itself is encoded (RawModuleDef).
    TAG: ClassVar[int]


@dataclass(frozen=True, slots=True)
class RefType(AlgebraicType):
    """``Ref(i)``: the type at ``typespace.types[i]``."""

    index: int
    TAG: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class SumTypeVariant:
    """One variant of a sum: an optional name and a payload type (unit = empty product)."""

    name: str | None
    algebraic_type: AlgebraicType


@dataclass(frozen=True, slots=True)
class SumType(AlgebraicType):
    """A tagged union; the variant's position is its tag."""

    variants: tuple[SumTypeVariant, ...]
    TAG: ClassVar[int] = 1

    def is_plain_enum(self) -> bool:
        """True when every variant is unit (codegen makes these ``enum.Enum``)."""
        return bool(self.variants) and all(
            v.algebraic_type == UNIT and v.name is not None for v in self.variants
        )


@dataclass(frozen=True, slots=True)
class ProductTypeElement:
    """One element of a product: an optional name and a type."""

    name: str | None
    algebraic_type: AlgebraicType


@dataclass(frozen=True, slots=True)
class ProductType(AlgebraicType):
    """A struct/tuple; its BSATN is the elements concatenated in order."""

    elements: tuple[ProductTypeElement, ...]
    TAG: ClassVar[int] = 2

    @property
    def names(self) -> list[str | None]:
        """The element names, in order."""
        return [e.name for e in self.elements]


@dataclass(frozen=True, slots=True)
class ArrayType(AlgebraicType):
    """``Array<T>``; ``Array<U8>`` is the byte-array type."""

    element: AlgebraicType
    TAG: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class PrimitiveType(AlgebraicType):
    """A scalar type: String, Bool, the integers and the floats."""

    name: PrimitiveName

    @property
    def tag(self) -> int:
        """This primitive's BSATN tag as an AlgebraicType variant."""
        return _PRIMITIVE_TAGS[self.name]


_PRIMITIVE_ORDER: Final[tuple[PrimitiveName, ...]] = (
    "String", "Bool", "I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64",
    "I128", "U128", "I256", "U256", "F32", "F64",
)  # fmt: skip
_PRIMITIVE_TAGS: Final = {name: 4 + i for i, name in enumerate(_PRIMITIVE_ORDER)}

STRING: Final = PrimitiveType("String")
BOOL: Final = PrimitiveType("Bool")
I8: Final = PrimitiveType("I8")
U8: Final = PrimitiveType("U8")
I16: Final = PrimitiveType("I16")
U16: Final = PrimitiveType("U16")
I32: Final = PrimitiveType("I32")
U32: Final = PrimitiveType("U32")
I64: Final = PrimitiveType("I64")
U64: Final = PrimitiveType("U64")
I128: Final = PrimitiveType("I128")
U128: Final = PrimitiveType("U128")
I256: Final = PrimitiveType("I256")
U256: Final = PrimitiveType("U256")
F32: Final = PrimitiveType("F32")
F64: Final = PrimitiveType("F64")
PRIMITIVES: Final = {name: PrimitiveType(name) for name in _PRIMITIVE_ORDER}

#: Inclusive value range of every integer primitive, by name.
INTEGER_RANGES: Final[dict[str, tuple[int, int]]] = {
    f"{sign}{bits}": (
        (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if sign == "I" else (0, (1 << bits) - 1)
    )
    for bits in (8, 16, 32, 64, 128, 256)
    for sign in ("I", "U")
}

UNIT: Final = ProductType(())
NEVER: Final = SumType(())


def product_of(
    fields: Iterable[tuple[str | None, AlgebraicType]] | Mapping[str, AlgebraicType],
) -> ProductType:
    """Build a product from ``(name, type)`` pairs or an ordered mapping."""
    items = fields.items() if isinstance(fields, Mapping) else fields
    return ProductType(tuple(ProductTypeElement(n, t) for n, t in items))


def sum_of(
    variants: Iterable[tuple[str | None, AlgebraicType]] | Mapping[str, AlgebraicType],
) -> SumType:
    """Build a sum from ``(name, type)`` pairs or an ordered mapping."""
    items = variants.items() if isinstance(variants, Mapping) else variants
    return SumType(tuple(SumTypeVariant(n, t) for n, t in items))


def array(element: AlgebraicType) -> ArrayType:
    """``Array<element>``."""
    return ArrayType(element)


def option(inner: AlgebraicType) -> SumType:
    """``Option<inner>`` = sum ``[some: inner, none: ()]``."""
    return sum_of([("some", inner), ("none", UNIT)])


def result(ok: AlgebraicType, err: AlgebraicType) -> SumType:
    """``Result<ok, err>`` = sum ``[ok, err]``."""
    return sum_of([("ok", ok), ("err", err)])


IDENTITY: Final = product_of([("__identity__", U256)])
CONNECTION_ID: Final = product_of([("__connection_id__", U128)])
TIMESTAMP: Final = product_of([("__timestamp_micros_since_unix_epoch__", I64)])
TIME_DURATION: Final = product_of([("__time_duration_micros__", I64)])
UUID: Final = product_of([("__uuid__", U128)])
SCHEDULE_AT: Final = sum_of([("Interval", TIME_DURATION), ("Time", TIMESTAMP)])

_SPECIAL_PRODUCTS: Final[dict[ProductType, SpecialKind]] = {
    IDENTITY: "identity",
    CONNECTION_ID: "connection_id",
    TIMESTAMP: "timestamp",
    TIME_DURATION: "time_duration",
    UUID: "uuid",
    # Pre-1.0 schemas called ConnectionId "address"; treat it as the same thing.
    product_of([("__address__", U128)]): "connection_id",
}


def special_kind(ty: AlgebraicType) -> SpecialKind | None:
    """Recognise a special type by its exact shape (refs are not followed), else None."""
    if isinstance(ty, ProductType):
        if not ty.elements:
            return "unit"
        if len(ty.elements) == 1:
            return _SPECIAL_PRODUCTS.get(ty)
        return None
    if isinstance(ty, SumType):
        if len(ty.variants) != 2:
            return None
        first, second = ty.variants
        if first.name == "some" and second.name == "none" and second.algebraic_type == UNIT:
            return "option"
        if first.name == "ok" and second.name == "err":
            return "result"
        if ty == SCHEDULE_AT:
            return "schedule_at"
        return None
    if isinstance(ty, ArrayType) and ty.element == U8:
        return "bytes"
    return None


@dataclass(frozen=True, slots=True)
class Typespace:
    """The list of types that ``Ref(i)`` indexes into."""

    types: tuple[AlgebraicType, ...] = ()

    def __getitem__(self, index: int) -> AlgebraicType:
        return self.types[index]

    def __len__(self) -> int:
        return len(self.types)

    def resolve(self, ty: AlgebraicType) -> AlgebraicType:
        """Follow ``Ref`` chains until a non-ref type (raises on dangling or cyclic refs)."""
        seen: set[int] = set()
        while isinstance(ty, RefType):
            if ty.index in seen:
                raise ValueError(f"cyclic type reference through Ref({ty.index})")
            seen.add(ty.index)
            if not 0 <= ty.index < len(self.types):
                raise ValueError(f"Ref({ty.index}) is outside the typespace of {len(self.types)}")
            ty = self.types[ty.index]
        return ty

    @classmethod
    def from_json(cls, obj: Any) -> Typespace:
        """Read ``{"types": [...]}``."""
        if not isinstance(obj, Mapping) or not isinstance(obj.get("types"), list):
            raise SatsJsonError('a Typespace is {"types": [...]}')
        return cls(tuple(type_from_json(t) for t in obj["types"]))

    def to_json(self) -> dict[str, Any]:
        """Write ``{"types": [...]}``."""
        return {"types": [type_to_json(t) for t in self.types]}


# ----------------------------------------------------------------------------- SATS-JSON of types


def _opt_name_from_json(obj: Any) -> str | None:
    if obj is None:
        return None
    if isinstance(obj, Mapping) and len(obj) == 1:
        if "some" in obj and isinstance(obj["some"], str):
            return str(obj["some"])
        if "none" in obj:
            return None
    if isinstance(obj, str):  # lenient: a bare string name
        return obj
    raise SatsJsonError(f"expected an optional name {{'some': str}} | {{'none': []}}, got {obj!r}")


def _elements_from_json(obj: Any, key: str) -> list[tuple[str | None, AlgebraicType]]:
    if not isinstance(obj, Mapping) or not isinstance(obj.get(key), list):
        raise SatsJsonError(f"expected {{{key!r}: [...]}}, got {obj!r}")
    out: list[tuple[str | None, AlgebraicType]] = []
    for el in obj[key]:
        if not isinstance(el, Mapping) or "algebraic_type" not in el:
            raise SatsJsonError(f"expected {{'name': ..., 'algebraic_type': ...}}, got {el!r}")
        out.append((_opt_name_from_json(el.get("name")), type_from_json(el["algebraic_type"])))
    return out


def type_from_json(obj: Any) -> AlgebraicType:
    """Read an AlgebraicType from SATS-JSON, e.g. ``{"Array": {"U8": []}}``."""
    if not isinstance(obj, Mapping) or len(obj) != 1:
        raise SatsJsonError(f"an AlgebraicType is a one-key object, got {obj!r}")
    ((kind, payload),) = obj.items()
    if kind == "Ref":
        if not isinstance(payload, int) or isinstance(payload, bool) or payload < 0:
            raise SatsJsonError(f"Ref takes a u32, got {payload!r}")
        return RefType(payload)
    if kind == "Product":
        return product_of(_elements_from_json(payload, "elements"))
    if kind == "Sum":
        return sum_of(_elements_from_json(payload, "variants"))
    if kind == "Array":
        return ArrayType(type_from_json(payload))
    prim = PRIMITIVES.get(kind)
    if prim is None:
        raise SatsJsonError(f"unknown AlgebraicType variant {kind!r}")
    return prim


def _opt_name_to_json(name: str | None) -> dict[str, Any]:
    return {"none": []} if name is None else {"some": name}


def type_to_json(ty: AlgebraicType) -> dict[str, Any]:
    """Write an AlgebraicType as SATS-JSON (the form the schema endpoint serves)."""
    if isinstance(ty, RefType):
        return {"Ref": ty.index}
    if isinstance(ty, ProductType):
        return {
            "Product": {
                "elements": [
                    {
                        "name": _opt_name_to_json(e.name),
                        "algebraic_type": type_to_json(e.algebraic_type),
                    }
                    for e in ty.elements
                ]
            }
        }
    if isinstance(ty, SumType):
        return {
            "Sum": {
                "variants": [
                    {
                        "name": _opt_name_to_json(v.name),
                        "algebraic_type": type_to_json(v.algebraic_type),
                    }
                    for v in ty.variants
                ]
            }
        }
    if isinstance(ty, ArrayType):
        return {"Array": type_to_json(ty.element)}
    if isinstance(ty, PrimitiveType):
        return {ty.name: []}
    raise TypeError(f"not an AlgebraicType: {ty!r}")


def elements_of(ty: ProductType) -> Sequence[ProductTypeElement]:
    """The elements of a product (convenience for callers holding a resolved type)."""
    return ty.elements
