"""Binding: subscription and one-off queries (:class:`BoundQuery`), and the FROM/WHERE part
(:class:`FromClause`) they share with HTTP selects."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from spacetimedb_sdk.algebraic_type import BOOL
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.sql.ast import Query, Star
from spacetimedb_sdk.local_server.sql.catalog import Catalog, RowFilterShape
from spacetimedb_sdk.local_server.sql.errors import SqlError, recursion_guard
from spacetimedb_sdk.local_server.sql.predicates import Getter, always_true, compile_predicate
from spacetimedb_sdk.local_server.sql.row_budget import RowBudget
from spacetimedb_sdk.local_server.sql.typed_tree import (
    BoundCompare,
    BoundExpr,
    BoundLogic,
    Constant,
    FieldRef,
    SenderValue,
    Source,
    TypeChecker,
    require_table,
)

__all__ = [
    "BoundQuery",
    "FromClause",
    "Row",
    "bind_from",
    "bind_query",
    "bind_subscription",
    "row_filter_shape",
    "star_source",
]


#: A row in the codec's generic product shape: column name -> value.
Row: TypeAlias = Mapping[str, Any]


@dataclass(frozen=True)
class FromClause:
    """The typed FROM + WHERE part shared by subscription queries and HTTP selects."""

    sources: tuple[Source, ...]
    join_conditions: tuple[BoundCompare | None, ...]
    filter: BoundExpr | None
    sender: Identity | None
    _keep: Getter | None = field(init=False, repr=False, compare=False)
    _join_keeps: tuple[Getter | None, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compile once: subscriptions are re-evaluated on every transaction.
        keep = None if self.filter is None else compile_predicate(self.filter, False, self.sender)
        object.__setattr__(self, "_keep", keep)
        join_keeps = tuple(
            None if c is None else compile_predicate(c, False, self.sender)
            for c in self.join_conditions
        )
        object.__setattr__(self, "_join_keeps", join_keeps)

    def matches(
        self, scan: Callable[[str], Iterable[Row]], budget: RowBudget | None = None
    ) -> Iterator[dict[str, Row]]:
        """Every combination of rows satisfying the ON conditions and WHERE, as alias -> row.

        With a ``budget``, every row scanned and every join combination is charged to it.
        """
        first = self.sources[0]
        rows = scan(first.table.name)
        if budget is not None:
            rows = budget.meter(rows)
        envs: Iterable[dict[str, Row]]
        if len(self.sources) == 1:
            alias = first.alias
            envs = ({alias: row} for row in rows)  # lazy: a LIMIT stops the scan
        else:
            joined = [{first.alias: row} for row in rows]
            for source, condition, join_keep in zip(
                self.sources[1:], self.join_conditions, self._join_keeps, strict=True
            ):
                joined = _join_rows(joined, source, condition, join_keep, scan, budget)
            envs = joined
        keep = self._keep
        if keep is None:
            yield from envs
            return
        for env in envs:
            if keep(env):
                yield env


def _join_rows(
    envs: list[dict[str, Row]],
    source: Source,
    condition: BoundCompare | None,
    keep: Getter | None,
    scan: Callable[[str], Iterable[Row]],
    budget: RowBudget | None,
) -> list[dict[str, Row]]:
    scanned = scan(source.table.name)
    rows = list(scanned if budget is None else budget.meter(scanned))
    alias = source.alias
    probe = _hash_join_sides(condition, alias)
    if probe is not None:
        outer, inner = probe
        buckets: dict[Any, list[Row]] = {}
        for row in rows:
            buckets.setdefault(row[inner.column], []).append(row)
        pairs = (
            {**env, alias: row}
            for env in envs
            for row in buckets.get(env[outer.alias][outer.column], ())
        )
        return list(pairs if budget is None else budget.meter(pairs))
    combined: Iterator[dict[str, Row]] = ({**env, alias: row} for env in envs for row in rows)
    if budget is not None:
        combined = budget.meter(combined)  # every combination examined counts, kept or not
    if keep is None:
        return list(combined)
    return [env for env in combined if keep(env)]


def _hash_join_sides(
    condition: BoundCompare | None, new_alias: str
) -> tuple[FieldRef, FieldRef] | None:
    """(earlier side, new side) when ``condition`` is ``earlier.x = new.y``."""
    if condition is None or condition.op != "=":
        return None
    left, right = condition.left, condition.right
    if not isinstance(left, FieldRef) or not isinstance(right, FieldRef):
        return None
    if right.alias == new_alias and left.alias != new_alias:
        return left, right
    if left.alias == new_alias and right.alias != new_alias:
        return right, left
    return None


def bind_from(
    query: Query, catalog: Catalog, checker: TypeChecker, sender: Identity | None
) -> FromClause:
    """Resolve and type the FROM, JOIN ... ON and WHERE parts of ``query``."""
    sources = [Source(query.alias, require_table(catalog, query.table))]
    checker.add(query.alias, sources[0].table)
    conditions: list[BoundCompare | None] = []
    for join in query.joins:
        if join.alias in checker.scope:
            raise SqlError(f"Duplicate name `{join.alias}`")
        table = require_table(catalog, join.table)
        checker.add(join.alias, table)
        sources.append(Source(join.alias, table))
        if join.on is None:
            conditions.append(None)
            continue
        bound = checker.check(join.on, BOOL)
        assert isinstance(bound, BoundCompare)
        conditions.append(bound)
    where = None if query.where is None else checker.check(query.where, BOOL)
    if query.uses_sender and sender is None:
        raise SqlError("the query uses :sender but no caller identity was given")
    return FromClause(tuple(sources), tuple(conditions), where, sender)


def star_source(star: Star, sources: Sequence[Source]) -> Source:
    """The source ``*`` / ``t.*`` selects (``*`` only for single-table queries)."""
    if star.table is None:
        if len(sources) > 1:
            raise SqlError("SELECT * is not supported for joins")
        return sources[0]
    for source in sources:
        if source.alias == star.table:
            return source
    raise SqlError(f"`{star.table}` is not in scope")


@dataclass(frozen=True)
class BoundQuery:
    """A type-checked query returning whole rows of one table (subscriptions, one-off queries).

    ``table`` is the canonical name of the returned table; ``tables`` every table read.
    """

    query: Query
    returns: Source
    sources: tuple[Source, ...]
    join_conditions: tuple[BoundCompare | None, ...]
    filter: BoundExpr | None
    sender: Identity | None
    _from: FromClause = field(repr=False, compare=False)
    _row_predicate: Callable[[Row], bool] | None = field(repr=False, compare=False)

    @property
    def table(self) -> str:
        """Canonical name of the table whose rows the query returns."""
        return self.returns.table.name

    @property
    def tables(self) -> tuple[str, ...]:
        """Canonical names of all tables the query reads, in FROM order."""
        return tuple(source.table.name for source in self.sources)

    @property
    def is_join(self) -> bool:
        """True when more than one table is involved."""
        return len(self.sources) > 1

    def row_predicate(self) -> Callable[[Row], bool]:
        """The compiled WHERE over one row of a single-table query."""
        if self._row_predicate is None:
            raise SqlError("a join query has no single-row predicate; use evaluate()")
        return self._row_predicate

    def evaluate(
        self, scan: Callable[[str], Iterable[Row]], budget: RowBudget | None = None
    ) -> list[Row]:
        """The returned table's rows, one per matching combination (a bag, like the server).

        ``scan(table_name)`` yields the current rows of a table; a ``budget`` bounds the work
        (:class:`RowLimitExceededError` once it is spent).
        """
        if self._row_predicate is not None:
            keep = self._row_predicate
            rows = scan(self.table)
            return [row for row in (rows if budget is None else budget.meter(rows)) if keep(row)]
        alias = self.returns.alias
        return [env[alias] for env in self._from.matches(scan, budget)]


def bind_query(
    query: Query,
    catalog: Catalog,
    *,
    sender: Identity | None = None,
    subscription: bool = False,
) -> BoundQuery:
    """Resolve and type-check a subscription-language query (see :func:`bind_subscription`)."""
    with recursion_guard("type checker"):
        return _bind_query(query, catalog, sender, subscription)


def _bind_query(
    query: Query, catalog: Catalog, sender: Identity | None, subscription: bool
) -> BoundQuery:
    checker = TypeChecker()
    bound_from = bind_from(query, catalog, checker, sender)
    projection = query.projection
    if not isinstance(projection, Star) or query.limit is not None:
        raise SqlError(
            "Column projections are not supported in subscriptions; "
            "Subscriptions must return a table type"
        )
    returns = star_source(projection, bound_from.sources)
    if subscription:
        _check_subscription_plan(bound_from, returns)
    row_predicate: Callable[[Row], bool] | None = None
    if len(bound_from.sources) == 1:
        row_predicate = (
            always_true
            if bound_from.filter is None
            else compile_predicate(bound_from.filter, True, sender)
        )
    return BoundQuery(
        query=query,
        returns=returns,
        sources=bound_from.sources,
        join_conditions=bound_from.join_conditions,
        filter=bound_from.filter,
        sender=sender,
        _from=bound_from,
        _row_predicate=row_predicate,
    )


def bind_subscription(
    query: Query, catalog: Catalog, *, sender: Identity | None = None
) -> BoundQuery:
    """Bind a subscription query, applying the extra subscription rules.

    Beyond the one-off rules: at most two tables; the looked-up (joined) table's join column
    must be indexed (when the catalog knows indexes); an event table cannot be looked up.
    ``sender`` is required when the query mentions ``:sender``.
    """
    return bind_query(query, catalog, sender=sender, subscription=True)


def _check_subscription_plan(bound: FromClause, returns: Source) -> None:
    """The real server's rule for subscription joins (its optimizer, as of 2.x).

    A join is planned as a hash join of the FROM table (lhs) with the JOIN table (rhs) on the
    ``ON`` equality. Comparisons of one table's column with a constant (or ``:sender``) in a
    top-level ``AND`` of the WHERE move down to that table, and a view always carries one (its
    hidden argument filter). If the lhs is a plain table and the rhs is filtered, the two sides
    swap. The join must then become an index join into the rhs: some index of the rhs must end
    with the rhs join column, every earlier column of it fixed by a ``col = constant`` on the rhs.
    Otherwise (no such index, or no ``ON`` at all) the subscription is refused, since it would
    need a hash or nested-loop join. Finally an event table cannot be that rhs.
    """
    count = len(bound.sources)
    if count > 2:
        raise SqlError(f"Invalid number of tables in subscription: {count}")
    if count < 2:
        return
    lhs, rhs = bound.sources
    on = bound.join_conditions[0]
    fields = _on_fields(on, lhs.alias, rhs.alias)
    if fields is None:
        raise SqlError("Subscriptions require indexes on join columns")
    pushed = _pushed_constants(bound.filter)
    # A table narrowed by visibility filters is planned once per filter.
    for lhs_filter in lhs.table.row_filters or (None,):
        for rhs_filter in rhs.table.row_filters or (None,):
            _check_join(lhs, rhs, fields, pushed, {lhs.alias: lhs_filter, rhs.alias: rhs_filter})


def _check_join(
    lhs: Source,
    rhs: Source,
    fields: tuple[str, str],
    pushed: dict[str, list[tuple[str, str]]],
    row_filters: dict[str, RowFilterShape | None],
) -> None:
    lhs_col, rhs_col = fields

    def is_filtered(source: Source) -> bool:
        row_filter = row_filters[source.alias]
        return (
            source.table.is_view
            or source.alias in pushed
            or (row_filter is not None and row_filter.filtered)
        )

    if not is_filtered(lhs) and is_filtered(rhs):
        lhs, rhs, lhs_col, rhs_col = rhs, lhs, rhs_col, lhs_col
    fixed = {column for op, column in pushed.get(rhs.alias, ()) if op == "="}
    rhs_filter = row_filters[rhs.alias]
    if rhs_filter is not None:
        fixed |= rhs_filter.fixed
    indexes = rhs.table.indexes
    if indexes is not None and not any(
        cols and cols[-1] == rhs_col and all(c in fixed for c in cols[:-1]) for cols in indexes
    ):
        raise SqlError("Subscriptions require indexes on join columns")
    if rhs.table.is_event:
        raise SqlError("Event tables cannot be used as the lookup table in subscription joins")


def row_filter_shape(bound: BoundQuery) -> RowFilterShape:
    """How a bound visibility filter (``SELECT * FROM t WHERE ...``) looks to the join planner."""
    if bound.filter is None:
        return RowFilterShape(False)
    alias = bound.returns.alias
    fixed = frozenset(c for op, c in _pushed_constants(bound.filter).get(alias, ()) if op == "=")
    return RowFilterShape(True, fixed)


def _on_fields(on: BoundCompare | None, lhs_alias: str, rhs_alias: str) -> tuple[str, str] | None:
    """(lhs column, rhs column) of an ``ON lhs.x = rhs.y`` (either order)."""
    if on is None or on.op != "=":
        return None
    left, right = on.left, on.right
    if not isinstance(left, FieldRef) or not isinstance(right, FieldRef):
        return None
    if left.alias == lhs_alias and right.alias == rhs_alias:
        return left.column, right.column
    if left.alias == rhs_alias and right.alias == lhs_alias:
        return right.column, left.column
    return None


def _pushed_constants(where: BoundExpr | None) -> dict[str, list[tuple[str, str]]]:
    """Per alias, the ``(op, column)`` of WHERE comparisons with a constant that the planner
    moves down to that table: the whole WHERE when it is one comparison, else the comparisons
    of a top-level AND (never anything under an OR)."""
    out: dict[str, list[tuple[str, str]]] = {}
    if where is None:
        return out
    terms = list(_conjuncts(where)) if isinstance(where, BoundLogic) and where.is_and else [where]
    for term in terms:
        if not isinstance(term, BoundCompare):
            continue
        left, right = term.left, term.right
        if isinstance(left, FieldRef) and isinstance(right, (Constant, SenderValue)):
            out.setdefault(left.alias, []).append((term.op, left.column))
        elif isinstance(right, FieldRef) and isinstance(left, (Constant, SenderValue)):
            out.setdefault(right.alias, []).append((term.op, right.column))
    return out


def _conjuncts(expr: BoundExpr) -> Iterator[BoundExpr]:
    if isinstance(expr, BoundLogic) and expr.is_and:
        for operand in expr.operands:
            yield from _conjuncts(operand)
    else:
        yield expr
