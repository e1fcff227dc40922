"""Subscriptions of one database: query sets per connection, initial rows, incremental updates.

Model (docs/protocol.md#subscription-semantics): each connection owns query sets, each holding one or more
queries. Every (query set, query) pair contributes its matching rows independently, so a row
matching *k* pairs is delivered *k* times, in SubscribeApplied and in every later delta;
identical queries inside one set are deduplicated, across sets they are not.

After each commit, :meth:`SubscriptionManager.transaction_updates` turns the transaction's
:class:`~spacetimedb_sdk.local_server.tx_delta.TxDelta` into per-connection
``QuerySetUpdate``s without re-running whole queries:

* a single-table query filters the delta's inserted and deleted rows with its predicate;
* a two-table (join) query only looks at rows sharing a join key with a changed row: the pairs
  gained are those with an inserted row on either side (found through the other table's
  current rows), the pairs lost are those with a deleted row (against the table as it was
  before the transaction, i.e. current rows minus inserts plus deletes). A self-join falls back
  to evaluating before and after in full and taking the bag difference;
* event-table rows are only ever inserts and travel as ``EventTableRows``.

Views, tables narrowed by visibility filters and system tables (``st_*``) are read through
:mod:`~spacetimedb_sdk.local_server.views`: a query names the instance its caller sees, and that
instance's rows gained and lost in the transaction play the part of the table's delta.

Each distinct query (its AST, plus the caller when its result depends on who asks) is evaluated
once per transaction and its row lists are shared by every subscriber. Errors name the query as
the real server does (``…, executing: `<sql>```). Nothing here does I/O.

A database's ``row_limit`` (see :mod:`~spacetimedb_sdk.local_server.row_limit`) bounds the
rows a non-owner's new query set or one-off query may scan, as on the real server; evaluation
stops as soon as it is exceeded. Updates of applied sets are not limited.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias

from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.catalog import DatabaseCatalog
from spacetimedb_sdk.local_server.host import Database
from spacetimedb_sdk.local_server.hosted_table import HostedTable
from spacetimedb_sdk.local_server.row_limit import row_budget
from spacetimedb_sdk.local_server.sql import (
    AllTables,
    BoundCompare,
    BoundExpr,
    BoundLogic,
    BoundQuery,
    FieldRef,
    Query,
    RowBudget,
    SimpleCatalog,
    SqlError,
    bind_query,
    bind_subscription,
    parse_one_off_query,
    parse_subscription,
    queries_for_all_tables,
)
from spacetimedb_sdk.local_server.tx_delta import TableDelta, TxDelta
from spacetimedb_sdk.local_server.views import InstanceKey, Relation, Relations
from spacetimedb_sdk.messages import (
    EventTableRows,
    OneOffQueryMsg,
    OneOffQueryResultMsg,
    PersistentTableRows,
    QueryRows,
    QuerySetId,
    QuerySetUpdate,
    SingleTableRows,
    SubscribeAppliedMsg,
    SubscribeMsg,
    SubscriptionErrorMsg,
    TableUpdate,
    TableUpdateRows,
    UnsubscribeAppliedMsg,
    UnsubscribeFlags,
    UnsubscribeMsg,
)
from spacetimedb_sdk.row_list import BsatnRowList
from spacetimedb_sdk.values import Err, Ok

__all__ = [
    "ClientKey",
    "QuerySet",
    "QuerySetInUseError",
    "SubscribedQuery",
    "SubscriptionManager",
    "TransactionUpdates",
]

#: A query's result identity: its AST, plus the caller when its result depends on who asks
#: (``:sender``, a per-client view, a table narrowed by visibility filters).
QueryKey: TypeAlias = tuple[Query, Identity | None]
#: Row bytes gained and lost by one query in one transaction.
RowDelta: TypeAlias = tuple[list[bytes], list[bytes]]


def _with_sql(error: object, sql: str) -> str:
    """An error about one query, worded as the real server words it."""
    return f"{error}, executing: `{sql}`"


def _not_found(key: ClientKey, identity: Identity, set_id: int) -> str:
    """The real server's answer to unsubscribing an unknown set (it prints its Rust ids)."""
    client: str
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], ConnectionId):
        client = f"(Identity({identity.to_hex()}), ConnectionId({key[1].to_hex()}))"
    else:
        client = f"Identity({identity.to_hex()})"
    return f"Subscription not found: ({client}, QuerySetId {{ id: {set_id} }})"


