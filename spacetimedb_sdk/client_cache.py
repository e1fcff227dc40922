"""The 0.7 ``client_cache`` module: the legacy client's view of the subscribed rows.

Kept name for name for code written against spacetimedb-sdk 0.7. ``ClientCache(package)`` reads
a bindings package with the 0.7 rules (see :mod:`spacetimedb_sdk.legacy.bindings`) and holds
one :class:`TableCache` per table class found; generated ``<Table>.iter()`` and
``filter_by_<column>`` read them through ``SpacetimeDBClient.instance._get_table_cache``.

The rows themselves come from the modern client (decoded once, into the legacy classes);
``SpacetimeDBClient.update()`` applies each message to these caches right before running that
message's callbacks, so callbacks always see the state after their own message. Entries are
keyed by the row's BSATN bytes (0.7 used a server-side row hash). Tables are keyed by their
canonical name (``"user"``) and also found by the 0.7 class name (``"User"``).
"""

from __future__ import annotations

from collections.abc import Callable, ValuesView
from types import ModuleType
from typing import Any

from spacetimedb_sdk.bsatn import BsatnCodec
from spacetimedb_sdk.legacy.bindings import LegacyBindings, load_legacy_bindings, snake_to_camel
from spacetimedb_sdk.legacy.messages import TableNameDict
from spacetimedb_sdk.redaction import sdk_logger

__all__ = ["ClientCache", "TableCache", "snake_to_camel"]

_log = sdk_logger("spacetimedb_sdk.legacy")


class TableCache:
    """The cached rows of one table: ``entries`` maps a row key to its row object."""

    def __init__(self, table_class: type, codec: BsatnCodec[Any] | None = None) -> None:
        self.entries: dict[Any, Any] = {}
        self.table_class = table_class
        self._codec = codec

    def decode(self, value: Any) -> Any:
        """A row object from the row's BSATN bytes (or, for 0.7 classes, its 0.7 JSON)."""
        if isinstance(value, (bytes, bytearray, memoryview)) and self._codec is not None:
            return self._codec.decode(bytes(value))
        return self.table_class(value)

    def set_entry(self, key: Any, value: Any) -> None:
        """Decode ``value`` and store it under ``key``."""
        self.entries[key] = self.decode(value)

    def set_entry_decoded(self, key: Any, decoded_value: Any) -> None:
        """Store an already decoded row under ``key``."""
        self.entries[key] = decoded_value

    def delete_entry(self, key: Any) -> None:
        """Remove the row stored under ``key`` (a missing key is logged, as 0.7 printed it)."""
        if key in self.entries:
            del self.entries[key]
        else:
            _log.warning("[delete_entry] key not found in %s", self.table_class.__name__)

    def get_entry(self, key: Any) -> Any:
        """The row stored under ``key``, or ``None``."""
        return self.entries.get(key)

    def values(self) -> ValuesView[Any]:
        """A live view of the cached rows (what generated ``iter()`` walks)."""
        return self.entries.values()

    def __len__(self) -> int:
        return len(self.entries)


class ClientCache:
    """Every table cache of a bindings package, plus its reducers' argument decoders."""

    def __init__(self, autogen_package: ModuleType) -> None:
        self.bindings: LegacyBindings = load_legacy_bindings(autogen_package)
        self.tables: dict[str, TableCache] = TableNameDict(self.bindings.resolve_table)
        self.reducer_cache: dict[str, Callable[[Any], list[Any]]] = {}
        self.rebuild()

    def rebuild(self, codecs: dict[str, BsatnCodec[Any]] | None = None) -> None:
        """(Re)create the empty caches, keyed by canonical name once the schema is known."""
        tables: dict[str, TableCache] = TableNameDict(self.bindings.resolve_table)
        for table in self.bindings.tables:
            key = table.name or table.legacy_name
            codec = (codecs or {}).get(key)
            tables[key] = TableCache(table.table_class, codec)
        self.tables = tables
        self.reducer_cache = {
            (reducer.name or reducer.legacy_name): reducer.decode_args or _as_list
            for reducer in self.bindings.reducers
        }

    def get_table_cache(self, table_name: str) -> TableCache:
        """The cache of a table, by canonical or 0.7 name (KeyError when unknown)."""
        return self.tables[table_name]

    def _table(self, table_name: str, what: str) -> TableCache | None:
        found: TableCache | None = self.tables.get(table_name)
        if found is None:
            _log.error("[%s] table not found: %s", what, table_name)
        return found

    def decode(self, table_name: str, value: Any) -> Any:
        """Decode a row of ``table_name``."""
        table = self._table(table_name, "decode")
        return None if table is None else table.decode(value)

    def set_entry(self, table_name: str, key: Any, value: Any) -> None:
        """Decode and store a row."""
        table = self._table(table_name, "set_entry")
        if table is not None:
            table.set_entry(key, value)

    def set_entry_decoded(self, table_name: str, key: Any, value: Any) -> None:
        """Store a decoded row."""
        table = self._table(table_name, "set_entry_decoded")
        if table is not None:
            table.set_entry_decoded(key, value)

    def delete_entry(self, table_name: str, key: Any) -> None:
        """Remove a row."""
        table = self._table(table_name, "delete_entry")
        if table is not None:
            table.delete_entry(key)

    def get_entry(self, table_name: str, key: Any) -> Any:
        """A stored row, or ``None``."""
        table = self._table(table_name, "get_entry")
        return None if table is None else table.get_entry(key)


def _as_list(data: Any) -> list[Any]:
    return list(data)
