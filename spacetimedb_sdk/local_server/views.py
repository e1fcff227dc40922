"""Derived relations of one database: materialised views and row-level-security filtered tables.

A *relation* is what a query names: a table, a view, or (for a client other than the owner) a
table narrowed by the module's client visibility filters. Views and filtered tables are
*materialised* per viewer, as the real server keeps them in hidden backing tables:

* an anonymous view has one instance shared by every client;
* a per-client view (``ViewContext``) has one instance per subscribing identity;
* a table with visibility filters has one filtered instance per non-owner identity: the rows
  any of its filters returns for that identity (the owner sees the table itself).

An instance is kept while some query set reads it. Just before a transaction commits (a
pre-commit hook of the host, so the view sees the transaction's writes) every instance whose
read set the transaction touched (the tables a view function read, or the tables of a query
view or filter) is re-evaluated; a view that raises refuses the transaction, as on the real
server. :meth:`Relations.refresh` then hands the rows gained and lost to the subscriptions, so
views and filtered tables get ordinary incremental updates, named by the view. One-off queries
and ``/sql`` read kept instances, or compute fresh ones.

View functions get read-only table handles; outside a commit they run in a transaction that is
always rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from spacetimedb_sdk.algebraic_type import RefType
from spacetimedb_sdk.bsatn import BsatnCodec, compile_codec
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.host import CommitRefusedError
from spacetimedb_sdk.local_server.hosted_table import HostedTable
from spacetimedb_sdk.local_server.sql import (
    AllTables,
    BoundQuery,
    ColumnInfo,
    RowFilterShape,
    SimpleCatalog,
    SqlError,
    TableInfo,
    bind_query,
    bind_subscription,
    parse_one_off_query,
    parse_subscription,
    row_filter_shape,
)
from spacetimedb_sdk.local_server.sql import Query as SqlQuery
from spacetimedb_sdk.local_server.st_client import ST_CLIENT
from spacetimedb_sdk.local_server.system_tables import ST_VAR, SYSTEM_TABLES
from spacetimedb_sdk.local_server.tx_delta import TableDelta, TxDelta
from spacetimedb_sdk.module.context import AnonymousViewContext, ViewContext
from spacetimedb_sdk.module.query import Query as BuilderQuery
from spacetimedb_sdk.module.query import QueryBuilder, TableNames

if TYPE_CHECKING:
    from spacetimedb_sdk.local_server.host import Database
    from spacetimedb_sdk.module.describe_views import ViewModel
    from spacetimedb_sdk.schema.model import ViewSchema

__all__ = ["InstanceKey", "Relation", "Relations", "ViewError"]

log = logging.getLogger("spacetimedb_sdk.local_server")

#: A materialised instance: relation name and viewer (None: shared by everyone).
InstanceKey: TypeAlias = tuple[str, Identity | None]


_Instances: TypeAlias = dict[InstanceKey, "Relation"]
_Changes: TypeAlias = dict[InstanceKey, TableDelta]


class ViewError(SqlError):
    """A view function failed or returned something that is not its declared shape."""


@dataclass(eq=False)
class Relation:
    """The rows of one view or filtered table for one viewer (the interface of ``HostedTable``
    that queries use: ``row_bytes``, ``generic``, ``find``, ``generic_codec``)."""

    name: str
    viewer: Identity | None
    generic_codec: BsatnCodec[Any]
    rows: dict[bytes, Any] = field(default_factory=dict)
    #: Canonical names of the tables this instance was computed from.
    reads: frozenset[str] = frozenset()

    def row_bytes(self) -> list[bytes]:
        """Every row's BSATN bytes."""
        return list(self.rows)

    def generic(self, row: bytes) -> Any:
        """The generic (dict) form of a row (also of a row no longer present)."""
        value = self.rows.get(row)
        return value if value is not None else self.generic_codec.decode(row)

    def generic_rows(self) -> Iterator[Any]:
        """Every row in generic form."""
        return iter(list(self.rows.values()))

    def find(self, column: str, value: Any) -> list[tuple[bytes, Any]]:
        """Rows whose ``column`` (canonical name) equals ``value`` (generic form); a scan, as
        instances are small and rebuilt whole."""
        return [(b, g) for b, g in self.rows.items() if g[column] == value]


