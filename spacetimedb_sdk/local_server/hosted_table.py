"""Read access to one table of a hosted database, for the network layer (subscriptions, SQL).

Two value forms exist for every row:

* the **module form** (``value`` in ``(row_bytes, value)`` pairs): an instance of the module's
  row class, as stored by the datastore — read-only for callers;
* the **generic form** (:meth:`HostedTable.generic`): a ``dict`` keyed by *canonical* column
  name with values in the codec's unbound shapes (:mod:`spacetimedb_sdk.values`), which is what
  :mod:`spacetimedb_sdk.local_server.sql` evaluates. Generic rows are decoded lazily and cached
  per row until the row is deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from spacetimedb_sdk.algebraic_type import special_kind
from spacetimedb_sdk.bsatn import BsatnCodec, compile_codec
from spacetimedb_sdk.local_server.table_spec import TableSpec
from spacetimedb_sdk.local_server.table_store import Table
from spacetimedb_sdk.schema import ModuleSchema, TableSchema

if TYPE_CHECKING:
    from spacetimedb_sdk.local_server.sql import TableInfo

__all__ = ["HostedTable"]


class HostedTable:
    """One table: schema, codecs, current rows and index lookups (no writes)."""

    def __init__(self, table: Table, schema: TableSchema, module_schema: ModuleSchema) -> None:
        self._table = table
        self._module_schema = module_schema
        #: The canonical table schema (names, columns, indexes, constraints).
        self.schema = schema
        self.name = schema.name
        #: The datastore's own description of the table.
        self.spec: TableSpec = table.spec
        #: Row codec in the module form (bound to the module's classes).
        self.codec: BsatnCodec[Any] = table.codec
        #: Row codec in the generic form (dicts keyed by canonical column names).
        self.generic_codec: BsatnCodec[Any] = compile_codec(
            module_schema.typespace.types[schema.product_type_ref], module_schema.typespace
        )
        self._generic_columns = [
            compile_codec(c.algebraic_type, module_schema.typespace) for c in schema.columns
        ]
        self._module_columns = [
            compile_codec(c.type, table.spec.typespace, table.spec.bindings)
            for c in table.spec.columns
        ]
        self._same_form = [
            _same_in_both_forms(c.algebraic_type, module_schema) for c in schema.columns
        ]
        self._generic_cache: dict[bytes, Any] = {}

    # -- rows -------------------------------------------------------------------------------------
    def rows(self) -> Iterator[tuple[bytes, Any]]:
        """``(row_bytes, module value)`` of every row (a snapshot)."""
        return iter(list(self._table.rows.items()))

    def row_bytes(self) -> list[bytes]:
        """Every row's BSATN bytes."""
        return list(self._table.rows)

    def count(self) -> int:
        """The number of rows."""
        return len(self._table.rows)

    def __len__(self) -> int:
        return len(self._table.rows)

    def __contains__(self, row: bytes) -> bool:
        return row in self._table.rows

    def generic(self, row: bytes) -> Any:
        """The generic (dict) form of a row given by its bytes (cached while the row lives)."""
        value = self._generic_cache.get(row)
        if value is None:
            value = self.generic_codec.decode(row)
            if row in self._table.rows:
                self._generic_cache[row] = value
        return value

    def generic_rows(self) -> Iterator[Any]:
        """Every row in generic form (what ``sql.BoundQuery.evaluate``'s ``scan`` yields)."""
        generic = self.generic
        for b in list(self._table.rows):
            yield generic(b)

    def forget(self, rows: list[bytes]) -> None:
        """Drop cached generic forms of deleted rows (the host calls this after commits)."""
        cache = self._generic_cache
        for b in rows:
            cache.pop(b, None)

    # -- lookups ----------------------------------------------------------------------------------
    def find(self, column: str | int, value: Any) -> list[tuple[bytes, Any]]:
        """Rows whose ``column`` (canonical/accessor name or position) equals ``value``.

        ``value`` is in generic form. Uses a unique or index structure when the column has one,
        else scans.
        """
        col = column if isinstance(column, int) else self.schema.column(column).position
        module_value = self.to_module_value(col, value)
        table = self._table
        k = table.column_keys[col]
        key = module_value if k is None else k(module_value)
        unique = table.unique_by_columns.get((col,))
        if unique is not None:
            b = unique.map.get(key)
            return [] if b is None else [(b, table.rows[b])]
        for bt in table.btrees.values():
            if bt.columns[0] == col:
                return [(b, table.rows[b]) for b in bt.scan((key,))]
        for h in table.hashes.values():
            if h.columns == (col,):
                return [(b, table.rows[b]) for b in h.get(key)]
        getter = table.column_getters[col]
        return [(b, v) for b, v in table.rows.items() if _key(k, getter(v)) == key]

    def to_module_value(self, column: int, value: Any) -> Any:
        """A column value converted from generic to module form."""
        if self._same_form[column]:
            return value
        return self._module_columns[column].decode(self._generic_columns[column].encode(value))

    def column_value(self, row_value: Any, column: int) -> Any:
        """Column ``column`` of a module-form row value."""
        return self._table.column_getters[column](row_value)

    # -- SQL --------------------------------------------------------------------------------------
    def sql_info(self) -> TableInfo:
        """This table as :class:`spacetimedb_sdk.local_server.sql.TableInfo` (for binding)."""
        from spacetimedb_sdk.local_server.sql import ColumnInfo, TableInfo

        indexed = frozenset(
            self.schema.columns[ix.columns[0]].name for ix in self.schema.indexes if ix.columns
        )
        return TableInfo(
            name=self.name,
            columns=tuple(
                ColumnInfo(
                    c.name, c.algebraic_type, c.accessor_name if c.accessor_name != c.name else None
                )
                for c in self.schema.columns
            ),
            accessor=self.schema.accessor_name,
            is_event=self.schema.is_event,
            indexed_columns=indexed,
            index_columns=tuple(
                tuple(self.schema.columns[c].name for c in ix.columns)
                for ix in self.schema.indexes
                if ix.columns
            ),
            typespace=self._module_schema.typespace,
        )

    def __repr__(self) -> str:
        return f"<HostedTable {self.name} rows={len(self._table.rows)}>"


def _key(k: Any, v: Any) -> Any:
    return v if k is None else k(v)


def _same_in_both_forms(ty: Any, schema: ModuleSchema) -> bool:
    """True when no bound class can appear in values of ``ty`` (no ``Ref`` inside)."""
    from spacetimedb_sdk.algebraic_type import ArrayType, ProductType, RefType, SumType

    if isinstance(ty, RefType):
        return False
    if special_kind(ty) in ("identity", "connection_id", "timestamp", "time_duration", "uuid"):
        return True
    if isinstance(ty, ProductType):
        return all(_same_in_both_forms(e.algebraic_type, schema) for e in ty.elements)
    if isinstance(ty, SumType):
        return all(_same_in_both_forms(v.algebraic_type, schema) for v in ty.variants)
    if isinstance(ty, ArrayType):
        return _same_in_both_forms(ty.element, schema)
    return True
