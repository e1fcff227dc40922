"""The readable system tables (``st_table``, ``st_column``, ... ``st_column_accessor``).

The real server describes each database in public system tables: rows written when a module is
published (the module itself, tables, columns, indexes, constraints, sequences, visibility
filters, schedules, views and their columns, event tables, accessor names) plus ``st_client``
(connections) and ``st_var`` (``SET`` variables). The
local server derives the same rows, with the same column names, types and order, from its
catalog: they are read-only relations computed on demand (docs/guide-local-server.md lists what
differs, e.g. ids follow our catalog order).

Ids mirror the real numbering: system tables keep their fixed ids (``st_table`` is 1 ...
``st_column_accessor`` 20) and everything a module defines is numbered from 4097, just past the
range the real server reserves for its own tables, indexes, constraints and sequences.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.algebraic_type import AlgebraicType, ProductType
from spacetimedb_sdk.local_server.sql import (
    AllTables,
    ColumnInfo,
    SimpleCatalog,
    TableInfo,
    bind_query,
    parse_subscription,
)
from spacetimedb_sdk.local_server.st_client import ST_CLIENT
from spacetimedb_sdk.raw_module_def.enums import TableAccess
from spacetimedb_sdk.raw_module_def.meta import algebraic_type_codec
from spacetimedb_sdk.schema.model import TableSchema, ViewSchema
from spacetimedb_sdk.values import SumValue

if TYPE_CHECKING:
    from spacetimedb_sdk.local_server.host import Database

__all__ = [
    "FIRST_USER_ID",
    "MODULE_VERSION",
    "PYTHON_PROGRAM_KIND",
    "ST_VAR",
    "SYSTEM_TABLES",
    "SystemTable",
]

#: The first id of a module's tables, indexes, constraints, sequences, schedules and views.
FIRST_USER_ID: Final = 4097
ST_VAR: Final = "st_var"
#: ``st_module.program_kind`` of a Python module (the real server uses 0 for wasm, 1 for js).
PYTHON_PROGRAM_KIND: Final = 2
#: ``st_module.module_version``: the only version the real server writes.
MODULE_VERSION: Final = "0.0.1"

_COL_LIST: Final = at.array(at.U16)
_INDEX_ALGORITHM: Final = at.sum_of(
    [
        ("Unused", at.U128),
        ("BTree", at.product_of([("columns", _COL_LIST)])),
        ("Direct", at.product_of([("column", at.U16)])),
        ("Hash", at.product_of([("columns", _COL_LIST)])),
    ]
)
_CONSTRAINT_DATA: Final = at.sum_of(
    [("Unused", at.U128), ("Unique", at.product_of([("columns", _COL_LIST)]))]
)
_VAR_VALUE_VARIANTS: Final = (
    ("Bool", at.BOOL),
    ("I8", at.I8),
    ("U8", at.U8),
    ("I16", at.I16),
    ("U16", at.U16),
    ("I32", at.I32),
    ("U32", at.U32),
    ("I64", at.I64),
    ("U64", at.U64),
    ("I128", at.I128),
    ("U128", at.U128),
    ("F32", at.F32),
    ("F64", at.F64),
    ("String", at.STRING),
)
_VAR_VALUE: Final = at.sum_of(_VAR_VALUE_VARIANTS)
_U64_TAG: Final = [name for name, _ in _VAR_VALUE_VARIANTS].index("U64")
_I128_MAX: Final = (1 << 127) - 1

Row = dict[str, Any]


@dataclass(frozen=True)
class SystemTable:
    """One readable system table: its real id, row type and how its rows are derived."""

    name: str
    table_id: int
    columns: tuple[tuple[str, AlgebraicType], ...]
    rows: Callable[[Database], list[Row]]
    #: Leading columns of its indexes (what the subscription join rule checks).
    index_columns: tuple[tuple[str, ...], ...] = ()

    @property
    def row_type(self) -> ProductType:
        """The product type of a row."""
        return at.product_of(list(self.columns))

    @property
    def info(self) -> TableInfo:
        """The table as SQL binding sees it."""
        return TableInfo(
            name=self.name,
            columns=tuple(ColumnInfo(n, t) for n, t in self.columns),
            indexed_columns=frozenset(cols[0] for cols in self.index_columns),
            index_columns=self.index_columns,
        )


# -- ids ---------------------------------------------------------------------------------------
def _table_ids(db: Database) -> dict[str, int]:
    """Each user table's id, then each view's (its backing table), in catalog order."""
    names = [t.name for t in db.schema.tables] + [v.name for v in db.schema.views]
    return {name: FIRST_USER_ID + i for i, name in enumerate(names)}


def _type_bytes(db: Database, ty: AlgebraicType) -> bytes:
    return algebraic_type_codec().encode(db.schema.resolve(ty))


# -- rows --------------------------------------------------------------------------------------
def _st_table(db: Database) -> list[Row]:
    rows: list[Row] = [
        {
            "table_id": t.table_id,
            "table_name": t.name,
            "table_type": "system",
            "table_access": "public",
            "table_primary_key": _SYSTEM_PRIMARY_KEYS.get(t.name),
        }
        for t in SYSTEM_TABLES.values()
    ]
    ids = _table_ids(db)
    for table in db.schema.tables:
        rows.append(
            {
                "table_id": ids[table.name],
                "table_name": table.name,
                "table_type": "user",
                "table_access": "public" if table.table_access is TableAccess.PUBLIC else "private",
                "table_primary_key": None if table.primary_key is None else [table.primary_key],
            }
        )
    return rows


def _st_column(db: Database) -> list[Row]:
    codec = algebraic_type_codec()
    rows: list[Row] = [
        {"table_id": t.table_id, "col_pos": i, "col_name": n, "col_type": codec.encode(ty)}
        for t in SYSTEM_TABLES.values()
        for i, (n, ty) in enumerate(t.columns)
    ]
    ids = _table_ids(db)
    for table in db.schema.tables:
        for col in table.columns:
            rows.append(
                {
                    "table_id": ids[table.name],
                    "col_pos": col.position,
                    "col_name": col.name,
                    "col_type": _type_bytes(db, col.algebraic_type),
                }
            )
    return rows


def _st_index(db: Database) -> list[Row]:
    ids = _table_ids(db)
    rows: list[Row] = []
    for table in db.schema.tables:
        for index in table.indexes:
            cols = list(index.columns)
            if index.algorithm == "direct":
                algorithm = SumValue(2, "Direct", {"column": cols[0]})
            elif index.algorithm == "hash":
                algorithm = SumValue(3, "Hash", {"columns": cols})
            else:
                algorithm = SumValue(1, "BTree", {"columns": cols})
            rows.append(
                {
                    "index_id": FIRST_USER_ID + len(rows),
                    "table_id": ids[table.name],
                    "index_name": index.name,
                    "index_algorithm": algorithm,
                }
            )
    return rows


def _st_constraint(db: Database) -> list[Row]:
    ids = _table_ids(db)
    rows: list[Row] = []
    for table in db.schema.tables:
        for constraint in table.constraints:
            rows.append(
                {
                    "constraint_id": FIRST_USER_ID + len(rows),
                    "constraint_name": constraint.name,
                    "table_id": ids[table.name],
                    "constraint_data": SumValue(
                        1, "Unique", {"columns": sorted(constraint.columns)}
                    ),
                }
            )
    return rows


def _st_sequence(db: Database) -> list[Row]:
    ids = _table_ids(db)
    rows: list[Row] = []
    for table in db.schema.tables:
        for seq in table.sequences:
            min_value = 1 if seq.min_value is None else seq.min_value
            start = min_value if seq.start is None else seq.start
            rows.append(
                {
                    "sequence_id": FIRST_USER_ID + len(rows),
                    "sequence_name": seq.name,
                    "table_id": ids[table.name],
                    "col_pos": seq.column,
                    "increment": seq.increment,
                    "start": start,
                    "min_value": min_value,
                    "max_value": _I128_MAX if seq.max_value is None else seq.max_value,
                    "allocated": start,
                }
            )
    return rows


def _st_row_level_security(db: Database) -> list[Row]:
    # Each filter belongs to the table it selects from (bound as Relations binds it; the module
    # was refused at publish time if a filter does not bind).
    ids = _table_ids(db)
    catalog = SimpleCatalog(h.sql_info() for h in db.tables.values())
    rows: list[Row] = []
    for sql in db.model.row_level_security:
        parsed = parse_subscription(sql)
        if isinstance(parsed, AllTables):
            continue
        table = bind_query(parsed, catalog, sender=db.owner_identity).table
        rows.append({"table_id": ids[table], "sql": sql})
    return rows


def _st_scheduled(db: Database) -> list[Row]:
    ids = _table_ids(db)
    rows: list[Row] = []
    for table in db.schema.tables:
        if table.schedule is None:
            continue
        rows.append(
            {
                "schedule_id": FIRST_USER_ID + len(rows),
                "table_id": ids[table.name],
                "reducer_name": table.schedule.function_name,
                "schedule_name": table.schedule.name,
                "at_column": table.schedule.at_column,
            }
        )
    return rows


def _st_var(db: Database) -> list[Row]:
    limit = db.system_variable("row_limit")
    if limit is None:
        return []
    return [{"name": "row_limit", "value": SumValue(_U64_TAG, "U64", limit)}]


def _st_view(db: Database) -> list[Row]:
    ids = _table_ids(db)
    return [
        {
            "view_id": FIRST_USER_ID + i,
            "view_name": view.name,
            "table_id": ids[view.name],
            "is_public": view.is_public,
            "is_anonymous": view.is_anonymous,
        }
        for i, view in enumerate(db.schema.views)
    ]


def _st_event_table(db: Database) -> list[Row]:
    ids = _table_ids(db)
    return [{"table_id": ids[t.name]} for t in db.schema.tables if t.is_event]


def _st_module(db: Database) -> list[Row]:
    source = _module_source(db)
    return [
        {
            "database_identity": db.identity.value,
            "owner_identity": db.owner_identity.value,
            "program_kind": PYTHON_PROGRAM_KIND,
            # The real hash is Keccak-256 of the wasm/js bytes, read as a little-endian u256.
            "program_hash": int.from_bytes(hashlib.sha3_256(source).digest(), "little"),
            "program_bytes": source,
            "module_version": MODULE_VERSION,
        }
    ]


def _module_source(db: Database) -> bytes:
    """The module's source file as bytes (empty for a module built in memory)."""
    file = getattr(db.py_module, "__file__", None)
    if not file:
        return b""
    try:
        return Path(file).read_bytes()
    except OSError:
        return b""


