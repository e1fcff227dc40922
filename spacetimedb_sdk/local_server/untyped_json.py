"""Untyped SATS-JSON: how the server writes SQL result rows and HTTP procedure results.

The server serializes a bare value without its type there (docs/protocol.md#json-output): products become
JSON arrays (``[v0, v1, ...]``), sums become ``[tag, payload]``, so an Identity is
``["0xc200…"]``, an Option is ``[0, v]`` / ``[1, []]`` and a Timestamp is ``[micros]``.
Primitives, byte arrays (hex) and other arrays look the same as in the typed form.

Implementation: write the typed form with :func:`~spacetimedb_sdk.sats_json.value_to_json`
(which knows every value shape) and then strip the names guided by the type.
"""

from __future__ import annotations

from typing import Any

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    ArrayType,
    ProductType,
    SumType,
    Typespace,
    special_kind,
)
from spacetimedb_sdk.errors import SatsJsonError
from spacetimedb_sdk.sats_json import value_to_json

__all__ = ["typed_to_untyped", "value_to_untyped_json"]


def value_to_untyped_json(ty: AlgebraicType, value: Any, typespace: Typespace) -> Any:
    """The untyped SATS-JSON of ``value`` (generic value shapes, as the codec decodes them)."""
    return typed_to_untyped(ty, value_to_json(ty, value, typespace), typespace)


def typed_to_untyped(ty: AlgebraicType, typed: Any, typespace: Typespace) -> Any:
    """Convert typed SATS-JSON of type ``ty`` to the untyped form."""
    ty = typespace.resolve(ty)
    if isinstance(ty, ProductType):
        if not ty.elements:
            return []
        if isinstance(typed, list):  # already positional
            return [
                typed_to_untyped(e.algebraic_type, v, typespace)
                for e, v in zip(ty.elements, typed, strict=True)
            ]
        return [
            typed_to_untyped(
                e.algebraic_type, typed[e.name if e.name is not None else str(i)], typespace
            )
            for i, e in enumerate(ty.elements)
        ]
    if isinstance(ty, SumType):
        if isinstance(typed, list):  # a variant without a name is written [tag, payload]
            tag, payload = typed
        else:
            if not isinstance(typed, dict) or len(typed) != 1:
                raise SatsJsonError(f"a typed sum value needs one key, got {typed!r}")
            ((name, payload),) = typed.items()
            tag = next((i for i, v in enumerate(ty.variants) if v.name == name), None)
            if tag is None:
                raise SatsJsonError(f"no variant {name!r} in {ty!r}")
        return [tag, typed_to_untyped(ty.variants[tag].algebraic_type, payload, typespace)]
    if isinstance(ty, ArrayType) and special_kind(ty) != "bytes":
        return [typed_to_untyped(ty.element, v, typespace) for v in typed]
    return typed
