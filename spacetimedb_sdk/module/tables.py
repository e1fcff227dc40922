"""``@table``: declare a table whose rows are instances of the decorated class.

::

    @table(public=True)
    class User:
        identity: Identity = primary_key()
        name: str | None
        online: bool

The class becomes a dataclass-like row type (``__eq__``, ``__repr__``, and an ``__init__`` that
takes the fields positionally or by keyword). Auto-increment columns default to 0 (meaning
"generate a value on insert"); other columns need a value unless they declare ``default=``.

Names: the table's *accessor* (``ctx.db.<accessor>``, the raw ``source_name``) defaults to the
class name in snake_case; ``name=`` gives an explicit canonical (SQL / wire) name, which otherwise
is derived from the accessor by the server's case conversion.

Several tables may share one row class: stack the decorator with different accessors.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar, overload

from spacetimedb_sdk.case_conversion import to_snake_case
from spacetimedb_sdk.module.columns import (
    NO_DEFAULT,
    ColumnOptions,
    TableIndex,
    auto_inc,
    column,
    index,
    primary_key,
    unique,
)
from spacetimedb_sdk.module.registry import record

__all__ = ["RowClassInfo", "TableDecl", "prepare_row_class", "row_class_info", "table"]

C = TypeVar("C", bound=type)

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_options: Any) -> Callable[[Any], Any]:
        """Runtime stand-in: the decorator only informs type checkers."""
        return lambda target: target


_ROW_ATTR: Final = "__stdb_row__"
_TABLES_ATTR: Final = "__stdb_tables__"


@dataclass(frozen=True)
class TableDecl:
    """One ``@table(...)`` application: the options as written."""

    cls: type
    accessor: str
    name: str | None
    public: bool
    event: bool
    scheduled: str | None
    scheduled_at: str | None
    indexes: tuple[TableIndex, ...]


@dataclass
class RowClassInfo:
    """What the module API knows about a row class: its fields and their options."""

    cls: type
    fields: tuple[str, ...]
    options: dict[str, ColumnOptions] = field(default_factory=dict)
    #: Builds an instance from field values without running ``__init__`` (used by codecs).
    from_fields: Callable[..., Any] | None = None


def row_class_info(cls: type) -> RowClassInfo | None:
    """The row information attached to ``cls`` by :func:`prepare_row_class`, if any."""
    info = cls.__dict__.get(_ROW_ATTR)
    return info if isinstance(info, RowClassInfo) else None


def _own_annotations(cls: type) -> dict[str, Any]:
    ann = inspect.get_annotations(cls)
    out: dict[str, Any] = {}
    for name, hint in ann.items():
        text = hint if isinstance(hint, str) else getattr(hint, "__name__", "")
        if isinstance(text, str) and text.replace("typing.", "").startswith("ClassVar"):
            continue
        out[name] = hint
    return out


def _internal_prefix(fields: tuple[str, ...]) -> str:
    """A prefix for the generated functions' own names that no field name starts with.

    Generated ``__init__`` and ``_from_fields`` take the fields as parameters, so their helper
    names (the instance, the missing-value marker, defaults) must never equal a field's name:
    a row class may well have fields called ``self``, ``d`` or ``o``.
    """
    prefix = "_stdb_"
    while any(f.startswith(prefix) for f in fields):
        prefix += "_"
    return prefix


def _generate_init(cls: type, fields: tuple[str, ...], options: dict[str, ColumnOptions]) -> None:
    p = _internal_prefix(fields)
    missing, this = f"{p}missing", f"{p}self"
    ns: dict[str, Any] = {missing: object()}
    params = "".join(f", {f}={missing}" for f in fields)
    lines = [f"def __init__({this}{params}):"]
    for f in fields:
        opts = options.get(f, ColumnOptions())
        if opts.has_default:
            ns[f"{p}default_{f}"] = opts.default
            lines.append(f"    if {f} is {missing}: {f} = {p}default_{f}")
        elif opts.auto_inc:
            lines.append(f"    if {f} is {missing}: {f} = 0")
        else:
            lines.append(
                f"    if {f} is {missing}: raise TypeError("
                f"{cls.__name__ + '() missing value for field ' + repr(f)!r})"
            )
    lines.append(f"    {p}dict = {this}.__dict__")
    lines.extend(f"    {p}dict[{f!r}] = {f}" for f in fields)
    lines.append("    return None")
    exec("\n".join(lines), ns)
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]


def _generate_from_fields(cls: type, fields: tuple[str, ...]) -> Callable[..., Any]:
    p = _internal_prefix(fields)
    new, klass, obj = f"{p}new", f"{p}cls", f"{p}obj"
    ns: dict[str, Any] = {new: object.__new__, klass: cls}
    args = ", ".join(fields)
    body = ", ".join(f"{f!r}: {f}" for f in fields)
    src = (
        f"def _from_fields({args}):\n"
        f"    {obj} = {new}({klass})\n"
        f"    {obj}.__dict__.update({{{body}}})\n"
        f"    return {obj}\n"
    )
    exec(src, ns)
    fn: Callable[..., Any] = ns["_from_fields"]
    return fn


def prepare_row_class(cls: type) -> RowClassInfo:
    """Make ``cls`` a row type (idempotent): read its fields and column markers, add methods."""
    existing = row_class_info(cls)
    if existing is not None:
        return existing
    if dataclasses.is_dataclass(cls):
        dc_fields = dataclasses.fields(cls)
        names = tuple(f.name for f in dc_fields)
        options = {f.name: f.default for f in dc_fields if isinstance(f.default, ColumnOptions)}
        frozen = bool(getattr(cls, "__dataclass_params__").frozen)  # noqa: B009
        info = RowClassInfo(cls, names, options)
        if not frozen and not hasattr(cls, "__slots__"):
            info.from_fields = _generate_from_fields(cls, names)
        else:
            info.from_fields = cls
        setattr(cls, _ROW_ATTR, info)
        return info
    annotations = _own_annotations(cls)
    names = tuple(annotations)
    options = {}
    for name in names:
        value = cls.__dict__.get(name, NO_DEFAULT)
        if isinstance(value, ColumnOptions):
            options[name] = value
            delattr(cls, name)
        elif value is not NO_DEFAULT:
            options[name] = ColumnOptions(default=value)
            delattr(cls, name)
    dataclasses.dataclass(init=False, repr=True, eq=True)(cls)
    _generate_init(cls, names, options)
    info = RowClassInfo(cls, names, options, _generate_from_fields(cls, names))
    setattr(cls, _ROW_ATTR, info)
    return info


def _scheduled_name(scheduled: str | Callable[..., Any] | None) -> str | None:
    if scheduled is None or isinstance(scheduled, str):
        return scheduled
    decl = getattr(scheduled, "__stdb_function__", None)
    if decl is not None:
        return str(decl.source_name)
    return str(getattr(scheduled, "__name__"))  # noqa: B009


@overload
@dataclass_transform(field_specifiers=(column, primary_key, unique, auto_inc, index))
def table(cls: C, /) -> C: ...


@overload
def table(
    *,
    name: str | None = None,
    accessor: str | None = None,
    public: bool = False,
    event: bool = False,
    scheduled: str | Callable[..., Any] | None = None,
    scheduled_at: str | None = None,
    indexes: Iterable[TableIndex] = (),
) -> Callable[[C], C]: ...


def table(
    cls: C | None = None,
    /,
    *,
    name: str | None = None,
    accessor: str | None = None,
    public: bool = False,
    event: bool = False,
    scheduled: str | Callable[..., Any] | None = None,
    scheduled_at: str | None = None,
    indexes: Iterable[TableIndex] = (),
) -> C | Callable[[C], C]:
    """Declare a table of rows of the decorated class.

    ``public``: visible to every client (default private). ``event``: an event table (rows exist
    only in their transaction and are published as events). ``scheduled``: the reducer or
    procedure (name or function) this schedule table drives; the table then needs a ``u64``
    primary key ``scheduled_id`` (auto-inc) and a ``ScheduleAt`` column (``scheduled_at``, or
    name it with ``scheduled_at=``). ``indexes``: multi-column indexes (:func:`btree_index`).
    """
    index_list = tuple(indexes)

    def apply(target: C) -> C:
        prepare_row_class(target)
        decl = TableDecl(
            cls=target,
            accessor=accessor or to_snake_case(target.__name__),
            name=name,
            public=public,
            event=event,
            scheduled=_scheduled_name(scheduled),
            scheduled_at=scheduled_at,
            indexes=index_list,
        )
        decls: list[TableDecl] | None = target.__dict__.get(_TABLES_ATTR)
        if decls is None:
            decls = []
            setattr(target, _TABLES_ATTR, decls)
            record(target.__module__, target)
        decls.insert(0, decl)  # decorators apply bottom-up; keep source order
        return target

    if cls is not None:
        return apply(cls)
    return apply


def table_decls(cls: type) -> tuple[TableDecl, ...]:
    """The ``@table`` declarations on ``cls`` (top to bottom)."""
    return tuple(cls.__dict__.get(_TABLES_ATTR, ()))


def module_globals(obj: Any) -> dict[str, Any]:
    """The namespace annotations of ``obj`` are resolved in."""
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    return dict(vars(module)) if module is not None else {}
