"""Sole owners: a table fed by one query set keeps that set's rows once, not twice.

docs/protocol.md#client-cache: each query set keeps the multiset of its own rows, so that it can
be dropped without the server's help. While a single set contributes to a table, that multiset
is exactly the table's refcounts, so the set keeps none: the table names the set as its
``owner`` and the set's rows of that table are read from the cache when it leaves. Keeping the
rows once saves a dictionary entry per cached row and a dictionary operation per received row.

A second contributor ends this: the owner gets its own copy of the table's counts, the table
becomes ``SHARED`` and from then on every set tracks its own rows, until the table is empty
again. While a reconnect replays the sets nobody owns anything (every set tracks), and the
owners are settled again once the cache is reconciled.

Invariant: for every cached row, its refcount equals the sum of its counts over the sets,
where a table's owner counts as holding the table's counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from spacetimedb_sdk.core.client_cache import RowCache
from spacetimedb_sdk.core.subscription import ClientQuerySet

__all__ = ["SHARED", "settle", "settle_after_replace", "take_rows", "tracks"]


class _Shared:
    __slots__ = ()

    def __repr__(self) -> str:
        return "SHARED"


#: ``CachedTable.owner`` when several sets contribute (or may): every set tracks its own rows.
SHARED: Final[Any] = _Shared()


def settle(
    cache: RowCache, contributions: Iterable[tuple[str, ClientQuerySet]], may_own: bool
) -> None:
    """Before tracking a message's rows: give each touched table its owner (or end it).

    ``contributions`` are the ``(table, set)`` pairs of the rows the message carries (repeats
    are fine); ``may_own`` is False while a reconnect replays the sets.
    """
    by_table: dict[str, dict[int, ClientQuerySet]] = {}
    for name, qs in contributions:
        by_table.setdefault(name, {})[id(qs)] = qs
    for name, sets in by_table.items():
        table = cache.table(name)
        if table is None or table.layout.is_event:
            continue
        owner = table.owner
        if owner is None or (owner is SHARED and not len(table)):
            if may_own and len(sets) == 1:
                (qs,) = sets.values()
                if not qs.rows.get(name):  # an empty leftover multiset is dropped
                    qs.rows.pop(name, None)
                    table.owner = qs
                    continue
            table.owner = SHARED
        elif owner is not SHARED and (len(sets) > 1 or id(owner) not in sets):
            # A second contributor: the owner's rows so far are exactly the table's counts.
            owner.rows[name] = table.multiset()
            table.owner = SHARED


def tracks(cache: RowCache, table: str, qs: ClientQuerySet) -> bool:
    """Whether ``qs`` must count its own rows of ``table`` (it is not the table's owner)."""
    cached = cache.table(table)
    return cached is None or cached.owner is not qs


def take_rows(cache: RowCache, qs: ClientQuerySet) -> dict[str, list[bytes]]:
    """Every live delivery of ``qs`` (a row counted n times appears n times); forgets them.

    The tables ``qs`` owns lose their owner: all their rows are the set's.
    """
    out = qs.take_rows()
    for table in cache.tables():
        if table.owner is qs:
            table.owner = None
            out[table.layout.name] = table.deliveries()
    return out


def disown_all(cache: RowCache) -> None:
    """Nobody owns a table from now on (a reconnect starts replaying every set)."""
    for table in cache.tables():
        table.owner = SHARED if len(table) else None


def settle_after_replace(cache: RowCache, sets: Iterable[ClientQuerySet]) -> None:
    """After a reconcile replaced the cache from the sets' multisets: a table fed by one set
    becomes that set's (which drops its copy); a table fed by several is ``SHARED``."""
    feeders: dict[str, list[ClientQuerySet]] = {}
    for qs in sets:
        for name, rows in qs.rows.items():
            if rows:
                feeders.setdefault(name, []).append(qs)
    for table in cache.tables():
        if table.layout.is_event:
            continue
        found = feeders.get(table.layout.name, [])
        if len(found) == 1:
            table.owner = found[0]
            del found[0].rows[table.layout.name]
        else:
            table.owner = SHARED if found else None
