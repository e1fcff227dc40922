"""``@reducer``, ``@procedure`` and the lifecycle decorators.

::

    @reducer
    def set_name(ctx: ReducerContext, name: str) -> None: ...

    @reducer(name="say_hello", private=True)   # explicit canonical name; owner-only
    def hello(ctx: ReducerContext) -> None: ...

    @init                      # == @reducer(init=True): runs once when the database is created
    def init(ctx: ReducerContext) -> None: ...

    @client_connected          # == @reducer(client_connected=True); raise SenderError to refuse
    def on_connect(ctx: ReducerContext) -> None: ...

    @client_disconnected
    def on_disconnect(ctx: ReducerContext) -> None: ...

    @procedure
    def add(ctx: ProcedureContext, a: u32, b: u32) -> u32:
        return a + b

Parameters after the context are the function's arguments; their annotations give the SATS
types (see :mod:`spacetimedb_sdk.module.sats_types`). The decorators return the function
unchanged apart from a ``__stdb_function__`` attribute, so module code can still call it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

from spacetimedb_sdk.module.registry import record

__all__ = [
    "FunctionDecl",
    "LifecycleKind",
    "client_connected",
    "client_disconnected",
    "init",
    "procedure",
    "reducer",
]

F = TypeVar("F", bound=Callable[..., Any])

LifecycleKind = Literal["init", "client_connected", "client_disconnected"]


@dataclass(frozen=True)
class FunctionDecl:
    """One decorated reducer or procedure, as written."""

    fn: Callable[..., Any]
    kind: Literal["reducer", "procedure"]
    source_name: str
    name: str | None
    lifecycle: LifecycleKind | None
    private: bool


def _attach(fn: F, decl: FunctionDecl) -> F:
    if hasattr(fn, "__stdb_function__"):
        raise TypeError(f"{decl.source_name} is already declared as a reducer or procedure")
    fn.__stdb_function__ = decl  # type: ignore[attr-defined]
    record(fn.__module__, fn)
    return fn


@overload
def reducer(fn: F, /) -> F: ...


@overload
def reducer(
    *,
    name: str | None = None,
    private: bool = False,
    init: bool = False,
    client_connected: bool = False,
    client_disconnected: bool = False,
) -> Callable[[F], F]: ...


def reducer(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    private: bool = False,
    init: bool = False,
    client_connected: bool = False,
    client_disconnected: bool = False,
) -> F | Callable[[F], F]:
    """Declare a reducer: a transactional function clients call by name.

    ``name``: explicit canonical name (default: the function name converted to snake_case).
    ``private``: only the database owner (and the scheduler) may call it. At most one of
    ``init``/``client_connected``/``client_disconnected`` makes it a lifecycle reducer, which
    clients can never call.
    """
    flags = [k for k, v in (("init", init), ("client_connected", client_connected),
                            ("client_disconnected", client_disconnected)) if v]  # fmt: skip
    if len(flags) > 1:
        raise TypeError("a reducer has at most one lifecycle role")
    lifecycle: LifecycleKind | None = flags[0] if flags else None  # type: ignore[assignment]

    def apply(target: F) -> F:
        decl = FunctionDecl(target, "reducer", target.__name__, name, lifecycle, private)
        return _attach(target, decl)

    return apply(fn) if fn is not None else apply


def init(fn: F) -> F:
    """Declare the ``init`` lifecycle reducer (runs once, when the database is created)."""
    return reducer(init=True)(fn)


def client_connected(fn: F) -> F:
    """Declare the ``client_connected`` lifecycle reducer (raise ``SenderError`` to refuse)."""
    return reducer(client_connected=True)(fn)


def client_disconnected(fn: F) -> F:
    """Declare the ``client_disconnected`` lifecycle reducer."""
    return reducer(client_disconnected=True)(fn)


@overload
def procedure(fn: F, /) -> F: ...


@overload
def procedure(*, name: str | None = None, private: bool = False) -> Callable[[F], F]: ...


def procedure(
    fn: F | None = None, /, *, name: str | None = None, private: bool = False
) -> F | Callable[[F], F]:
    """Declare a procedure: a function returning a value; it opens transactions itself with
    ``ctx.with_tx(...)``. The return annotation gives the result type."""

    def apply(target: F) -> F:
        decl = FunctionDecl(target, "procedure", target.__name__, name, None, private)
        return _attach(target, decl)

    return apply(fn) if fn is not None else apply
