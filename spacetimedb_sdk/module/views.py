"""``@view``: a read-only, subscribable result computed from the tables.

::

    @view(public=True)
    def my_player(ctx: ViewContext) -> Player | None:          # one row or none, per client
        return ctx.db.player.identity.find(ctx.sender)

    @view(public=True)
    def players_at_level_0(ctx: AnonymousViewContext) -> list[Player]:   # same for everyone
        return [...]

    @view(public=True)
    def all_players(ctx: AnonymousViewContext) -> Query[Player]:       # a query the server runs
        return ctx.from_.player

The first parameter's annotation says whose view it is: :class:`ViewContext` (per client: it
has ``ctx.sender``) or :class:`AnonymousViewContext` (one result shared by all clients). The
return annotation gives the row type and shape: ``Row | None`` (at most one row), ``list[Row]``
(any number) or ``Query[Row]``; ``Row`` is a ``@table`` class or a dataclass. Further
parameters are the view's arguments.

``primary_key="field"`` gives a ``list``/``None``-returning view a primary key, so clients see
updates instead of delete + insert. A ``Query`` view of a table's rows takes the table's key
without it. ``name=`` is an explicit canonical name; ``accessor=`` the source name (default:
the function name).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from spacetimedb_sdk.module.registry import record

__all__ = ["ViewDecl", "view"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ViewDecl:
    """One decorated view, as written."""

    fn: Callable[..., Any]
    #: The view's source name (its accessor): ``accessor=`` or the function name.
    source_name: str
    name: str | None
    public: bool
    primary_key: str | None


@overload
def view(fn: F, /) -> F: ...


@overload
def view(
    *,
    name: str | None = None,
    accessor: str | None = None,
    public: bool = False,
    primary_key: str | None = None,
) -> Callable[[F], F]: ...


def view(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    accessor: str | None = None,
    public: bool = False,
    primary_key: str | None = None,
) -> F | Callable[[F], F]:
    """Declare a view (see the module docstring). ``public``: clients may subscribe to it."""

    def apply(target: F) -> F:
        if hasattr(target, "__stdb_view__") or hasattr(target, "__stdb_function__"):
            raise TypeError(f"{target.__name__} is already declared")
        decl = ViewDecl(target, accessor or target.__name__, name, public, primary_key)
        target.__stdb_view__ = decl  # type: ignore[attr-defined]
        record(target.__module__, target)
        return target

    return apply(fn) if fn is not None else apply
