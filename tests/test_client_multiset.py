"""The cache's whole-batch fast paths change a multiset only when the per-row loop would have
done exactly the same; update pairing gives the same result on its fast and slow paths."""

from __future__ import annotations

from operator import itemgetter

from spacetimedb_sdk.core.multiset import add_absent, remove_single
from spacetimedb_sdk.core.table_cache import _pair_updates


def test_add_absent_counts_new_rows_once_and_refuses_anything_else() -> None:
    counts = {b"a": 1}
    assert add_absent(counts, [b"b", b"c"])
    assert counts == {b"a": 1, b"b": 1, b"c": 1}
    assert not add_absent(counts, [b"d", b"a"])  # a present row
    assert not add_absent(counts, [b"d", b"d"])  # a repeated row
    assert counts == {b"a": 1, b"b": 1, b"c": 1}


def test_remove_single_removes_rows_counted_once_and_refuses_anything_else() -> None:
    counts = {b"a": 1, b"b": 2, b"c": 1, b"d": 1}
    assert not remove_single(counts, [b"a", b"b"])  # b is counted twice
    assert not remove_single(counts, [b"a", b"x"])  # x is absent
    assert not remove_single(counts, [b"c", b"c"])  # c would go twice
    assert counts == {b"a": 1, b"b": 2, b"c": 1, b"d": 1}
    assert remove_single(counts, [b"a", b"c"])
    assert counts == {b"b": 2, b"d": 1}


def test_update_pairing_by_key_bytes() -> None:
    key = itemgetter(slice(0, 1))
    # every deleted key comes back: all updates, in insertion order
    assert _pair_updates(key, [b"2n", b"1n"], [b"1o", b"2o"]) == (
        [],
        [],
        [(b"2o", b"2n"), (b"1o", b"1n")],
    )
    # a key inserted twice: the first pairs, the second stays an insert
    assert _pair_updates(key, [b"1n", b"1m"], [b"1o", b"2o"]) == (
        [b"1m"],
        [b"2o"],
        [(b"1o", b"1n")],
    )
