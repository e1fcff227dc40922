"""Which tables a caller may read, as SQL catalogs (docs/protocol.md#sql-endpoint, docs/protocol.md#sql-subset).

Private tables (and private views) are visible only to the database owner; to everyone else they do not exist, so a
query naming one fails exactly like a query naming an unknown table. The same rule serves HTTP
SQL, subscriptions and one-off queries.
"""

from __future__ import annotations

from dataclasses import replace

from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.host import Database
from spacetimedb_sdk.local_server.sql import SimpleCatalog, TableInfo
from spacetimedb_sdk.local_server.system_tables import SYSTEM_TABLES
from spacetimedb_sdk.local_server.views import Relations

__all__ = ["DatabaseCatalog"]


class DatabaseCatalog:
    """SQL table descriptions of one database, split by who may see them."""

    def __init__(self, database: Database) -> None:
        self.owner = database.owner_identity
        #: Views and visibility-filtered tables: what each caller reads under a name.
        self.relations = Relations(database)
        tables = database.tables
        self.all_tables: tuple[TableInfo, ...] = tuple(
            hosted.sql_info() for hosted in tables.values()
        )
        public = {name for name, hosted in tables.items() if hosted.schema.is_public}
        # Everyone but the owner reads tables through their visibility filters.
        self.public_tables: tuple[TableInfo, ...] = tuple(
            replace(t, row_filters=self.relations.filter_shapes(t.name))
            for t in self.all_tables
            if t.name in public
        )
        # Views are named like tables (private ones only for the owner); the real server keeps
        # them in user tables, so `SELECT * FROM *` includes them too.
        view_list = self.relations.view_infos()
        all_views = [info for info, _ in view_list]
        public_views = [info for info, is_public in view_list if is_public]
        self._owner_readable = (*self.all_tables, *all_views)
        self._public_readable = (*self.public_tables, *public_views)
        # System tables are public (as on the real server) but left out of `SELECT * FROM *`.
        system = [t.info for t in SYSTEM_TABLES.values()]
        self._owner_catalog = SimpleCatalog([*self.all_tables, *all_views, *system])
        self._public_catalog = SimpleCatalog([*self.public_tables, *public_views, *system])

    def is_owner(self, identity: Identity) -> bool:
        """True for the database owner."""
        return identity == self.owner

    def readable_tables(self, identity: Identity) -> tuple[TableInfo, ...]:
        """The tables and views ``identity`` may read (all of them for the owner)."""
        return self._owner_readable if self.is_owner(identity) else self._public_readable

    def for_caller(self, identity: Identity) -> SimpleCatalog:
        """The catalog ``identity`` binds its queries against."""
        return self._owner_catalog if self.is_owner(identity) else self._public_catalog