class _QueryFailedError(Exception):
    """A subscribed query could not be brought up to date (``text`` is for the client)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class QuerySetInUseError(SpacetimeDBError):
    """A Subscribe reused the id of an active query set; the connection must be closed (1011)."""


@dataclass(frozen=True)
class _JoinPlan:
    """How a two-table query links its returned side to its looked-up side (``r.x = l.y``)."""

    returned_table: str
    returned_column: str
    lookup_table: str
    lookup_column: str


@dataclass(frozen=True, eq=False)
class SubscribedQuery:
    """One bound query of a query set."""

    key: QueryKey
    bound: BoundQuery
    #: Canonical name of the table whose rows the query returns.
    table: str
    is_event: bool
    #: None for single-table queries.
    join: _JoinPlan | None
    #: Per relation name read, the view / filtered-table instance read (None: the table itself).
    sources: tuple[tuple[str, InstanceKey | None], ...] = ()
    #: The query's text, as error messages quote it.
    sql: str = ""

    def instance_keys(self) -> list[InstanceKey]:
        """The materialised instances this query reads."""
        return [key for _, key in self.sources if key is not None]

    @cached_property
    def source_map(self) -> dict[str, InstanceKey | None]:
        """``sources`` as a mapping (looked up on every transaction)."""
        return dict(self.sources)


@dataclass(eq=False)
class QuerySet:
    """An applied query set of one connection."""

    id: int
    queries: tuple[SubscribedQuery, ...]


#: Names one live connection. The network layer uses ``(identity, connection id)``, as the real
#: server does, so two clients that reuse one connection id never share a session.
ClientKey = Hashable


@dataclass(eq=False)
class _Client:
    identity: Identity
    sets: dict[int, QuerySet] = field(default_factory=dict)


@dataclass
class TransactionUpdates:
    """What one transaction means for each connection.

    ``updates``: the non-empty ``QuerySetUpdate``s per connection. ``errors``: query sets that
    failed while being evaluated (already removed; tell the client with ``request_id=None``).
    """

    updates: dict[ClientKey, list[QuerySetUpdate]] = field(default_factory=dict)
    errors: dict[ClientKey, list[SubscriptionErrorMsg]] = field(default_factory=dict)


def _join_plan(bound: BoundQuery) -> _JoinPlan | None:
    """The equality linking the two tables of a join (from ``ON`` or a top-level ``AND``)."""
    if not bound.is_join:
        return None
    returned = bound.returns
    lookup = next(s for s in bound.sources if s.alias != returned.alias)
    candidates: list[BoundExpr] = [c for c in bound.join_conditions if c is not None]
    if bound.filter is not None:
        candidates.extend(_conjuncts(bound.filter))
    for expr in candidates:
        if not isinstance(expr, BoundCompare) or expr.op != "=":
            continue
        left, right = expr.left, expr.right
        if not isinstance(left, FieldRef) or not isinstance(right, FieldRef):
            continue
        if left.alias == returned.alias and right.alias == lookup.alias:
            return _JoinPlan(returned.table.name, left.column, lookup.table.name, right.column)
        if left.alias == lookup.alias and right.alias == returned.alias:
            return _JoinPlan(returned.table.name, right.column, lookup.table.name, left.column)
    return None


def _conjuncts(expr: BoundExpr) -> Iterable[BoundExpr]:
    if isinstance(expr, BoundLogic) and expr.is_and:
        for operand in expr.operands:
            yield from _conjuncts(operand)
    else:
        yield expr


class _RowPool:
    """Generic (dict) forms of rows, remembering which bytes each object came from.

    ``BoundQuery.evaluate`` hands back the very row objects its ``scan`` produced, so the bytes
    of a result row are found by object identity.
    """

    def __init__(self) -> None:
        self._bytes: dict[int, bytes] = {}
        self._keep: list[Any] = []  # keeps objects alive so their ids stay unique

    def add(self, row: bytes, generic: Any) -> Any:
        self._bytes[id(generic)] = row
        self._keep.append(generic)
        return generic

    def bytes_of(self, rows: Iterable[Any]) -> list[bytes]:
        lookup = self._bytes
        return [lookup[id(r)] for r in rows]


class _Evaluator:
    """Evaluates queries against the current state and one transaction's delta (cached)."""

    def __init__(
        self,
        database: Database,
        relations: Relations,
        delta: TxDelta | None = None,
        instance_changes: dict[InstanceKey, TableDelta] | None = None,
    ) -> None:
        self._db = database
        self._relations = relations
        self._delta = delta
        self._instance_changes = instance_changes or {}
        self._results: dict[QueryKey, RowDelta] = {}
        self._rows: dict[tuple[QueryKey, bool], TableUpdateRows | None] = {}
        self._generic: dict[tuple[str, bytes], Any] = {}
        self._fixed: dict[str, int | None] = {}

    # -- helpers ---------------------------------------------------------------------------------
    def _table(self, name: str, query: SubscribedQuery | None = None) -> HostedTable | Relation:
        """What ``query`` reads under ``name``: the table, or a view / filtered instance."""
        key = None if query is None else query.source_map.get(name)
        if key is None:
            return self._db.table(name)
        return self._relations.get(key)

    def generic(self, table: str, row: bytes) -> Any:
        key = (table, row)
        value = self._generic.get(key)
        if value is None:
            value = self._generic[key] = self._relations.generic(table, row)
        return value

    def row_list(self, table: str, rows: Sequence[bytes]) -> BsatnRowList:
        if table not in self._fixed:
            self._fixed[table] = self._relations.codec(table).fixed_size
        return BsatnRowList.from_rows(rows, self._fixed[table])

    # -- full evaluation --------------------------------------------------------------------------
    def current_rows(self, query: SubscribedQuery, budget: RowBudget | None = None) -> list[bytes]:
        """The rows the query matches now (event tables: none, they hold no rows)."""
        if query.is_event:
            return []
        return self.evaluate_bound(query.bound, budget, query)

    def evaluate_bound(
        self,
        bound: BoundQuery,
        budget: RowBudget | None = None,
        query: SubscribedQuery | None = None,
    ) -> list[bytes]:
        """Bytes of every row ``bound`` returns from the current state (a bag).

        A ``budget`` bounds the rows scanned (``RowLimitExceededError`` once it is spent).
        ``query`` says which view / filtered instances the names mean.
        """
        if not bound.is_join:
            hosted = self._table(bound.table, query)
            keep = bound.row_predicate()
            scanned = hosted.row_bytes()
            rows = scanned if budget is None else budget.meter(scanned)
            return [b for b in rows if keep(hosted.generic(b))]
        pool = _RowPool()
        tables: dict[str, list[Any]] = {}

        def scan(name: str) -> list[Any]:
            rows = tables.get(name)
            if rows is None:  # once per table, also for a self-join
                rows = tables[name] = [
                    pool.add(b, self.generic(name, b)) for b in self._table(name, query).row_bytes()
                ]
            return rows

        return pool.bytes_of(bound.evaluate(scan, budget))

    # -- incremental evaluation ------------------------------------------------------------------
    def table_update_rows(self, query: SubscribedQuery) -> TableUpdateRows | None:
        """The query's share of the transaction, ready for the wire (None when it is empty)."""
        cache_key = (query.key, query.is_event)
        if cache_key in self._rows:
            return self._rows[cache_key]
        inserts, deletes = self.delta_of(query)
        rows: TableUpdateRows | None
        if query.is_event:
            rows = EventTableRows(self.row_list(query.table, inserts)) if inserts else None
        elif inserts or deletes:
            rows = PersistentTableRows(
                self.row_list(query.table, inserts), self.row_list(query.table, deletes)
            )
        else:
            rows = None
        self._rows[cache_key] = rows
        return rows

    def delta_of(self, query: SubscribedQuery) -> RowDelta:
        cached = self._results.get(query.key)
        if cached is None:
            if query.join is None:
                cached = self._single_table_delta(query)
            elif query.join.returned_table == query.join.lookup_table:
                cached = self._self_join_delta(query)
            else:
                cached = self._join_delta(query, query.join)
            self._results[query.key] = cached
        return cached

    def _table_delta(self, name: str, query: SubscribedQuery) -> TableDelta | None:
        key = query.source_map.get(name)
        if key is not None:
            return self._instance_changes.get(key)
        assert self._delta is not None
        return self._delta.table(name)

    def touches(self, query: SubscribedQuery) -> bool:
        """True when the transaction changed something ``query`` reads."""
        return any(self._table_delta(name, query) is not None for name, _ in query.sources)

    def _single_table_delta(self, query: SubscribedQuery) -> RowDelta:
        change = self._table_delta(query.table, query)
        if change is None:
            return [], []
        keep = query.bound.row_predicate()
        table = query.table
        inserts = [b for b, _ in change.inserts if keep(self.generic(table, b))]
        deletes = [b for b, _ in change.deletes if keep(self.generic(table, b))]
        return inserts, deletes

    def _generic_rows(self, pool: _RowPool, table: str, rows: Iterable[bytes]) -> list[Any]:
        return [pool.add(b, self.generic(table, b)) for b in rows]

    def _current_with_keys(
        self,
        query: SubscribedQuery,
        table: str,
        column: str,
        keys: set[Any],
        exclude: set[bytes],
    ) -> list[bytes]:
        hosted = self._table(table, query)
        out: list[bytes] = []
        for key in keys:
            out.extend(b for b, _ in hosted.find(column, key) if b not in exclude)
        return out

    def _join_delta(self, query: SubscribedQuery, plan: _JoinPlan) -> RowDelta:
        r_name, l_name = plan.returned_table, plan.lookup_table
        r_change = self._table_delta(r_name, query)
        l_change = self._table_delta(l_name, query)
        if r_change is None and l_change is None:
            return [], []
        r_ins = [b for b, _ in r_change.inserts] if r_change else []
        r_del = [b for b, _ in r_change.deletes] if r_change else []
        l_ins = [b for b, _ in l_change.inserts] if l_change else []
        l_del = [b for b, _ in l_change.deletes] if l_change else []
        r_ins_set, l_ins_set = set(r_ins), set(l_ins)
        r_col, l_col = plan.returned_column, plan.lookup_column
        pool = _RowPool()
        bound = query.bound

        def run(r_rows: list[Any], l_rows: list[Any]) -> list[bytes]:
            if not r_rows or not l_rows:
                return []
            scans = {r_name: r_rows, l_name: l_rows}
            return pool.bytes_of(bound.evaluate(scans.__getitem__))

        def keys(rows: list[Any], column: str) -> set[Any]:
            return {row[column] for row in rows}

        inserts: list[bytes] = []
        deletes: list[bytes] = []
        if r_ins:  # new returned rows x current lookup rows
            r_rows = self._generic_rows(pool, r_name, r_ins)
            l_rows = self._generic_rows(
                pool,
                l_name,
                self._current_with_keys(query, l_name, l_col, keys(r_rows, r_col), set()),
            )
            inserts += run(r_rows, l_rows)
        if l_ins:  # new lookup rows x returned rows that existed before
            l_rows = self._generic_rows(pool, l_name, l_ins)
            r_old = self._current_with_keys(query, r_name, r_col, keys(l_rows, l_col), r_ins_set)
            inserts += run(self._generic_rows(pool, r_name, r_old), l_rows)
        if r_del:  # deleted returned rows x lookup rows as they were before
            r_rows = self._generic_rows(pool, r_name, r_del)
            wanted = keys(r_rows, r_col)
            l_before = self._current_with_keys(query, l_name, l_col, wanted, l_ins_set)
            l_rows = self._generic_rows(pool, l_name, l_before)
            l_rows += [
                row for row in self._generic_rows(pool, l_name, l_del) if row[l_col] in wanted
            ]
            deletes += run(r_rows, l_rows)
        if l_del:  # deleted lookup rows x returned rows that survived the transaction
            l_rows = self._generic_rows(pool, l_name, l_del)
            r_kept = self._current_with_keys(query, r_name, r_col, keys(l_rows, l_col), r_ins_set)
            deletes += run(self._generic_rows(pool, r_name, r_kept), l_rows)
        return inserts, deletes

    def _self_join_delta(self, query: SubscribedQuery) -> RowDelta:
        change = self._table_delta(query.table, query)
        if change is None:
            return [], []
        name = query.table
        after = self._table(name, query).row_bytes()
        inserted = {b for b, _ in change.inserts}
        before = [b for b in after if b not in inserted] + [b for b, _ in change.deletes]

        def bag(rows: list[bytes]) -> Counter[bytes]:
            pool = _RowPool()
            generic = self._generic_rows(pool, name, rows)
            return Counter(pool.bytes_of(query.bound.evaluate(lambda _t: generic)))

        after_bag, before_bag = bag(after), bag(before)
        return list((after_bag - before_bag).elements()), list((before_bag - after_bag).elements())


