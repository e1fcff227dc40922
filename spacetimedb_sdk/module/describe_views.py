"""Describe a module's views: signature checks, return shapes and numbering (see ``@view``).

Views are sorted by source name and numbered separately for per-client and anonymous views, as
the Rust bindings number them; a ``Query[Row]`` view returns ``{__query__: Row}``.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.algebraic_type import AlgebraicType, ProductType, RefType
from spacetimedb_sdk.errors import ModuleDefError
from spacetimedb_sdk.module.context import AnonymousViewContext, ViewContext
from spacetimedb_sdk.module.query import Query
from spacetimedb_sdk.module.tables import prepare_row_class
from spacetimedb_sdk.module.type_mapping import TypespaceBuilder, function_hints, strip_annotated
from spacetimedb_sdk.module.views import ViewDecl

__all__ = ["ViewModel", "ViewShape", "view_models"]

ViewShape = Literal["option", "array", "query"]


@dataclass(frozen=True)
class ViewModel:
    """One view as the host runs it."""

    decl: ViewDecl
    fn: Callable[..., Any]
    #: The source name (accessor); also the key of ``ViewPrimaryKeys`` entries.
    source_name: str
    #: Canonical name (what clients subscribe to).
    name: str
    #: Position among the module's views of the same kind (anonymous or per-client).
    index: int
    is_anonymous: bool
    is_public: bool
    params: ProductType
    return_type: AlgebraicType
    #: ``option`` (``Row | None``), ``array`` (``list[Row]``) or ``query`` (``Query[Row]``).
    shape: ViewShape
    row_class: type
    row_type_ref: int
    #: Column position of the declared primary key, if any.
    primary_key: int | None


def view_models(
    fns: tuple[Callable[..., Any], ...], builder: TypespaceBuilder, convert: Callable[[str], str]
) -> list[ViewModel]:
    """Check and describe the ``@view`` functions ``fns``; canonical names via ``convert``."""
    decls: list[ViewDecl] = [f.__stdb_view__ for f in fns]  # type: ignore[attr-defined]
    counters = {True: 0, False: 0}
    out = []
    for decl in sorted(decls, key=lambda d: d.source_name):
        anonymous, params, shape, row, ret = _view_signature(decl, builder)
        index = counters[anonymous]
        counters[anonymous] += 1
        info = prepare_row_class(row)
        pk: int | None = None
        if decl.primary_key is not None:
            if decl.primary_key not in info.fields:
                raise ModuleDefError(
                    f"view {decl.source_name!r}: primary_key {decl.primary_key!r} is not a "
                    f"field of {row.__qualname__}"
                )
            pk = info.fields.index(decl.primary_key)
        out.append(
            ViewModel(
                decl=decl,
                fn=decl.fn,
                source_name=decl.source_name,
                name=decl.name or convert(decl.source_name),
                index=index,
                is_anonymous=anonymous,
                is_public=decl.public,
                params=params,
                return_type=_view_return_type(shape, ret),
                shape=shape,
                row_class=row,
                row_type_ref=ret.index,
                primary_key=pk,
            )
        )
    return out


def _view_return_type(shape: ViewShape, ref: RefType) -> AlgebraicType:
    if shape == "option":
        return at.option(ref)
    if shape == "array":
        return at.array(ref)
    return at.product_of([("__query__", ref)])


def _view_signature(
    decl: ViewDecl, builder: TypespaceBuilder
) -> tuple[bool, ProductType, ViewShape, type, RefType]:
    """(anonymous?, parameters, return shape, row class, row type ref) of a view function."""
    where = f"view {decl.source_name!r}"
    params = list(inspect.signature(decl.fn).parameters.values())
    hints = function_hints(decl.fn)
    if not params:
        raise ModuleDefError(f"{where} must take the context as its first parameter")
    ctx_hint = strip_annotated(hints.get(params[0].name))[0]
    if ctx_hint is AnonymousViewContext:
        anonymous = True
    elif ctx_hint is ViewContext:
        anonymous = False
    else:
        raise ModuleDefError(
            f"{where}: annotate the first parameter as ViewContext (per client) or "
            "AnonymousViewContext (shared by all clients)"
        )
    elements: list[tuple[str, AlgebraicType]] = []
    for p in params[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.KEYWORD_ONLY):
            raise ModuleDefError(f"{where}: parameter {p.name!r} must be positional")
        if p.name not in hints:
            raise ModuleDefError(f"{where}: parameter {p.name!r} has no type annotation")
        elements.append((p.name, builder.type_of(hints[p.name], f"{where} parameter {p.name}")))
    shape, row = _view_row(hints.get("return"), where)
    ref = RefType(builder.register_class(row, f"{where} return type"))
    if not isinstance(builder.resolve(ref), ProductType):
        raise ModuleDefError(f"{where}: the row type {row.__qualname__} must be a product")
    return anonymous, at.product_of(elements), shape, row, ref


def _view_row(hint: Any, where: str) -> tuple[ViewShape, type]:
    ret = strip_annotated(hint)[0]
    origin = get_origin(ret)
    args = get_args(ret)
    shape: ViewShape | None = None
    row: Any = None
    if origin is Query and len(args) == 1:
        shape, row = "query", args[0]
    elif origin is list and len(args) == 1:
        shape, row = "array", args[0]
    elif origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        shape, row = "option", next(a for a in args if a is not type(None))
    if shape is None or not isinstance(row, type):
        raise ModuleDefError(
            f"{where} must return `Row | None`, `list[Row]` or `Query[Row]` for a row class Row"
        )
    return shape, row
