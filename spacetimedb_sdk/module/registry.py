"""Where the decorators record what a module declares, and how a module's items are collected.

Every ``@table`` class, ``@reducer``/``@procedure``/``@view`` function and module-wide
declaration (row-level-security filter, case-conversion policy) is recorded under the name of
the Python module that defines it. :func:`collect` returns the items of one module: those recorded
under its name (or, for a package, under any of its submodules) plus any decorated item found in
its namespace (e.g. imported from a shared file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

__all__ = ["ModuleItems", "collect", "record"]

_RECORDED: Final[list[tuple[str, Any]]] = []


def record(module_name: str, item: Any) -> None:
    """Remember a decorated class or function declared in module ``module_name``."""
    _RECORDED.append((module_name, item))


@dataclass(frozen=True)
class ModuleItems:
    """The decorated classes (tables) and functions (reducers, procedures) of one module,
    its views and its module-wide declarations (objects with a ``__stdb_kind__``)."""

    table_classes: tuple[type, ...]
    functions: tuple[Callable[..., Any], ...]
    views: tuple[Callable[..., Any], ...] = ()
    declarations: tuple[Any, ...] = ()


def _is_table_class(obj: Any) -> bool:
    return isinstance(obj, type) and "__stdb_tables__" in obj.__dict__


def _is_function(obj: Any) -> bool:
    return callable(obj) and hasattr(obj, "__stdb_function__")


def _is_view(obj: Any) -> bool:
    return callable(obj) and hasattr(obj, "__stdb_view__")


def _is_declaration(obj: Any) -> bool:
    return not isinstance(obj, type) and isinstance(getattr(obj, "__stdb_kind__", None), str)


def collect(py_module: ModuleType) -> ModuleItems:
    """The items ``py_module`` declares, in declaration order, without duplicates."""
    name = py_module.__name__
    prefix = name + "."
    items: list[Any] = [item for mod, item in _RECORDED if mod == name or mod.startswith(prefix)]
    items.extend(vars(py_module).values())
    seen: set[int] = set()
    tables: list[type] = []
    functions: list[Callable[..., Any]] = []
    views: list[Callable[..., Any]] = []
    declarations: list[Any] = []
    for item in items:
        if id(item) in seen:
            continue
        if _is_table_class(item):
            seen.add(id(item))
            tables.append(item)
        elif _is_function(item):
            seen.add(id(item))
            functions.append(item)
        elif _is_view(item):
            seen.add(id(item))
            views.append(item)
        elif _is_declaration(item):
            seen.add(id(item))
            declarations.append(item)
    return ModuleItems(tuple(tables), tuple(functions), tuple(views), tuple(declarations))