class SubscriptionManager:
    """Every connection's query sets for one database, and their evaluation.

    Call it only between transactions (from the thread that runs the database).
    """

    def __init__(self, database: Database, catalog: DatabaseCatalog | None = None) -> None:
        self._db = database
        self.catalog = catalog or DatabaseCatalog(database)
        self.relations: Relations = self.catalog.relations
        self._clients: dict[ClientKey, _Client] = {}

    # -- connections -------------------------------------------------------------------------------
    def add_client(self, key: ClientKey, identity: Identity) -> None:
        """Start tracking a connection (no query sets yet)."""
        self._clients[key] = _Client(identity)

    def remove_client(self, key: ClientKey) -> None:
        """Forget a connection and all its query sets (and the view instances only it read)."""
        if self._clients.pop(key, None) is not None:
            self._retain_instances()

    def _retain_instances(self) -> None:
        needed = {
            k
            for client in self._clients.values()
            for query_set in client.sets.values()
            for query in query_set.queries
            for k in query.instance_keys()
        }
        self.relations.retain(needed)

    def query_sets(self, key: ClientKey) -> dict[int, QuerySet]:
        """The active query sets of a connection, by id."""
        client = self._clients.get(key)
        return dict(client.sets) if client is not None else {}

    @property
    def has_subscribers(self) -> bool:
        """True when at least one query set is active."""
        return any(client.sets for client in self._clients.values())

    # -- compiling ---------------------------------------------------------------------------------
    def compile(
        self, identity: Identity, query_strings: Sequence[str]
    ) -> tuple[SubscribedQuery, ...]:
        """Parse and bind a query set's queries for ``identity`` (raises :class:`SqlError`).

        ``SELECT * FROM *`` expands to one query per readable non-event table; duplicates
        within the set are dropped.
        """
        catalog = self.catalog.for_caller(identity)
        out: list[SubscribedQuery] = []
        seen: set[QueryKey] = set()
        for text in query_strings:
            sql = text.strip()
            try:
                parsed = parse_subscription(text)
            except SqlError as exc:
                raise SqlError(_with_sql(exc, sql)) from exc
            expand = isinstance(parsed, AllTables)
            queries = (
                queries_for_all_tables(self.catalog.readable_tables(identity))
                if isinstance(parsed, AllTables)
                else [parsed]
            )
            for query in queries:
                text_of = f"SELECT * FROM {query.table}" if expand else sql
                try:
                    compiled = self._compile_one(query, catalog, identity, text_of)
                except SqlError as exc:
                    # The real server quotes the query it could not compile (not for `*`).
                    raise (exc if expand else SqlError(_with_sql(exc, sql))) from exc
                if compiled.key in seen:
                    continue
                seen.add(compiled.key)
                out.append(compiled)
        return tuple(out)

    def _compile_one(
        self, query: Query, catalog: SimpleCatalog, identity: Identity, sql: str
    ) -> SubscribedQuery:
        bound = bind_subscription(query, catalog, sender=identity)
        sources = self._sources(bound, identity)
        if bound.is_join and any(
            k is not None and self.relations.filter_tables(k[0]) > 1 for _, k in sources
        ):
            # The real server splices a filter's joins into the query before planning.
            extra = sum(self.relations.filter_tables(n) - 1 for n, k in sources if k is not None)
            raise SqlError(
                f"Invalid number of tables in subscription: {len(bound.sources) + extra}"
            )
        if not bound.is_join:
            for name, k in sources:
                if k is not None and k[1] is not None and not self.relations.is_view(name):
                    self.relations.check_filter_joins(name, identity)
        personal = query.uses_sender or any(k is not None and k[1] is not None for _, k in sources)
        key: QueryKey = (query, identity if personal else None)
        is_event = self.relations.is_event(bound.table)
        plan = _join_plan(bound)
        if bound.is_join and plan is None:
            raise SqlError("Subscriptions require indexes on join columns")
        return SubscribedQuery(key, bound, bound.table, is_event, plan, sources, sql)

    def _sources(
        self, bound: BoundQuery, caller: Identity
    ) -> tuple[tuple[str, InstanceKey | None], ...]:
        names = dict.fromkeys(bound.tables)
        return tuple((name, self.relations.instance_key(name, caller)) for name in names)

    # -- requests ---------------------------------------------------------------------------------
    def subscribe(
        self, key: ClientKey, request: SubscribeMsg
    ) -> SubscribeAppliedMsg | SubscriptionErrorMsg:
        """Apply a query set and return its initial rows, or the error that stopped it.

        Raises :class:`QuerySetInUseError` when the id names an active set of this connection.
        """
        client = self._clients[key]
        set_id = request.query_set_id.id
        if set_id in client.sets:
            raise QuerySetInUseError(
                f"Subscribe: query set {set_id} is already active on this connection"
            )
        try:
            queries = self.compile(client.identity, request.query_strings)
            self.relations.ensure(k for q in queries for k in q.instance_keys())
            evaluator = _Evaluator(self._db, self.relations)
            budget = row_budget(self._db, self.catalog, client.identity)
            rows = self._query_rows(evaluator, queries, budget)
        except SqlError as exc:
            self._retain_instances()
            return SubscriptionErrorMsg(request.request_id, request.query_set_id, str(exc))
        client.sets[set_id] = QuerySet(set_id, queries)
        return SubscribeAppliedMsg(request.request_id, request.query_set_id, rows)

    def unsubscribe(
        self, key: ClientKey, request: UnsubscribeMsg
    ) -> UnsubscribeAppliedMsg | SubscriptionErrorMsg:
        """Remove a query set (with its current rows when ``SendDroppedRows`` was asked for)."""
        client = self._clients[key]
        set_id = request.query_set_id.id
        query_set = client.sets.pop(set_id, None)
        if query_set is None:
            return SubscriptionErrorMsg(
                request.request_id, request.query_set_id, _not_found(key, client.identity, set_id)
            )
        rows = None
        if request.flags is UnsubscribeFlags.SEND_DROPPED_ROWS:
            rows = self._query_rows(_Evaluator(self._db, self.relations), query_set.queries)
        self._retain_instances()
        return UnsubscribeAppliedMsg(request.request_id, request.query_set_id, rows)

    def one_off_query(self, identity: Identity, request: OneOffQueryMsg) -> OneOffQueryResultMsg:
        """Run one query once against the current state."""
        try:
            query = parse_one_off_query(request.query_string)
            bound = bind_query(query, self.catalog.for_caller(identity), sender=identity)
            sources = self._sources(bound, identity)
            is_event = self.relations.is_event(bound.table)
            subscribed = SubscribedQuery(
                (query, identity), bound, bound.table, is_event, None, sources
            )
            evaluator = _Evaluator(self._db, self.relations)
            budget = row_budget(self._db, self.catalog, identity)
            rows = [] if is_event else evaluator.evaluate_bound(bound, budget, subscribed)
            name = bound.table
            result = QueryRows([SingleTableRows(name, evaluator.row_list(name, rows))])
        except SqlError as exc:
            return OneOffQueryResultMsg(request.request_id, Err(str(exc)))
        return OneOffQueryResultMsg(request.request_id, Ok(result))

    def _query_rows(
        self,
        evaluator: _Evaluator,
        queries: Iterable[SubscribedQuery],
        budget: RowBudget | None = None,
    ) -> QueryRows:
        """Current rows of each query; one ``budget`` covers the whole set (as the server sums)."""
        return QueryRows(
            [
                SingleTableRows(
                    q.table, evaluator.row_list(q.table, evaluator.current_rows(q, budget))
                )
                for q in queries
            ]
        )

    # -- transactions ------------------------------------------------------------------------------
    def transaction_updates(
        self,
        delta: TxDelta,
        include: Callable[[ClientKey], bool] | None = None,
    ) -> TransactionUpdates:
        """The per-connection row changes of a committed transaction.

        ``include`` may restrict which connections are evaluated. A query set whose evaluation
        fails is dropped and reported in ``errors``.
        """
        result = TransactionUpdates()
        if not delta.tables and not delta.system:
            return result
        changes, failures = self.relations.refresh(delta)
        evaluator = _Evaluator(self._db, self.relations, delta, changes)
        for key, client in self._clients.items():
            if not client.sets or (include is not None and not include(key)):
                continue
            updates: list[QuerySetUpdate] = []
            failed: list[int] = []
            for set_id, query_set in client.sets.items():
                broken = next(
                    (
                        _with_sql(failures[k], q.sql)
                        for q in query_set.queries
                        for k in q.instance_keys()
                        if k in failures
                    ),
                    None,
                )
                if broken is not None:
                    failed.append(set_id)
                    result.errors.setdefault(key, []).append(
                        SubscriptionErrorMsg(None, QuerySetId(set_id), broken)
                    )
                    continue
                try:
                    update = self._set_update(evaluator, query_set)
                except _QueryFailedError as failure:  # a broken query must not take the others down
                    failed.append(set_id)
                    result.errors.setdefault(key, []).append(
                        SubscriptionErrorMsg(None, QuerySetId(set_id), failure.text)
                    )
                    continue
                if update is not None:
                    updates.append(update)
            for set_id in failed:
                del client.sets[set_id]
            if updates:
                result.updates[key] = updates
        if failures or any(result.errors.values()):
            self._retain_instances()
        return result

    @staticmethod
    def _set_update(evaluator: _Evaluator, query_set: QuerySet) -> QuerySetUpdate | None:
        per_table: dict[str, list[TableUpdateRows]] = {}
        for query in query_set.queries:
            if not evaluator.touches(query):
                continue
            try:
                rows = evaluator.table_update_rows(query)
            except Exception as exc:
                raise _QueryFailedError(
                    _with_sql(f"{type(exc).__name__}: {exc}", query.sql)
                ) from exc
            if rows is not None:
                per_table.setdefault(query.table, []).append(rows)
        if not per_table:
            return None
        return QuerySetUpdate(
            QuerySetId(query_set.id),
            [TableUpdate(table, rows) for table, rows in per_table.items()],
        )