@dataclass(frozen=True)
class _Filter:
    """One client visibility filter, bound for the table it narrows."""

    sql: str
    table: str
    query: SqlQuery


class _ReadOnly:
    """A table or index handle without its writing methods."""

    _WRITES = frozenset(("insert", "delete", "update", "try_insert"))

    def __init__(self, handle: Any, what: str) -> None:
        self._handle = handle
        self._what = what

    def __getattr__(self, name: str) -> Any:
        if name in self._WRITES:
            raise ViewError(f"views are read-only: {self._what}.{name}() is not allowed")
        attr = getattr(self._handle, name)
        if callable(attr) or name.startswith("_"):
            return attr
        return _ReadOnly(attr, f"{self._what}.{name}")

    def __iter__(self) -> Iterator[Any]:
        return iter(self._handle)

    def __len__(self) -> int:
        return len(self._handle)


class _TrackingDb:
    """``ctx.db`` of a view: read-only handles; remembers which tables were read."""

    def __init__(self, db: Any, canonical: dict[str, str]) -> None:
        self._db = db
        self._canonical = canonical
        self.reads: set[str] = set()

    def __getattr__(self, accessor: str) -> Any:
        if accessor.startswith("_"):
            raise AttributeError(accessor)
        handle = getattr(self._db, accessor)
        self.reads.add(self._canonical.get(accessor, accessor))
        return _ReadOnly(handle, f"ctx.db.{accessor}")

    def __getitem__(self, accessor: str) -> Any:
        return self.__getattr__(accessor)


