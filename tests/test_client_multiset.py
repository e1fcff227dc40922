"""The cache's whole-batch fast paths change a multiset exactly as the per-row loop would, or
not at all; update pairing gives the same result on its fast and slow paths."""

from __future__ import annotations

from collections import Counter
from operator import itemgetter

from hypothesis import given
from hypothesis import strategies as st

from spacetimedb_sdk.core.multiset import add_counts, remove_counts
from spacetimedb_sdk.core.table_cache import _pair_updates


def test_add_counts_returns_the_rows_new_to_the_multiset() -> None:
    counts = {b"a": 1}
    assert add_counts(counts, [b"b", b"c"]) == [b"b", b"c"]
    assert counts == {b"a": 1, b"b": 1, b"c": 1}
    assert add_counts(counts, [b"d", b"a", b"e"]) == [b"d", b"e"]  # a was there: counted twice
    assert counts == {b"a": 2, b"b": 1, b"c": 1, b"d": 1, b"e": 1}
    assert add_counts(counts, [b"f", b"f"]) is None  # a repeated row: the loop's job
    assert b"f" not in counts


def test_remove_counts_returns_the_rows_no_longer_counted() -> None:
    counts = {b"a": 1, b"b": 2, b"c": 1, b"d": 1}
    assert remove_counts(counts, [b"a", b"x"]) is None  # x is absent
    assert remove_counts(counts, [b"c", b"c"]) is None  # c would go twice
    assert counts == {b"a": 1, b"b": 2, b"c": 1, b"d": 1}
    assert remove_counts(counts, [b"a", b"b"]) == [b"a"]  # b stays, counted once
    assert counts == {b"b": 1, b"c": 1, b"d": 1}
    assert remove_counts(counts, [b"d", b"c"]) == [b"d", b"c"]
    assert counts == {b"b": 1}


_row = st.sampled_from([b"a", b"b", b"c", b"d", b"e"])


@given(st.dictionaries(_row, st.integers(1, 3)), st.lists(_row, max_size=6), st.booleans())
def test_fast_paths_agree_with_counting_one_row_at_a_time(
    start: dict[bytes, int], rows: list[bytes], adding: bool
) -> None:
    counts = dict(start)
    model = Counter(start)
    if adding:
        got = add_counts(counts, rows)
        expected = [r for r in rows if r not in start]
        model.update(rows)
    else:
        got = remove_counts(counts, rows)
        expected = [r for r in rows if start.get(r) == 1]
        model.subtract(rows)
    if got is None:
        assert counts == start
        assert len(set(rows)) != len(rows) or (not adding and not set(rows) <= set(start))
    else:
        assert got == expected
        assert counts == {r: c for r, c in model.items() if c > 0}


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


_key = itemgetter(slice(0, 1))
_keyed_rows = st.lists(st.sampled_from([b"1a", b"1b", b"2a", b"2b", b"3a", b"4a"]), unique=True)


@given(_keyed_rows, _keyed_rows)
def test_update_pairing_matches_a_row_by_row_reference(added: list[bytes], removed: list[bytes]) -> None:
    # Reference: a key deleted twice never pairs; otherwise the first insert of a deleted
    # key pairs with it.
    deleted_keys = [r[:1] for r in removed]
    partner = {r[:1]: r for r in removed if deleted_keys.count(r[:1]) == 1}
    inserts, updates = [], []
    for r in added:
        old = partner.pop(r[:1], None)
        if old is None:
            inserts.append(r)
        else:
            updates.append((old, r))
    paired_old = {o for o, _ in updates}
    deletes = [r for r in removed if r not in paired_old]
    assert _pair_updates(_key, list(added), list(removed)) == (inserts, deletes, updates)