def _view_ids(db: Database) -> dict[str, int]:
    return {view.name: FIRST_USER_ID + i for i, view in enumerate(db.schema.views)}


def _st_view_param(db: Database) -> list[Row]:
    ids = _view_ids(db)
    return [
        {
            "view_id": ids[view.name],
            "param_pos": param.position,
            "param_name": param.name,
            "param_type": _type_bytes(db, param.algebraic_type),
        }
        for view in db.schema.views
        for param in view.params
    ]


def _st_view_column(db: Database) -> list[Row]:
    ids = _view_ids(db)
    return [
        {
            "view_id": ids[view.name],
            "col_pos": col.position,
            "col_name": col.name,
            "col_type": _type_bytes(db, col.algebraic_type),
        }
        for view in db.schema.views
        for col in view.columns
    ]


def _no_rows(db: Database) -> list[Row]:
    # st_view_sub and st_view_arg: the real server keeps view subscriptions and arguments in
    # memory and leaves these (legacy) tables empty.
    return []


def _st_table_accessor(db: Database) -> list[Row]:
    # The real server records every table's and view's accessor (source) name.
    named: list[TableSchema | ViewSchema] = [*db.schema.tables, *db.schema.views]
    return [{"table_name": t.name, "accessor_name": t.accessor_name} for t in named]