class Relations:
    """Views and visibility filters of one database, and their materialised instances."""

    def __init__(self, database: Database) -> None:
        self._db = database
        schema = database.schema
        self._owner = database.owner_identity
        self._views: dict[str, ViewSchema] = {v.name: v for v in schema.views}
        models = {m.source_name: m for m in database.model.views}
        self._models: dict[str, ViewModel] = {
            v.name: models[v.accessor_name] for v in schema.views if v.accessor_name in models
        }
        self._accessor_to_table = {t.accessor_name: t.name for t in schema.tables}
        self._builder_tables = {
            t.accessor_name: TableNames(t.name, {c.accessor_name: c.name for c in t.columns})
            for t in schema.tables
        }
        self._generic_codecs = {
            v.name: compile_codec(RefType(v.product_type_ref), schema.typespace)
            for v in schema.views
        }
        for system in SYSTEM_TABLES.values():
            self._generic_codecs[system.name] = compile_codec(system.row_type)
        self._table_infos = {name: h.sql_info() for name, h in database.tables.items()}
        self._module_catalog = SimpleCatalog(self._table_infos.values())
        self._filters: dict[str, list[_Filter]] = {}
        for sql in database.model.row_level_security:
            # Checked now, as the real server checks filters when a module is published.
            try:
                parsed = parse_subscription(sql)
                if isinstance(parsed, AllTables):
                    raise SqlError("a filter must name one table")
                bound = bind_query(parsed, self._module_catalog, sender=self._owner)
            except SqlError as exc:
                raise SqlError(f"client visibility filter `{sql}`: {exc}") from exc
            self._filters.setdefault(bound.table, []).append(_Filter(sql, bound.table, parsed))
        self._instances: _Instances = {}
        # What the pre-commit refresh computed for the committing transaction (its delta, the
        # new instances, their changes); :meth:`refresh` takes it once the commit happened.
        self._pending: tuple[TxDelta, _Instances, _Changes] | None = None
        database.add_pre_commit_hook(self._before_commit)

    # -- what names mean ---------------------------------------------------------------------------
    def view_infos(self) -> list[tuple[TableInfo, bool]]:
        """Each view as a SQL table description, with its ``is_public`` flag."""
        out = []
        for v in self._views.values():
            columns = tuple(
                ColumnInfo(
                    c.name, c.algebraic_type, c.accessor_name if c.accessor_name != c.name else None
                )
                for c in v.columns
            )
            pk = () if v.primary_key is None else ((v.columns[v.primary_key].name,),)
            info = TableInfo(
                name=v.name,
                columns=columns,
                accessor=v.accessor_name if v.accessor_name != v.name else None,
                is_view=True,
                indexed_columns=frozenset(cols[0] for cols in pk),
                index_columns=pk,
                typespace=self._db.schema.typespace,
            )
            out.append((info, v.is_public))
        return out

    def is_view(self, name: str) -> bool:
        """True when ``name`` (canonical) is a view."""
        return name in self._views

    def is_event(self, name: str) -> bool:
        """True when ``name`` is an event table."""
        if name in self._views or name in SYSTEM_TABLES:
            return False
        return bool(self._db.table(name).schema.is_event)

    def instance_key(self, name: str, caller: Identity) -> InstanceKey | None:
        """Which instance ``caller`` reads for ``name``; None when it reads the table itself."""
        view = self._views.get(name)
        if view is not None:
            return (name, None if view.is_anonymous else caller)
        if name in SYSTEM_TABLES:
            return (name, None)
        if name in self._filters and caller != self._owner:
            return (name, caller)
        return None

    def filter_shapes(self, table: str) -> tuple[RowFilterShape, ...]:
        """How each visibility filter of ``table`` looks to the join planner."""
        return tuple(
            row_filter_shape(bind_query(f.query, self._module_catalog, sender=self._owner))
            for f in self._filters.get(table, ())
        )

    def check_filter_joins(self, table: str, caller: Identity) -> None:
        """Apply the subscription join rule to ``table``'s filters that are joins: the real
        server splices them into a single-table subscription, which then must satisfy it."""
        for f in self._filters.get(table, ()):
            if f.query.joins:
                bind_subscription(f.query, self._module_catalog, sender=caller)

    def filter_tables(self, table: str) -> int:
        """The largest number of tables one of ``table``'s filters reads."""
        return max((1 + len(f.query.joins) for f in self._filters.get(table, ())), default=1)

    # -- reading ----------------------------------------------------------------------------------
    def source(self, name: str, caller: Identity) -> HostedTable | Relation:
        """What ``caller`` reads under ``name``: the table itself or an instance (materialised
        now when no query set keeps one)."""
        key = self.instance_key(name, caller)
        if key is None:
            return self._db.table(name)
        return self.get(key)

    def ensure(self, keys: Iterable[InstanceKey]) -> None:
        """Materialise the instances ``keys`` (kept until :meth:`retain` drops them)."""
        for key in keys:
            if key not in self._instances:
                self._instances[key] = self._compute(key)

    def retain(self, needed: set[InstanceKey]) -> None:
        """Drop every instance no query set reads any more."""
        for key in [k for k in self._instances if k not in needed]:
            del self._instances[key]

    def instance(self, key: InstanceKey) -> Relation | None:
        """A kept instance."""
        return self._instances.get(key)

    def get(self, key: InstanceKey) -> Relation:
        """The kept instance ``key``, or a fresh computation of it."""
        found = self._instances.get(key)
        return found if found is not None else self._compute(key)

    def codec(self, name: str) -> BsatnCodec[Any]:
        """The generic row codec of a view or table."""
        codec = self._generic_codecs.get(name)
        return codec if codec is not None else self._db.table(name).generic_codec

    def generic(self, name: str, row: bytes) -> Any:
        """The generic form of a row of view or table ``name``."""
        codec = self._generic_codecs.get(name)
        return codec.decode(row) if codec is not None else self._db.table(name).generic(row)

    # -- transactions ------------------------------------------------------------------------------
    def _before_commit(self, delta: TxDelta) -> None:
        """Pre-commit hook: refresh the views inside the committing transaction, as the real
        server does; a view that fails refuses the whole transaction (its reducer fails)."""
        self._pending = None
        if not self._instances:
            return
        updated, changes, failures = self._refreshed(delta)
        if failures:
            raise CommitRefusedError(next(iter(failures.values())))
        self._pending = (delta, updated, changes)

    def refresh(
        self, delta: TxDelta
    ) -> tuple[dict[InstanceKey, TableDelta], dict[InstanceKey, str]]:
        """Bring every kept instance up to date after the commit of ``delta``.

        Returns the rows each changed instance gained and lost, and the error text of each
        instance that could not be computed (it is dropped; its readers must be told). After
        a commit through the host, the pre-commit refresh has already done the work.
        """
        pending, self._pending = self._pending, None
        failures: dict[InstanceKey, str] = {}
        if pending is not None and pending[0] is delta:
            _, updated, changes = pending
        else:
            updated, changes, failures = self._refreshed(delta)
        for key in failures:
            self._instances.pop(key, None)
        for key, new in updated.items():
            if key in self._instances:  # not dropped meanwhile
                self._instances[key] = new
        return changes, failures

    def _refreshed(self, delta: TxDelta) -> tuple[_Instances, _Changes, dict[InstanceKey, str]]:
        """New versions of the instances ``delta`` touches, their changes, and failures."""
        updated: _Instances = {}
        changes: _Changes = {}
        failures: dict[InstanceKey, str] = {}
        touched = {*delta.tables, *delta.system}
        for key, old in list(self._instances.items()):
            if touched.isdisjoint(old.reads):
                continue
            try:
                new = self._recompute(key, old, delta)
            except SqlError as exc:
                failures[key] = str(exc)
                continue
            updated[key] = new
            gained = tuple((b, None) for b in new.rows if b not in old.rows)
            lost = tuple((b, None) for b in old.rows if b not in new.rows)
            if gained or lost:
                changes[key] = TableDelta(key[0], gained, lost)
        return updated, changes, failures

    # -- computing --------------------------------------------------------------------------------
    def _compute(self, key: InstanceKey) -> Relation:
        name, viewer = key
        if name in self._views:
            return self._compute_view(self._views[name], viewer)
        system = SYSTEM_TABLES.get(name)
        if system is not None:
            codec = self._generic_codecs[name]
            rows = {codec.encode(generic): generic for generic in system.rows(self._db)}
            # st_client changes with connections and st_var with SET (announced as a commit
            # touching it); the rest change only on publish, which builds a new Relations.
            reads = frozenset({name}) if name in (ST_CLIENT, ST_VAR) else frozenset()
            return Relation(name, None, codec, rows, reads)
        assert viewer is not None
        return self._compute_filtered(name, viewer, ())

    def _recompute(self, key: InstanceKey, old: Relation, delta: TxDelta) -> Relation:
        """``old`` brought up to date; single-table filters only look at the changed rows."""
        name, viewer = key
        filters = self._filters.get(name)
        if name in self._views or viewer is None or not filters or old.reads != {name}:
            return self._compute(key)
        change = delta.table(name)
        if change is None:
            return old
        hosted = self._db.table(name)
        keeps = [
            bind_query(f.query, self._module_catalog, sender=viewer).row_predicate()
            for f in filters
        ]
        rows = dict(old.rows)
        for b, _ in change.deletes:
            rows.pop(b, None)
        for b, _ in change.inserts:
            generic = hosted.generic(b)
            if any(keep(generic) for keep in keeps):
                rows[b] = generic
        return Relation(name, viewer, old.generic_codec, rows, old.reads)

    def _compute_view(self, view: ViewSchema, viewer: Identity | None) -> Relation:
        model = self._models.get(view.name)
        codec = self._generic_codecs[view.name]
        if model is None:
            raise ViewError(f"view `{view.name}` has no function in this module")
        tracking = _TrackingDb(self._db.db_view, self._accessor_to_table)
        builder = QueryBuilder(self._builder_tables)
        ctx: AnonymousViewContext
        if view.is_anonymous:
            ctx = AnonymousViewContext(tracking, builder)
        else:
            ctx = ViewContext(viewer if viewer is not None else self._owner, tracking, builder)

        def call(_db: Any) -> Any:
            return model.fn(ctx)

        try:
            result = self._db.read_only(call)
        except ViewError as exc:
            raise ViewError(f"Error materializing view `{view.name}`: {exc}") from exc
        except BaseException as exc:  # module code never takes the server down
            log.warning("view %s failed", view.name, exc_info=True)
            raise ViewError(
                f"Error materializing view `{view.name}`: {type(exc).__name__}: {exc}"
            ) from exc
        if view.return_shape == "query":
            if not isinstance(result, BuilderQuery):
                raise ViewError(
                    f"Error materializing view `{view.name}`: it did not return a Query"
                )
            return self._query_view(view, viewer, result.to_sql(), codec)
        encode = self._row_encoder(model)
        rows: dict[bytes, Any] = {}
        try:
            items: list[Any]
            if view.return_shape == "option":
                items = [] if result is None else [result]
            else:
                items = list(result or ())
            for item in items:
                b = encode(item)
                rows.setdefault(b, codec.decode(b))
        except Exception as exc:
            raise ViewError(
                f"Error materializing view `{view.name}`: a returned row does not fit "
                f"{model.row_class.__qualname__}: {exc}"
            ) from exc
        return Relation(view.name, viewer, codec, rows, frozenset(tracking.reads))

    def _row_encoder(self, model: ViewModel) -> Callable[[Any], bytes]:
        m = self._db.model
        return compile_codec(RefType(model.row_type_ref), m.typespace, m.bindings).encode

    def _query_view(
        self, view: ViewSchema, viewer: Identity | None, sql: str, codec: BsatnCodec[Any]
    ) -> Relation:
        try:
            # Compiled as a subscription (its join rule included) and read without visibility
            # filters, as the real server materialises query views.
            bound = bind_subscription(parse_one_off_query(sql), self._module_catalog)
        except SqlError as exc:
            raise ViewError(f"Error materializing view `{view.name}`: {exc}") from exc
        rows = self._evaluate(bound)
        return Relation(
            view.name, viewer, codec, {b: codec.decode(b) for b in rows}, frozenset(bound.tables)
        )

    def _compute_filtered(
        self, table: str, viewer: Identity, resolving: tuple[str, ...]
    ) -> Relation:
        """The rows of ``table`` any of its filters returns for ``viewer``. Other tables a
        filter reads are narrowed by their own filters in turn (the filtered table itself is
        read whole), as the real server splices filters into each other."""
        hosted = self._db.table(table)
        rows: dict[bytes, Any] = {}
        reads: set[str] = set()
        for f in self._filters[table]:
            bound = bind_query(f.query, self._module_catalog, sender=viewer)
            sources: dict[str, HostedTable | Relation] = {}
            for name in bound.tables:
                if name == table or name not in self._filters:
                    sources[name] = self._db.table(name)
                    reads.add(name)
                    continue
                if name in resolving:
                    raise SqlError(
                        f"Discovered cyclic dependency when resolving RLS rules for table `{name}`"
                    )
                inner = self._compute_filtered(name, viewer, (*resolving, table))
                reads.update(inner.reads)
                sources[name] = inner
            for b in self._evaluate(bound, sources):
                rows.setdefault(b, hosted.generic(b))
        return Relation(table, viewer, hosted.generic_codec, rows, frozenset(reads))

    def _evaluate(
        self, bound: BoundQuery, sources: dict[str, HostedTable | Relation] | None = None
    ) -> list[bytes]:
        """Bytes of the rows ``bound`` returns (tables as they are unless ``sources`` says)."""
        seen: dict[int, bytes] = {}
        keep: list[Any] = []

        def scan(name: str) -> list[Any]:
            source = (sources or {}).get(name) or self._db.table(name)
            out = []
            for b in source.row_bytes():
                g = source.generic(b)
                seen[id(g)] = b
                keep.append(g)
                out.append(g)
            return out

        return [seen[id(r)] for r in bound.evaluate(scan)]
