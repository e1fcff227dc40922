"""CachedTable against a model: one dictionary holds each visible row with its memoised value,
extra deliveries apart. Random batches (rows repeated, deleted twice, never cached) and reads
in between; plus readers on other threads racing with applies."""

from __future__ import annotations

import operator
import threading
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.client_helpers import codec, connected, table_cache, user

ROWS = [user(n) for n in range(5)]
_batch = st.tuples(
    st.lists(st.sampled_from(ROWS), max_size=5),
    st.lists(st.sampled_from(ROWS), max_size=5),
    st.sampled_from(["none", "row", "rows", "inserted"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_batch, max_size=12))
def test_counts_values_and_events_follow_the_model(batches: list[Any]) -> None:
    conn, _ = connected()
    cached = table_cache(conn, "user")
    model: Counter[bytes] = Counter()
    seen: dict[bytes, Any] = {}  # the object handed out for each visible row
    for inserts, deletes, read in batches:
        before = {r for r, c in model.items() if c > 0}
        model.update(inserts)
        for r in deletes:
            if model[r] > 0:  # a delete of an uncached row is ignored (and logged)
                model[r] -= 1
        after = {r for r, c in model.items() if c > 0}
        delta = cached.apply(list(inserts), list(deletes))
        deleted = delta.deleted_values()  # in bulk: the same objects as one by one
        assert all(map(operator.is_, deleted, map(delta.deleted_row, delta.deletes)))
        assert set(delta.inserts) | {n for _, n in delta.updates} == after - before
        assert set(delta.deletes) | {o for o, _ in delta.updates} == before - after
        for r in before - after:
            if r in seen:  # on_delete sees the object handed out while it was cached
                assert delta.deleted_row(r) is seen.pop(r)
        assert cached.multiset() == {r: c for r, c in model.items() if c > 0}
        assert len(cached) == len(after)
        assert cached._n_decoded == sum(v is not None for v in cached._rows.values())
        if read == "row":
            for r in sorted(after):
                seen.setdefault(r, cached.row(r))
        elif read == "rows":
            encode = codec("user").encode
            values = cached.rows()
            assert sorted(map(encode, values)) == sorted(after)
            for value in values:
                seen.setdefault(encode(value), value)
        elif read == "inserted" and delta.inserts:
            values = delta.inserted_values()
            for r, value in zip(delta.inserts, values, strict=True):
                seen.setdefault(r, value)
        for r, value in seen.items():
            assert cached.row(r) is value


def test_readers_on_other_threads_never_resurrect_deleted_rows() -> None:
    conn, _ = connected()
    cached = table_cache(conn, "user")
    rows = [user(n) for n in range(200)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                cached.rows()
                for r in rows[::7]:
                    cached.row(r)
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    lock = conn._core.cache.lock
    try:
        for i in range(300):
            with lock:
                if i % 2 == 0:
                    cached.apply(rows, [])
                else:
                    cached.apply([], rows)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors
    assert len(cached) == 0 and cached._rows == {} and cached._n_decoded == 0


MANY = [user(n) for n in range(60)]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(MANY), max_size=4),
            st.lists(st.sampled_from(MANY), max_size=4),
            st.booleans(),
        ),
        max_size=10,
    )
)
def test_reading_after_small_updates_decodes_exactly_whats_left(batches: list[Any]) -> None:
    conn, _ = connected()
    cached = table_cache(conn, "user")
    encode = codec("user").encode
    model: Counter[bytes] = Counter(MANY[:40])
    cached.apply(MANY[:40], [])
    cached.rows()  # all decoded: later batches leave only their own rows to decode
    one_by_one: list[bytes] = []
    decode_one = cached.decode

    def counting(data: bytes | bytearray | memoryview) -> Any:
        one_by_one.append(bytes(data))
        return decode_one(data)

    cached.decode = counting
    for inserts, deletes, read in batches:
        model.update(inserts)
        for r in deletes:
            if model[r] > 0:
                model[r] -= 1
        cached.apply(list(inserts), list(deletes))
        if read:
            if inserts and inserts[0] in cached:
                cached.row(inserts[0])  # one row decoded on its own first
            one_by_one.clear()
            values = cached.rows()
            assert one_by_one == []  # what was left was decoded in bulk
            assert sorted(map(encode, values)) == sorted(r for r, c in model.items() if c > 0)
            assert cached._n_decoded == len(cached)
            assert cached._pending == []
    assert sorted(map(encode, cached.rows())) == sorted(r for r, c in model.items() if c > 0)


def test_storing_decoded_values_keeps_the_tables_order() -> None:
    conn, _ = connected()
    cached = table_cache(conn, "user")
    encode = codec("user").encode
    order = [MANY[i] for i in (5, 3, 9, 1, 7)]
    delta = cached.apply(list(order), [])
    assert list(map(encode, delta.inserted_values())) == order
    assert list(map(encode, cached.rows())) == order
    later = [MANY[i] for i in (8, 2, 6)]
    cached.apply(later, [order[1]])
    cached.values_of(list(reversed(later)), -1)  # values stored in another order than the rows'
    expected = [r for r in order if r != order[1]] + later
    assert list(map(encode, cached.rows())) == expected
