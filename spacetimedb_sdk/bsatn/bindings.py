"""Bindings: which Python class a typespace entry decodes into, and how it encodes back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from spacetimedb_sdk.algebraic_type import AlgebraicType, RefType, Typespace

__all__ = ["Bindings", "ProductBinding", "SumBinding", "resolve_binding", "settable_slots"]


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


def settable_slots(binding: ProductBinding) -> bool:
    """Whether ``cls(*fields)`` can be replaced by ``object.__new__(cls)`` plus one attribute
    store per field: a mutable slotted dataclass whose generated ``__init__`` only stores its
    fields, in ``attrs`` order, and which has no ``__post_init__`` (the generated row classes).
    """
    cls = binding.cls
    if not isinstance(cls, type) or not is_dataclass(cls):
        return False
    params = getattr(cls, "__dataclass_params__", None)
    init = cls.__dict__.get("__init__")
    code = getattr(init, "__code__", None)
    return (
        params is not None
        and params.init
        and not params.frozen
        and "__slots__" in cls.__dict__
        and not hasattr(cls, "__post_init__")
        # The dataclass-made __init__ (compiled from text), not one written by hand.
        and code is not None
        and code.co_filename == "<string>"
        and tuple(f.name for f in fields(cls)) == binding.attrs
        and all(f.init for f in fields(cls))
        and set(binding.attrs) <= set(cls.__dict__["__slots__"])
    )


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
