"""The ``row_limit`` system variable: how many rows a caller's query may scan.

As on the real server, the variable is kept with the database (on disk with it), only the
database owner may ``SET`` it, and it bounds the queries of every other caller — HTTP ``/sql``
selects, one-off queries and the initial evaluation of new subscriptions. The owner's queries are
never limited. The limit is checked while a query runs: evaluation stops as soon as it is
exceeded (see :class:`~spacetimedb_sdk.local_server.sql.RowBudget`).
"""

from __future__ import annotations

from typing import Final

from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.catalog import DatabaseCatalog
from spacetimedb_sdk.local_server.host import Database
from spacetimedb_sdk.local_server.sql import RowBudget

__all__ = ["ROW_LIMIT", "row_budget"]

#: The name of the system variable.
ROW_LIMIT: Final = "row_limit"


def row_budget(database: Database, catalog: DatabaseCatalog, caller: Identity) -> RowBudget | None:
    """What ``caller``'s query may scan: None for the owner or when no ``row_limit`` is set."""
    limit = database.system_variable(ROW_LIMIT)
    if limit is None or catalog.is_owner(caller):
        return None
    return RowBudget(limit)
