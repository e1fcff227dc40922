"""Python annotations → SATS types, registering named types in a typespace as they are met.

| annotation | SATS type |
|---|---|
| ``bool``, ``str``, ``bytes`` | Bool, String, Array<U8> |
| ``int`` / ``float`` | I64 / F64 (use ``u8``…``i256``, ``f32`` for other widths) |
| ``u8`` … ``i256``, ``f32``, ``f64`` | that primitive |
| ``list[T]`` | Array<T> |
| ``T | None`` / ``Optional[T]`` | Option<T> |
| ``Result[T, E]`` (= ``Ok[T] | Err[E]``) | Result<T, E> |
| ``None`` | unit (the empty product) |
| ``Identity``, ``ConnectionId``, ``Timestamp``, ``TimeDuration``, ``Uuid``, ``ScheduleAt`` | the special types |
| a dataclass or ``@table`` class | a named product type (a ``Ref``) |
| an ``enum.Enum`` | a named sum of unit variants (one per member, by member name) |
| a ``@tagged_union`` class | a named sum type |

Every named type is registered once (by class) and gets a codec binding so rows and arguments
decode straight into the module's own classes.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Final, Union, get_args, get_origin

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.algebraic_type import AlgebraicType, RefType, Typespace
from spacetimedb_sdk.bsatn import ProductBinding, SumBinding
from spacetimedb_sdk.errors import ModuleDefError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.module.columns import ColumnOptions
from spacetimedb_sdk.module.sats_types import SatsType
from spacetimedb_sdk.module.tables import RowClassInfo, prepare_row_class, row_class_info
from spacetimedb_sdk.module.tagged_union import (
    is_tagged_union,
    make_wrappers,
    unwrap_variant_hint,
    variant_names,
)
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.uuid import Uuid
from spacetimedb_sdk.values import Err, Ok

__all__ = ["TypespaceBuilder", "column_options_in", "strip_annotated"]

_SIMPLE: Final[dict[Any, AlgebraicType]] = {
    bool: at.BOOL,
    int: at.I64,
    float: at.F64,
    str: at.STRING,
    bytes: at.array(at.U8),
    bytearray: at.array(at.U8),
    Identity: at.IDENTITY,
    ConnectionId: at.CONNECTION_ID,
    Timestamp: at.TIMESTAMP,
    TimeDuration: at.TIME_DURATION,
    Uuid: at.UUID,
    ScheduleAt: at.SCHEDULE_AT,
    None: at.UNIT,
    type(None): at.UNIT,
}

_LIST_ORIGINS: Final = (list, collections.abc.Sequence, collections.abc.MutableSequence)
_UNION_ORIGINS: Final = (Union, types.UnionType)


def strip_annotated(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    """``Annotated[T, *meta]`` → ``(T, meta)``; anything else → ``(hint, ())``."""
    if get_origin(hint) is Annotated:
        args = get_args(hint)
        return args[0], tuple(args[1:])
    return hint, ()


def column_options_in(hint: Any) -> ColumnOptions | None:
    """The column options given as ``Annotated`` metadata of ``hint`` (merged), if any."""
    _, meta = strip_annotated(hint)
    found = [m for m in meta if isinstance(m, ColumnOptions)]
    if not found:
        return None
    merged = found[0]
    for extra in found[1:]:
        merged = merged | extra
    return merged


def _type_name(cls: type) -> str:
    name = getattr(cls, "__stdb_type_name__", None)
    return name if isinstance(name, str) else cls.__name__


class TypespaceBuilder:
    """Accumulates the module's typespace, its named type definitions and codec bindings."""

    def __init__(self) -> None:
        self._types: list[AlgebraicType | None] = []
        #: ``(type name, typespace index)`` of every named type, in registration order.
        self.type_defs: list[tuple[str, int]] = []
        self.bindings: dict[int, ProductBinding | SumBinding] = {}
        self._by_class: dict[type, int] = {}
        self._names: dict[str, type] = {}
        #: Per row class: field name → overriding SATS type (e.g. a plain ``int`` made ``u64``).
        self.field_overrides: dict[type, dict[str, AlgebraicType]] = {}

    # -- results ----------------------------------------------------------------------------------
    def typespace(self) -> Typespace:
        """The typespace built so far (every registered entry is complete)."""
        if any(t is None for t in self._types):
            raise ModuleDefError("a named type is still being defined (internal error)")
        return Typespace(tuple(t for t in self._types if t is not None))

    def index_of(self, cls: type) -> int | None:
        """The typespace index of a registered class."""
        return self._by_class.get(cls)

    # -- mapping ----------------------------------------------------------------------------------
    def type_of(self, hint: Any, where: str) -> AlgebraicType:
        """The SATS type of a resolved annotation (registering named types as needed)."""
        base, meta = strip_annotated(hint)
        for m in meta:
            if isinstance(m, SatsType):
                return m.type
        if meta:
            return self.type_of(base, where)
        hint = base
        simple = _SIMPLE.get(hint) if _hashable(hint) else None
        if simple is not None:
            return simple
        origin = get_origin(hint)
        if origin in _UNION_ORIGINS:
            args = get_args(hint)
            present = [a for a in args if a is not type(None)]
            optional = len(present) < len(args)
            if len(present) == 1 and optional:
                return at.option(self.type_of(present[0], where))
            # ``Result[T, E] | None`` flattens to ``Ok[T] | Err[E] | None``.
            if len(present) == 2 and [get_origin(a) for a in present] == [Ok, Err]:
                (ok,), (err,) = get_args(present[0]), get_args(present[1])
                res = at.result(self.type_of(ok, where), self.type_of(err, where))
                return at.option(res) if optional else res
            raise ModuleDefError(
                f"{where}: union {hint!r} is not supported; use `T | None` for an Option, "
                "Result[T, E] for a Result or a @tagged_union class for a sum type"
            )
        if origin in _LIST_ORIGINS:
            (elem,) = get_args(hint) or (None,)
            if elem is None:
                raise ModuleDefError(f"{where}: list needs an element type, e.g. list[u32]")
            return at.array(self.type_of(elem, where))
        # A parametrised generic (``dict[str, int]``) is an instance of ``type`` on Python 3.10.
        if isinstance(hint, type) and origin is None:
            return RefType(self.register_class(hint, where))
        if isinstance(hint, str):
            raise ModuleDefError(f"{where}: unresolved forward reference {hint!r}")
        raise ModuleDefError(f"{where}: cannot map annotation {hint!r} to a SATS type")

    def register_class(self, cls: type, where: str) -> int:
        """Register ``cls`` as a named type (product, plain enum or tagged union); its index."""
        index = self._by_class.get(cls)
        if index is not None:
            return index
        name = _type_name(cls)
        if name in self._names and self._names[name] is not cls:
            raise ModuleDefError(f"two different types are named {name!r}")
        if issubclass(cls, enum.Enum):
            kind = "enum"
        elif is_tagged_union(cls):
            kind = "union"
        elif dataclasses.is_dataclass(cls) or row_class_info(cls) is not None:
            kind = "product"
        else:
            raise ModuleDefError(
                f"{where}: {cls.__qualname__} is not a SATS type (use a dataclass, a @table "
                "class, an enum.Enum, a @tagged_union class or a supported builtin)"
            )
        index = len(self._types)
        self._types.append(None)  # reserved first, so recursive references resolve
        self._by_class[cls] = index
        self._names[name] = cls
        self.type_defs.append((name, index))
        if kind == "enum":
            self._types[index] = self._enum(cls, index)
        elif kind == "union":
            self._types[index] = self._union(cls, index)
        else:
            self._types[index] = self._product(cls, index)
        return index

    # -- the three kinds of named types -----------------------------------------------------------
    def _product(self, cls: type, index: int) -> AlgebraicType:
        info = prepare_row_class(cls)
        hints = class_hints(cls)
        overrides = self.field_overrides.get(cls, {})
        elements = []
        for field in info.fields:
            if field in overrides:
                ty = overrides[field]
            else:
                if field not in hints:
                    raise ModuleDefError(f"{cls.__qualname__}.{field} has no type annotation")
                ty = self.type_of(hints[field], f"{cls.__qualname__}.{field}")
            elements.append((field, ty))
        builder = info.from_fields if info.from_fields is not None else cls
        self.bindings[index] = ProductBinding(builder, info.fields)
        return at.product_of(elements)

    def _enum(self, cls: type[enum.Enum], index: int) -> AlgebraicType:
        members = list(cls)
        if not members:
            raise ModuleDefError(f"enum {cls.__qualname__} has no members")
        position = {m: i for i, m in enumerate(members)}

        def unwrap(value: Any) -> tuple[int, Any]:
            return position[value], ()

        wraps: tuple[Callable[[Any], Any], ...] = tuple(_constant(m) for m in members)
        self.bindings[index] = SumBinding(wraps, unwrap, dict(enumerate(members)))
        return at.sum_of([(m.name, at.UNIT) for m in members])

    def _union(self, cls: type, index: int) -> AlgebraicType:
        hints = class_hints(cls)
        variants = []
        units: set[int] = set()
        for i, name in enumerate(variant_names(cls)):
            ty = self.type_of(unwrap_variant_hint(hints[name]), f"{cls.__qualname__}.{name}")
            if ty == at.UNIT:
                units.add(i)
            variants.append((name, ty))
        wraps, unwrap, constants = make_wrappers(cls, frozenset(units))
        self.bindings[index] = SumBinding(wraps, unwrap, constants)
        return at.sum_of(variants)

    def row_info(self, cls: type) -> RowClassInfo:
        """The row information of a registered product class."""
        return prepare_row_class(cls)

    def typespace_entry(self, index: int) -> at.ProductType:
        """The (complete) product type registered at ``index``."""
        ty = self._types[index]
        if not isinstance(ty, at.ProductType):
            raise ModuleDefError(f"typespace entry {index} is not a product type")
        return ty

    def resolve(self, ty: AlgebraicType) -> AlgebraicType:
        """Follow ``Ref``s through the registered types."""
        while isinstance(ty, RefType):
            entry = self._types[ty.index]
            if entry is None:
                raise ModuleDefError("a named type refers to itself while being defined")
            ty = entry
        return ty


def _hashable(obj: Any) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda _payload: value


def class_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of ``cls`` (with ``Annotated`` metadata kept)."""
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except NameError as exc:
        raise ModuleDefError(
            f"cannot resolve the annotations of {cls.__qualname__}: {exc}"
        ) from exc


def function_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations of a function (with ``Annotated`` metadata kept)."""
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except NameError as exc:
        raise ModuleDefError(f"cannot resolve the annotations of {fn.__qualname__}: {exc}") from exc
