"""``POST /v1/database/<db>/sql``: run one statement and build the JSON answer (docs/protocol.md#sql-endpoint).

The general SQL language (:func:`~spacetimedb_sdk.local_server.sql.parse_sql`): SELECT with
projections, ``COUNT(*)``, ``LIMIT`` and joins, plus ``INSERT`` / ``UPDATE`` / ``DELETE`` (owner
only, executed as one transaction through the host, so subscribers see the change) and
``SET`` / ``SHOW row_limit``. The answer is a one-element JSON array::

    [{"schema": {"elements": [{"name": {"some": "id"}, "algebraic_type": {"U32": []}}]},
      "rows": [[1], [2]], "total_duration_micros": 12,
      "stats": {"rows_inserted": 0, "rows_deleted": 0, "rows_updated": 0}}]

Rows are untyped SATS-JSON. Every rejection is a :class:`SqlError` (HTTP 400 with its text).
``SET row_limit`` is a write (owner only, like DML); see
:mod:`~spacetimedb_sdk.local_server.row_limit` for what the limit bounds.
"""

from __future__ import annotations

import time
from typing import Any

from spacetimedb_sdk.algebraic_type import U64, AlgebraicType, type_to_json
from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.catalog import DatabaseCatalog
from spacetimedb_sdk.local_server.host import Database
from spacetimedb_sdk.local_server.row_limit import row_budget
from spacetimedb_sdk.local_server.sql import (
    BoundDelete,
    BoundInsert,
    BoundSelect,
    BoundSetVar,
    BoundShowVar,
    BoundStatement,
    BoundUpdate,
    SqlError,
    bind_sql,
    parse_sql,
)
from spacetimedb_sdk.local_server.system_tables import SYSTEM_TABLES
from spacetimedb_sdk.local_server.untyped_json import value_to_untyped_json

__all__ = ["dml_not_allowed", "execute_sql"]


def dml_not_allowed(caller: Identity) -> str:
    """The refusal a non-owner gets for INSERT / UPDATE / DELETE / SET (the server's words)."""
    return f"Caller {caller.to_hex()} is not authorized to run SQL DML statements"


def _column_json(name: str, ty: AlgebraicType) -> dict[str, Any]:
    return {"name": {"some": name}, "algebraic_type": type_to_json(ty)}


def _result(
    columns: list[dict[str, Any]],
    rows: list[list[Any]],
    started: float,
    inserted: int = 0,
    deleted: int = 0,
    updated: int = 0,
) -> dict[str, Any]:
    return {
        "schema": {"elements": columns},
        "rows": rows,
        "total_duration_micros": int((time.perf_counter() - started) * 1_000_000),
        "stats": {"rows_inserted": inserted, "rows_deleted": deleted, "rows_updated": updated},
    }


def execute_sql(
    database: Database,
    catalog: DatabaseCatalog,
    caller: Identity,
    connection_id: ConnectionId | None,
    text: str,
) -> list[dict[str, Any]]:
    """Run ``text`` for ``caller``; the statement results as the endpoint's JSON value."""
    started = time.perf_counter()
    statement = parse_sql(text)
    bound = bind_sql(statement, catalog.for_caller(caller), sender=caller)
    writes = (BoundInsert, BoundUpdate, BoundDelete, BoundSetVar)
    if isinstance(bound, writes) and not catalog.is_owner(caller):
        raise SqlError(dml_not_allowed(caller))
    if (
        isinstance(bound, (BoundInsert, BoundUpdate, BoundDelete))
        and bound.table.name in SYSTEM_TABLES
    ):
        raise SqlError(f"`{bound.table.name}` is a system table; only the server changes it")
    return [_execute(database, catalog, caller, connection_id, bound, started)]


def _execute(
    database: Database,
    catalog: DatabaseCatalog,
    caller: Identity,
    connection_id: ConnectionId | None,
    bound: BoundStatement,
    started: float,
) -> dict[str, Any]:
    typespace = database.schema.typespace
    if isinstance(bound, BoundSelect):
        budget = row_budget(database, catalog, caller)
        relations = catalog.relations  # views and visibility filters, as the caller sees them
        rows = bound.execute(lambda name: relations.source(name, caller).generic_rows(), budget)
        columns = [_column_json(c.name, c.type) for c in bound.columns]
        json_rows = [
            [
                value_to_untyped_json(c.type, v, typespace)
                for c, v in zip(bound.columns, row, strict=True)
            ]
            for row in rows
        ]
        return _result(columns, json_rows, started)
    if isinstance(bound, BoundSetVar):
        database.set_system_variable(bound.name, bound.value)
        return _result([], [], started)
    if isinstance(bound, BoundShowVar):
        value = database.system_variable(bound.name)
        return _result([_column_json(bound.name, U64)], [] if value is None else [[value]], started)
    try:
        with database.transaction(caller, connection_id) as tx:
            if isinstance(bound, BoundInsert):
                for row in bound.rows:
                    tx.insert(bound.table.name, row)
                return _result([], [], started, inserted=len(bound.rows))
            hosted = database.table(bound.table.name)
            matching = [
                (b, hosted.generic(b))
                for b in hosted.row_bytes()
                if bound.predicate(hosted.generic(b))
            ]
            if isinstance(bound, BoundDelete):
                for b, _ in matching:
                    tx.delete(hosted.name, b)
                return _result([], [], started, deleted=len(matching))
            for b, _ in matching:
                tx.delete(hosted.name, b)
            for _, row in matching:
                tx.insert(hosted.name, {**row, **dict(bound.assignments)})
            return _result([], [], started, updated=len(matching))
    except SqlError:
        raise
    except SpacetimeDBError as exc:  # unique violations, schedule limits, encoding errors
        raise SqlError(str(exc)) from exc
