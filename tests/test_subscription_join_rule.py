"""Which subscription joins are accepted: the real server's planner rule, case by case.

The real server plans ``lhs JOIN rhs ON lhs.x = rhs.y`` as a hash join, moves WHERE comparisons
with constants down to their table, swaps the sides when only the rhs is filtered (a view always
counts as filtered), and accepts the subscription only if the join becomes an index join into
the rhs: an index of the rhs ending with the join column, earlier columns fixed by ``=``
constants on the rhs. Each test below has an accepted and a refused twin that differ in exactly
the detail the rule looks at.
"""

from __future__ import annotations

import pytest

from spacetimedb_sdk.algebraic_type import U32, U64
from spacetimedb_sdk.local_server.sql import (
    BoundQuery,
    SimpleCatalog,
    SqlError,
    TableInfo,
    bind_query,
    bind_subscription,
    parse_one_off_query,
)

CATALOG = SimpleCatalog(
    [
        # indexed on `k` only
        TableInfo.of("a", [("k", U32), ("x", U32)], index_columns=(("k",),)),
        # no index at all
        TableInfo.of("b", [("k", U32), ("x", U32)], index_columns=()),
        # one two-column index (g, k): k can be probed only when g is fixed
        TableInfo.of("m", [("g", U32), ("k", U32)], index_columns=(("g", "k"),)),
        # a view keyed by `id` (its index is the hidden argument column, then `id`)
        TableInfo.of("v", [("id", U64), ("k", U32)], is_view=True, index_columns=(("id",),)),
        # a view without a key
        TableInfo.of("w", [("id", U64), ("k", U32)], is_view=True, index_columns=()),
        TableInfo.of("e", [("k", U32)], is_event=True, index_columns=(("k",),)),
    ]
)

REFUSED = "Subscriptions require indexes on join columns"


def sub(sql: str) -> BoundQuery:
    return bind_subscription(parse_one_off_query(sql), CATALOG)


def refused(sql: str, message: str = REFUSED) -> None:
    with pytest.raises(SqlError, match=message):
        sub(sql)
    bind_query(parse_one_off_query(sql), CATALOG)  # one-off queries have no such rule


def test_the_index_needed_is_the_join_tables_not_the_unreturned_ones() -> None:
    # b JOIN a: a (the rhs) is probed, whichever side is returned.
    assert sub("select b.* from b join a on b.k = a.k").table == "b"
    assert sub("select a.* from b join a on b.k = a.k").table == "a"
    # a JOIN b: b has no index, even though a (returned or not) has one.
    refused("select a.* from a join b on a.k = b.k")
    refused("select b.* from a join b on a.k = b.k")


def test_on_sides_may_be_written_either_way() -> None:
    assert sub("select b.* from b join a on a.k = b.k").table == "b"
    refused("select a.* from a join b on b.k = a.k")


def test_a_join_without_on_is_a_nested_loop() -> None:
    refused("select b.* from b join a where b.k = a.k")
    refused("select b.* from b cross join a")


def test_a_constant_filter_on_the_rhs_alone_swaps_the_sides() -> None:
    # rhs filtered, lhs bare: the sides swap and `b` (no index) would be probed
    refused("select b.* from b join a on b.k = a.k where a.x = 1")
    refused("select b.* from b join a on b.k = a.k where a.x > 1")  # any comparison moves
    # lhs filtered too: no swap, `a` is probed
    assert sub("select b.* from b join a on b.k = a.k where a.x = 1 and b.x = 2").table == "b"
    # the same swap makes a refused join acceptable
    assert sub("select a.* from a join b on a.k = b.k where b.x = 7").table == "a"


def test_only_top_level_and_comparisons_move() -> None:
    # under an OR nothing moves, so there is no swap and `a` is probed
    assert sub("select b.* from b join a on b.k = a.k where a.x = 1 or a.x = 2").table == "b"
    # a column-to-column comparison does not move either
    assert sub("select b.* from b join a on b.k = a.k where a.x = b.x").table == "b"


def test_a_multi_column_index_needs_its_leading_columns_fixed() -> None:
    refused("select b.* from b join m on b.k = m.k")
    refused("select b.* from b join m on b.k = m.k where b.x = 1 and m.g > 3")  # not `=`
    assert sub("select b.* from b join m on b.k = m.k where b.x = 1 and m.g = 3").table == "b"
    refused("select b.* from b join m on b.k = m.g")  # g is not the index's last column


def test_views_count_as_filtered_and_are_probed_only_on_their_key() -> None:
    # table lhs, view rhs: the sides swap and the table is probed
    assert sub("select v.* from a join v on a.k = v.k").table == "v"
    refused("select v.* from b join v on b.k = v.k")
    # view lhs: the rhs is probed as usual
    assert sub("select a.* from v join a on v.k = a.k").table == "a"
    # view on both sides: the rhs view is probed, which works on its primary key only
    assert sub("select v.* from w join v on w.id = v.id").table == "v"
    refused("select v.* from w join v on w.k = v.k")
    refused("select w.* from v join w on v.id = w.id")  # w has no key


def test_event_tables_cannot_be_probed() -> None:
    refused(
        "select b.* from b join e on b.k = e.k",
        "Event tables cannot be used as the lookup table in subscription joins",
    )
    assert sub("select e.* from e join a on e.k = a.k").table == "e"
