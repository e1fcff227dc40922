"""Where a type may be used: the rules that keep a typespace usable by client code generators."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    ProductTypeElement,
    RefType,
    SumType,
    SumTypeVariant,
    Typespace,
    special_kind,
    type_to_json,
)
from spacetimedb_sdk.schema.naming import SPECIAL_PRODUCTS, is_special, is_valid_identifier

__all__ = ["TypeUseChecker", "type_label"]


def type_label(ty: AlgebraicType) -> str:
    """A short SATS-JSON rendering of ``ty`` for error messages."""
    text = json.dumps(type_to_json(ty), separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."


class TypeUseChecker:
    """Client-codegen validity of types (docs/module-def.md#type-use-rules), over the untouched typespace."""

    def __init__(self, typespace: Typespace, definitions: Iterable[int], errors: list[str]) -> None:
        self.ts = typespace
        self.defs = set(definitions)
        self.errors = errors
        self.known_uses: set[int] = set()
        self.touching: set[int] = set()

    def use(self, ty: AlgebraicType, where: str) -> bool:
        """Record an error at ``where`` unless ``ty`` may be used there; True if it may."""
        problem = self._use(ty)
        if problem is not None:
            self.errors.append(f"{where}: {problem}")
            return False
        return True

    def _use(self, ty: AlgebraicType) -> str | None:
        kind = special_kind(ty)
        if kind == "unit" or (isinstance(ty, ProductType) and ty in SPECIAL_PRODUCTS):
            return None
        if isinstance(ty, SumType) and not ty.variants:
            return None  # never
        if isinstance(ty, SumType) and kind == "option":
            return self._use(ty.variants[0].algebraic_type)
        if isinstance(ty, SumType) and kind == "result":
            return self._use(ty.variants[0].algebraic_type) or self._use(
                ty.variants[1].algebraic_type
            )
        if isinstance(ty, SumType) and kind == "schedule_at":
            return None
        if isinstance(ty, RefType):
            return self._ref(ty.index)
        if isinstance(ty, ArrayType):
            return self._use(ty.element)
        if isinstance(ty, PrimitiveType):
            return None
        return f"non-special product or sum type {type_label(ty)} cannot be used here (it must be a Ref)"

    def _ref(self, index: int) -> str | None:
        if index in self.defs or index in self.known_uses:
            return None
        if not 0 <= index < len(self.ts):
            return f"type reference Ref({index}) is outside the typespace of {len(self.ts)}"
        target = self.ts.types[index]
        if target == RefType(index) or index in self.touching:
            return f"recursive type reference Ref({index}) through a non-definition"
        self.touching.add(index)
        try:
            problem = self._use(target)
        finally:
            self.touching.discard(index)
        if problem is None:
            self.known_uses.add(index)
        return problem

    def definition(self, index: int, where: str) -> None:
        """Check the type definition at typespace ``index``: a named product or sum."""
        if not 0 <= index < len(self.ts):
            self.errors.append(f"{where}: type reference Ref({index}) is outside the typespace")
            return
        ty = self.ts.types[index]
        members: Sequence[ProductTypeElement | SumTypeVariant]
        if isinstance(ty, ProductType) and not is_special(ty):
            members = ty.elements
        elif isinstance(ty, SumType) and not is_special(ty):
            members = ty.variants
        else:
            self.errors.append(f"{where}: type {type_label(ty)} is not valid for a type definition")
            return
        for m in members:
            if m.name is None:
                self.errors.append(f"{where}: all elements of a type definition must be named")
            elif not is_valid_identifier(m.name):
                self.errors.append(f"{where}: element name {m.name!r} is not a valid identifier")
            self.use(m.algebraic_type, f"{where}, element {m.name!r}")
