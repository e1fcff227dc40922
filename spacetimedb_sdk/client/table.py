"""Table handles (``conn.db.<table>``): read the client cache, index lookups, row callbacks.

Generated bindings subclass :class:`TableHandle` / :class:`TableWithPrimaryKeyHandle` /
:class:`EventTableHandle` and add typed index accessors built with ``_unique`` and ``_btree``.
Without generated code (a module built at run time) the same handles are reached through
``conn.db.<name>`` or ``conn.db["name"]``, and an index through ``handle.<column or index>``.

* ``count()``, ``iter()`` (also ``len`` and ``for``): the cached rows (decoded on first access).
* :class:`UniqueIndex` ``.find(key)``: a hashed lookup, O(1).
* :class:`BTreeIndex` ``.filter(key | Range | slice | prefix tuple)``: ordered, O(log n + k).
* ``on_insert`` / ``on_delete`` (/ ``on_update`` for tables with a primary key) return a
  :data:`~spacetimedb_sdk.client.callbacks.CallbackId` for ``remove_on_*``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from spacetimedb_sdk.client.callbacks import CallbackId, TableCallbacks
from spacetimedb_sdk.core.table_cache import CachedTable
from spacetimedb_sdk.core.table_layout import IndexLayout, TableLayout

if TYPE_CHECKING:
    from spacetimedb_sdk.client.call_future import CallFuture
    from spacetimedb_sdk.client.db_connection import DbConnection
    from spacetimedb_sdk.client.events import EventContext

__all__ = [
    "BTreeIndex",
    "DynamicRemoteTables",
    "DynamicTableHandle",
    "DynamicTableWithPrimaryKeyHandle",
    "EventTableHandle",
    "Range",
    "RemoteTablesBase",
    "TableHandle",
    "TableWithPrimaryKeyHandle",
    "UniqueIndex",
]

Row = TypeVar("Row")
Key = TypeVar("Key")
H = TypeVar("H", bound="TableHandle[Any] | EventTableHandle[Any]")


@dataclass(frozen=True, slots=True)
class Range:
    """Bounds for :meth:`BTreeIndex.filter`; ``None`` leaves a side unbounded.

    ``Range(a, b)`` is half-open, ``a <= key < b``, like a Python ``range`` or slice. Keys are
    ordered as the server orders them; for an ``Option`` column ``None`` sorts after every value.
    """

    start: Any = None
    end: Any = None
    include_start: bool = True
    include_end: bool = False

    @classmethod
    def closed(cls, start: Any, end: Any) -> Range:
        """``start <= key <= end``."""
        return cls(start, end, True, True)

    @classmethod
    def at_least(cls, start: Any) -> Range:
        """``key >= start``."""
        return cls(start, None, True)

    @classmethod
    def greater_than(cls, start: Any) -> Range:
        """``key > start``."""
        return cls(start, None, False)

    @classmethod
    def at_most(cls, end: Any) -> Range:
        """``key <= end``."""
        return cls(None, end, include_end=True)

    @classmethod
    def less_than(cls, end: Any) -> Range:
        """``key < end``."""
        return cls(None, end, include_end=False)

    @classmethod
    def of(cls, value: Range | slice) -> Range:
        """A Range from a Range or a (step-less) slice."""
        if isinstance(value, Range):
            return value
        if value.step is not None:
            raise ValueError("an index range cannot have a step")
        return cls(value.start, value.stop)


class UniqueIndex(Generic[Row, Key]):
    """A unique index of a table: at most one row per key."""

    __slots__ = ("_handle", "_layout")

    def __init__(self, handle: TableHandle[Row], layout: IndexLayout) -> None:
        self._handle = handle
        self._layout = layout

    def find(self, key: Key) -> Row | None:
        """The row whose key equals ``key`` (a tuple for a multi-column index), or None."""
        row: Row | None = self._handle._cache.find(self._layout, key)
        return row

    def __contains__(self, key: object) -> bool:
        return self._handle._cache.unique_index(self._layout).find(key) is not None

    def __repr__(self) -> str:
        return f"UniqueIndex({self._handle.table_name!r}, {self._layout.column_names!r})"


class BTreeIndex(Generic[Row, Key]):
    """An ordered index of a table: exact matches, ranges and (multi-column) prefixes."""

    __slots__ = ("_handle", "_layout")

    def __init__(self, handle: TableHandle[Row], layout: IndexLayout) -> None:
        self._handle = handle
        self._layout = layout

    def filter(self, key: Any) -> Iterator[Row]:
        """Rows matching ``key``, in key order for ranges.

        ``key`` is a value (single-column index), a :class:`Range` or ``slice``, or for a
        multi-column index a tuple: all columns (exact), a prefix, or a prefix whose last item
        is a Range/slice on the next column.
        """
        cache = self._handle._cache
        index = cache.btree_index(self._layout)
        ncols = len(self._layout.columns)
        if ncols == 1:
            if isinstance(key, (Range, slice)):
                r = Range.of(key)
                rows = index.range(
                    index.sort_key(r.start),
                    index.sort_key(r.end),
                    has_lo=r.start is not None,
                    has_hi=r.end is not None,
                    lo_inclusive=r.include_start,
                    hi_inclusive=r.include_end,
                )
            else:
                rows = index.exact(key)
        else:
            if not isinstance(key, tuple):
                key = (key,)
            if len(key) > ncols:
                raise ValueError(f"index {self._layout.name!r} has {ncols} columns, got {len(key)}")
            if key and isinstance(key[-1], (Range, slice)):
                r = Range.of(key[-1])
                rows = index.prefix(
                    key[:-1],
                    r.start,
                    r.end,
                    has_lo=r.start is not None,
                    has_hi=r.end is not None,
                    lo_inclusive=r.include_start,
                    hi_inclusive=r.include_end,
                )
            elif len(key) == ncols:
                rows = index.exact(key)
            else:
                rows = index.prefix(key)
        return iter(cache.values_of(rows, -1))  # decoded in bulk, memoised

    def __getitem__(self, key: Any) -> list[Row]:
        return list(self.filter(key))

    def __repr__(self) -> str:
        return f"BTreeIndex({self._handle.table_name!r}, {self._layout.column_names!r})"


class _HandleBase(Generic[Row]):
    __slots__ = ("_callbacks", "_conn", "_indexes", "_layout", "_table_cache")

    def __init__(self, conn: DbConnection[Any, Any, Any], name: str) -> None:
        layout = conn._core.module.find(name)
        if layout is None:
            raise KeyError(f"the module has no table or view {name!r}")
        self._conn = conn
        self._layout: TableLayout = layout
        self._table_cache: CachedTable | None = None
        self._callbacks: TableCallbacks = conn._dispatcher.table_callbacks(layout.name)
        self._indexes: dict[tuple[str, str], Any] = {}

    @property
    def table_name(self) -> str:
        """The table's canonical (wire and SQL) name."""
        return self._layout.name

    @property
    def _cache(self) -> CachedTable:
        cache = self._table_cache
        if cache is None:
            found = self._conn._core.cache.table(self._layout.name)
            assert found is not None
            cache = self._table_cache = found
        return cache

    def on_insert(self, callback: Callable[[EventContext, Row], None]) -> CallbackId:
        """Call ``callback(ctx, row)`` for every row that becomes visible."""
        return self._callbacks.insert.add(callback)

    def remove_on_insert(self, callback: CallbackId | Callable[..., Any]) -> None:
        """Unregister an ``on_insert`` callback (by id or by function)."""
        self._callbacks.insert.remove(callback)

    def remote_query(self, where: str = "") -> CallFuture[list[Row]]:
        """Run ``SELECT * FROM <table> [WHERE ...]`` once on the server (not cached)."""
        sql = f'SELECT * FROM "{self.table_name}"'
        if where.strip():
            clause = where.strip()
            sql += " " + (clause if clause[:5].upper() == "WHERE" else f"WHERE {clause}")
        return self._conn.one_off_query(sql)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.table_name!r}>"