def _st_index_accessor(db: Database) -> list[Row]:
    return [
        {"index_name": index.name, "accessor_name": index.source_name}
        for table in db.schema.tables
        for index in table.indexes
    ]


def _st_column_accessor(db: Database) -> list[Row]:
    named: list[TableSchema | ViewSchema] = [*db.schema.tables, *db.schema.views]
    return [
        {"table_name": t.name, "col_name": col.name, "accessor_name": col.accessor_name}
        for t in named
        for col in t.columns
    ]


def _st_client(db: Database) -> list[Row]:
    # The real row stores the raw numbers (u256, u128), not the Identity/ConnectionId products.
    return [{"identity": i.value, "connection_id": c.value} for i, c in db.connected_clients()]


_SYSTEM_PRIMARY_KEYS: Final[dict[str, list[int]]] = {
    "st_table": [0],
    "st_index": [0],
    "st_sequence": [0],
    "st_constraint": [0],
    "st_row_level_security": [1],
    "st_var": [0],
    "st_scheduled": [0],
    "st_view": [0],
    "st_event_table": [0],
    "st_view_arg": [0],
}

SYSTEM_TABLES: Final[dict[str, SystemTable]] = {
    t.name: t
    for t in (
        SystemTable(
            "st_table",
            1,
            (
                ("table_id", at.U32),
                ("table_name", at.STRING),
                ("table_type", at.STRING),
                ("table_access", at.STRING),
                ("table_primary_key", at.option(_COL_LIST)),
            ),
            _st_table,
            (("table_id",), ("table_name",)),
        ),
        SystemTable(
            "st_column",
            2,
            (
                ("table_id", at.U32),
                ("col_pos", at.U16),
                ("col_name", at.STRING),
                ("col_type", at.array(at.U8)),
            ),
            _st_column,
            (("table_id", "col_pos"),),
        ),
        SystemTable(
            "st_sequence",
            3,
            (
                ("sequence_id", at.U32),
                ("sequence_name", at.STRING),
                ("table_id", at.U32),
                ("col_pos", at.U16),
                ("increment", at.I128),
                ("start", at.I128),
                ("min_value", at.I128),
                ("max_value", at.I128),
                ("allocated", at.I128),
            ),
            _st_sequence,
            (("sequence_id",),),
        ),
        SystemTable(
            "st_index",
            4,
            (
                ("index_id", at.U32),
                ("table_id", at.U32),
                ("index_name", at.STRING),
                ("index_algorithm", _INDEX_ALGORITHM),
            ),
            _st_index,
            (("index_id",),),
        ),
        SystemTable(
            "st_constraint",
            5,
            (
                ("constraint_id", at.U32),
                ("constraint_name", at.STRING),
                ("table_id", at.U32),
                ("constraint_data", _CONSTRAINT_DATA),
            ),
            _st_constraint,
            (("constraint_id",),),
        ),
        SystemTable(
            "st_module",
            6,
            (
                ("database_identity", at.U256),
                ("owner_identity", at.U256),
                ("program_kind", at.U8),
                ("program_hash", at.U256),
                ("program_bytes", at.array(at.U8)),
                ("module_version", at.STRING),
            ),
            _st_module,
        ),
        SystemTable(
            ST_CLIENT,
            7,
            (("identity", at.U256), ("connection_id", at.U128)),
            _st_client,
            (("identity", "connection_id"),),
        ),
        SystemTable(ST_VAR, 8, (("name", at.STRING), ("value", _VAR_VALUE)), _st_var, (("name",),)),
        SystemTable(
            "st_scheduled",
            9,
            (
                ("schedule_id", at.U32),
                ("table_id", at.U32),
                ("reducer_name", at.STRING),
                ("schedule_name", at.STRING),
                ("at_column", at.U16),
            ),
            _st_scheduled,
            (("table_id",), ("schedule_id",)),
        ),
        SystemTable(
            "st_row_level_security",
            10,
            (("table_id", at.U32), ("sql", at.STRING)),
            _st_row_level_security,
            (("table_id",), ("sql",)),
        ),
        SystemTable(
            "st_view",
            12,
            (
                ("view_id", at.U32),
                ("view_name", at.STRING),
                ("table_id", at.option(at.U32)),
                ("is_public", at.BOOL),
                ("is_anonymous", at.BOOL),
            ),
            _st_view,
            (("view_id",), ("view_name",)),
        ),
        SystemTable(
            "st_view_param",
            13,
            (
                ("view_id", at.U32),
                ("param_pos", at.U16),
                ("param_name", at.STRING),
                ("param_type", at.array(at.U8)),
            ),
            _st_view_param,
            (("view_id", "param_pos"),),
        ),
        SystemTable(
            "st_view_column",
            14,
            (
                ("view_id", at.U32),
                ("col_pos", at.U16),
                ("col_name", at.STRING),
                ("col_type", at.array(at.U8)),
            ),
            _st_view_column,
            (("view_id", "col_pos"),),
        ),
        SystemTable(
            "st_view_sub",
            15,
            (
                ("view_id", at.U32),
                ("arg_id", at.U64),
                ("identity", at.U256),
                ("num_subscribers", at.U64),
                ("has_subscribers", at.BOOL),
                ("last_called", at.I64),
            ),
            _no_rows,
            (("identity",), ("has_subscribers",), ("view_id", "arg_id", "identity")),
        ),
        SystemTable(
            "st_view_arg",
            16,
            (("id", at.U64), ("bytes", at.array(at.U8))),
            _no_rows,
            (("id",), ("bytes",)),
        ),
        SystemTable(
            "st_event_table", 17, (("table_id", at.U32),), _st_event_table, (("table_id",),)
        ),
        SystemTable(
            "st_table_accessor",
            18,
            (("table_name", at.STRING), ("accessor_name", at.STRING)),
            _st_table_accessor,
            (("table_name",), ("accessor_name",)),
        ),
        SystemTable(
            "st_index_accessor",
            19,
            (("index_name", at.STRING), ("accessor_name", at.STRING)),
            _st_index_accessor,
            (("index_name",), ("accessor_name",)),
        ),
        SystemTable(
            "st_column_accessor",
            20,
            (("table_name", at.STRING), ("col_name", at.STRING), ("accessor_name", at.STRING)),
            _st_column_accessor,
            (("table_name", "col_name"), ("table_name", "accessor_name")),
        ),
    )
}