class TableHandle(_HandleBase[Row]):
    """A table (or view) of the client cache."""

    __slots__ = ()

    def count(self) -> int:
        """How many rows are cached."""
        return len(self._cache)

    def iter(self) -> Iterator[Row]:
        """The cached rows (a snapshot taken now)."""
        return iter(self._cache.rows())

    def __iter__(self) -> Iterator[Row]:
        return self.iter()

    def __len__(self) -> int:
        return len(self._cache)

    def on_delete(self, callback: Callable[[EventContext, Row], None]) -> CallbackId:
        """Call ``callback(ctx, row)`` for every row that leaves the cache."""
        return self._callbacks.delete.add(callback)

    def remove_on_delete(self, callback: CallbackId | Callable[..., Any]) -> None:
        """Unregister an ``on_delete`` callback (by id or by function)."""
        self._callbacks.delete.remove(callback)

    # ------------------------------------------------------------------------------ indexes
    def _unique(self, column: str) -> UniqueIndex[Row, Any]:
        """The unique index on ``column`` (for generated accessors)."""
        found = self._indexes.get(("u", column))
        if found is None:
            layout = self._layout.unique_index_on(column)
            found = self._indexes[("u", column)] = UniqueIndex(self, layout)
        return found

    def _btree(self, index_name: str) -> BTreeIndex[Row, Any]:
        """The ordered index ``index_name`` (canonical, source or accessor name)."""
        found = self._indexes.get(("b", index_name))
        if found is None:
            layout = self._layout.index(index_name)
            found = self._indexes[("b", index_name)] = BTreeIndex(self, layout)
        return found

    def unique(self, column: str) -> UniqueIndex[Row, Any]:
        """The unique index on ``column`` (canonical or accessor name)."""
        return self._unique(column)

    def index(self, name: str) -> BTreeIndex[Row, Any]:
        """An index by name (canonical, source or accessor), usable for ranges."""
        return self._btree(name)


class TableWithPrimaryKeyHandle(TableHandle[Row]):
    """A table with a primary key: a deleted and an inserted row with the same key in one
    message are one update."""

    __slots__ = ()

    def on_update(self, callback: Callable[[EventContext, Row, Row], None]) -> CallbackId:
        """Call ``callback(ctx, old_row, new_row)`` for every row replaced in a transaction."""
        return self._callbacks.update.add(callback)

    def remove_on_update(self, callback: CallbackId | Callable[..., Any]) -> None:
        """Unregister an ``on_update`` callback (by id or by function)."""
        self._callbacks.update.remove(callback)


class EventTableHandle(_HandleBase[Row]):
    """An event table: rows are delivered to ``on_insert`` and never cached."""

    __slots__ = ()

    def count(self) -> int:
        """Always 0: event rows are not stored."""
        return 0

    def iter(self) -> Iterator[Row]:
        """Always empty: event rows are not stored."""
        return iter(())

    def __iter__(self) -> Iterator[Row]:
        return self.iter()

    def __len__(self) -> int:
        return 0


class RemoteTablesBase:
    """``conn.db``: one handle per table, created on first access and then reused.

    Generated bindings subclass it with one typed property per table; attribute access is not
    dynamic here, so a misspelt table is a type error. :class:`DynamicRemoteTables` adds
    ``conn.db.<any table>`` for connections without generated code.
    """

    _HANDLE: ClassVar[type[Any]] = TableHandle
    _PK_HANDLE: ClassVar[type[Any]] = TableWithPrimaryKeyHandle
    _EVENT_HANDLE: ClassVar[type[Any]] = EventTableHandle

    def __init__(self, conn: DbConnection[Any, Any, Any]) -> None:
        self._conn = conn
        self._handles: dict[str, Any] = {}

    def _table(self, name: str, cls: type[H]) -> H:
        """The handle of table ``name``, of class ``cls`` (for generated accessors)."""
        found = self._handles.get(name)
        if found is None:
            found = self._handles[name] = cls(self._conn, name)
        return found

    def table(self, name: str) -> Any:
        """The handle of a table or view by canonical or accessor name (run-time modules)."""
        layout = self._conn._core.module.find(name)
        if layout is None:
            raise KeyError(f"the module has no table or view {name!r}")
        if layout.is_event:
            return self._table(layout.name, self._EVENT_HANDLE)
        if layout.primary_key is not None:
            return self._table(layout.name, self._PK_HANDLE)
        return self._table(layout.name, self._HANDLE)

    def __getitem__(self, name: str) -> Any:
        return self.table(name)

    def __iter__(self) -> Iterator[Any]:
        """Every table and view handle of the module."""
        module = self._conn._core.module
        for name in dict.fromkeys(layout.name for layout in module.tables.values()):
            yield self.table(name)


class _ColumnIndexAccess:
    """``handle.<column or index>`` for tables known only at run time."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        # Run-time modules: an index accessor (the rule generated bindings follow), else the
        # unique index on a column of that name, else an index of that name.
        if name.startswith("_"):
            raise AttributeError(name)
        handle = cast("TableHandle[Any]", self)
        layout: TableLayout = object.__getattribute__(self, "_layout")
        accessor = layout.accessors.get(name)  # what generated code names a property
        if accessor is not None:
            if accessor.kind == "unique":
                return handle._unique(accessor.target)
            return handle._btree(accessor.target)
        try:
            return handle._unique(name)
        except KeyError:
            pass
        try:
            layout.index(name)
        except KeyError:
            raise AttributeError(f"table {layout.name!r} has no index {name!r}") from None
        return handle._btree(name)


class DynamicTableHandle(_ColumnIndexAccess, TableHandle[Any]):
    """A table handle whose unique and B-tree indexes are attributes, found at run time."""

    __slots__ = ()


class DynamicTableWithPrimaryKeyHandle(_ColumnIndexAccess, TableWithPrimaryKeyHandle[Any]):
    """:class:`DynamicTableHandle` for a table with a primary key (``on_update``)."""

    __slots__ = ()


class DynamicRemoteTables(RemoteTablesBase):
    """``conn.db`` without generated bindings: ``conn.db.<table>`` and ``conn.db["table"]``."""

    _HANDLE = DynamicTableHandle
    _PK_HANDLE = DynamicTableWithPrimaryKeyHandle

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.table(name)
        except KeyError:
            raise AttributeError(f"the module has no table or view {name!r}") from None
