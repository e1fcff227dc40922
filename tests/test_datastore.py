"""The in-memory datastore: set semantics, constraints, sequences, indexes, rollback, deltas."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.algebraic_type import RefType, Typespace
from spacetimedb_sdk.bsatn import ProductBinding
from spacetimedb_sdk.local_server.datastore import MAX_SCHEDULE_DELAY_MICROS, Datastore
from spacetimedb_sdk.local_server.indexes import BTreeIndex
from spacetimedb_sdk.local_server.row_keys import column_key_function
from spacetimedb_sdk.local_server.sequences import (
    BLOCK_SIZE,
    Sequence,
    SequenceSpec,
    truncate_to_column,
)
from spacetimedb_sdk.local_server.table_spec import ColumnSpec, IndexSpec, ScheduleSpec, TableSpec
from spacetimedb_sdk.module import Range
from spacetimedb_sdk.module.errors import (
    RowNotFoundError,
    ScheduleDelayTooLongError,
    UniqueConstraintViolation,
)
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp

NOW = Timestamp(1_700_000_000_000_000)


@dataclass
class Item:
    id: int
    name: str
    level: int
    group: str | None


@dataclass
class Boom:
    x: int


@dataclass
class Job:
    id: int
    at: ScheduleAt


ITEM_TYPE = at.product_of(
    [("id", at.U64), ("name", at.STRING), ("level", at.U32), ("group", at.option(at.STRING))]
)


def item_spec() -> TableSpec:
    return TableSpec(
        name="item",
        columns=(
            ColumnSpec("id", "id", at.U64),
            ColumnSpec("name", "name", at.STRING),
            ColumnSpec("level", "level", at.U32),
            ColumnSpec("group", "group", at.option(at.STRING)),
        ),
        row_type=RefType(0),
        typespace=Typespace((ITEM_TYPE,)),
        bindings={0: ProductBinding(Item, ("id", "name", "level", "group"))},
        primary_key=0,
        unique=((0,), (1,)),
        indexes=(
            IndexSpec("item_id_idx_btree", "id", "btree", (0,)),
            IndexSpec("item_name_idx_btree", "name", "btree", (1,)),
            IndexSpec("item_level_idx_btree", "level", "btree", (2,)),
            IndexSpec("item_group_level_idx_btree", "by_group", "btree", (3, 2)),
            IndexSpec("item_group_idx_hash", "group_hash", "hash", (3,)),
        ),
        sequences=(SequenceSpec(0),),
    )


def boom_spec() -> TableSpec:
    return TableSpec(
        name="boom",
        columns=(ColumnSpec("x", "x", at.U32),),
        row_type=RefType(0),
        typespace=Typespace((at.product_of([("x", at.U32)]),)),
        bindings={0: ProductBinding(Boom, ("x",))},
        unique=((0,),),
        is_event=True,
    )


def job_spec() -> TableSpec:
    return TableSpec(
        name="job",
        columns=(ColumnSpec("id", "id", at.U64), ColumnSpec("at", "at", at.SCHEDULE_AT)),
        row_type=RefType(0),
        typespace=Typespace((at.product_of([("id", at.U64), ("at", at.SCHEDULE_AT)]),)),
        bindings={0: ProductBinding(Job, ("id", "at"))},
        primary_key=0,
        unique=((0,),),
        sequences=(SequenceSpec(0),),
        schedule=ScheduleSpec("run_job", 1),
    )


@pytest.fixture
def ds() -> Datastore:
    return Datastore([item_spec(), boom_spec(), job_spec()])


def values(ds: Datastore, table: str) -> list[object]:
    return list(ds.table(table).rows.values())


def test_insert_fills_auto_inc_and_keeps_a_private_copy(ds: Datastore) -> None:
    t = ds.table("item")
    tx = ds.begin(NOW)
    mine = Item(0, "a", 1, None)
    stored = tx.insert(t, mine)
    assert stored == Item(1, "a", 1, None)
    assert mine.id == 0  # the caller's object is not mutated
    assert tx.insert(t, Item(0, "b", 2, "g")).id == 2
    assert tx.insert(t, Item(10, "c", 3, "g")).id == 10  # non-zero values are kept
    delta = tx.commit()
    assert [v for _, v in delta.tables["item"].inserts] == [
        Item(1, "a", 1, None),
        Item(2, "b", 2, "g"),
        Item(10, "c", 3, "g"),
    ]
    assert values(ds, "item")[0] is not stored
    assert ds.current is None


def test_set_semantics_and_unique_violation(ds: Datastore) -> None:
    t = ds.table("item")
    tx = ds.begin(NOW)
    tx.insert(t, Item(1, "a", 1, None))
    tx.insert(t, Item(1, "a", 1, None))  # identical: a no-op, no error
    assert len(t) == 1
    with pytest.raises(UniqueConstraintViolation) as info:
        tx.insert(t, Item(1, "other", 1, None))
    assert str(info.value) == "insertion error on table `item`:duplicate unique column"
    with pytest.raises(UniqueConstraintViolation):
        tx.insert(t, Item(2, "a", 1, None))
    delta = tx.commit()
    assert len(delta.tables["item"].inserts) == 1


def test_rollback_undoes_every_write_including_sequences(ds: Datastore) -> None:
    t = ds.table("item")
    tx = ds.begin(NOW)
    tx.insert(t, Item(0, "keep", 1, None))
    tx.commit()
    before = dict(t.rows)
    tx = ds.begin(NOW)
    tx.insert(t, Item(0, "x", 1, None))
    tx.insert(t, Item(0, "y", 2, None))
    assert tx.delete(t, Item(1, "keep", 1, None))
    tx.insert(t, Item(0, "z", 3, None))
    tx.rollback()
    assert t.rows == before
    assert [b for _, b in t.btrees["item_level_idx_btree"].entries] == list(before)
    assert t.uniques[1].map == {"keep": next(iter(before))}
    tx = ds.begin(NOW)
    assert tx.insert(t, Item(0, "next", 1, None)).id == 2  # the rolled-back values are reused
    tx.commit()


def test_delta_is_net_of_the_transaction(ds: Datastore) -> None:
    t = ds.table("item")
    tx = ds.begin(NOW)
    tx.insert(t, Item(1, "a", 1, None))
    tx.insert(t, Item(2, "b", 1, None))
    tx.commit()
    tx = ds.begin(NOW)
    tx.insert(t, Item(3, "tmp", 1, None))
    assert tx.delete(t, Item(3, "tmp", 1, None))  # inserted then deleted: nowhere
    assert tx.delete(t, Item(1, "a", 1, None))
    tx.insert(t, Item(1, "a", 1, None))  # deleted then re-inserted unchanged: nowhere
    tx.update(t, (0,), Item(2, "b", 5, None))  # an update: one delete and one insert
    delta = tx.commit()
    d = delta.tables["item"]
    assert [v for _, v in d.inserts] == [Item(2, "b", 5, None)]
    assert [v for _, v in d.deletes] == [Item(2, "b", 1, None)]
    tx = ds.begin(NOW)
    assert not tx.commit()  # nothing changed


def test_update_requires_an_existing_key_and_keeps_constraints(ds: Datastore) -> None:
    t = ds.table("item")
    tx = ds.begin(NOW)
    tx.insert(t, Item(1, "a", 1, None))
    tx.insert(t, Item(2, "b", 1, None))
    with pytest.raises(RowNotFoundError):
        tx.update(t, (0,), Item(3, "c", 1, None))
    with pytest.raises(UniqueConstraintViolation):
        tx.update(t, (0,), Item(2, "a", 1, None))
    # The failed update left the old row in place.
    assert t.uniques[0].map[2] in t.rows
    assert sorted(v.name for v in t.rows.values()) == ["a", "b"]
    tx.commit()


def test_btree_ranges_prefixes_and_hash_lookups(ds: Datastore) -> None:
    t = ds.table("item")
    tx = ds.begin(NOW)
    for i, (level, group) in enumerate(
        [(5, "x"), (1, None), (3, "x"), (3, "y"), (9, "x"), (3, None)]
    ):
        tx.insert(t, Item(0, f"n{i}", level, group))
    tx.commit()
    by_level = t.btrees["item_level_idx_btree"]

    def levels(rows: object) -> list[int]:
        return [t.rows[b].level for b in rows]  # type: ignore[attr-defined]

    assert levels(by_level.scan((3,))) == [3, 3, 3]
    assert levels(by_level.scan((), Range(3, 9))) == [3, 3, 3, 5]
    assert levels(by_level.scan((), Range.closed(3, 9))) == [3, 3, 3, 5, 9]
    assert levels(by_level.scan((), Range.greater_than(3))) == [5, 9]
    assert levels(by_level.scan((), Range.at_most(3))) == [1, 3, 3, 3]
    assert levels(by_level.scan((), Range())) == [1, 3, 3, 3, 5, 9]
    # Multi-column index (group, level): Option keys order some(..) before none.
    group_key = column_key_function(at.option(at.STRING), Typespace(), {})
    assert group_key is not None
    by_group = t.btrees["item_group_level_idx_btree"]
    assert levels(by_group.scan((group_key("x"),))) == [3, 5, 9]
    assert levels(by_group.scan((group_key("x"),), Range(4, 10))) == [5, 9]
    assert levels(by_group.scan((group_key(None),))) == [1, 3]
    assert sorted(levels(t.hashes["item_group_idx_hash"].get(group_key("x")))) == [3, 5, 9]


def test_event_table_rows_live_only_in_their_transaction(ds: Datastore) -> None:
    t = ds.table("boom")
    tx = ds.begin(NOW)
    tx.insert(t, Boom(1))
    tx.insert(t, Boom(2))
    tx.insert(t, Boom(1))  # set semantics within the transaction
    assert len(t) == 2  # readable inside the transaction
    delta = tx.commit()
    d = delta.tables["boom"]
    assert d.is_event and [v for _, v in d.inserts] == [Boom(1), Boom(2)] and d.deletes == ()
    assert len(t) == 0
    tx = ds.begin(NOW)
    tx.insert(t, Boom(1))  # constraints only hold within one transaction
    tx.commit()


def test_schedule_delay_limit(ds: Datastore) -> None:
    t = ds.table("job")
    tx = ds.begin(NOW)
    tx.insert(t, Job(0, ScheduleAt.interval(TimeDuration(MAX_SCHEDULE_DELAY_MICROS - 1))))
    tx.insert(t, Job(0, ScheduleAt.time(NOW + TimeDuration(MAX_SCHEDULE_DELAY_MICROS - 1))))
    with pytest.raises(ScheduleDelayTooLongError):
        tx.insert(t, Job(0, ScheduleAt.interval(TimeDuration(MAX_SCHEDULE_DELAY_MICROS))))
    with pytest.raises(ScheduleDelayTooLongError):
        tx.insert(t, Job(0, ScheduleAt.time(NOW + TimeDuration(MAX_SCHEDULE_DELAY_MICROS))))
    tx.commit()


def test_st_client_is_a_system_table(ds: Datastore) -> None:
    from spacetimedb_sdk.identity import ConnectionId, Identity
    from spacetimedb_sdk.local_server.st_client import ClientRow

    tx = ds.begin(NOW)
    tx.insert(ds.st_client, ClientRow(Identity(1), ConnectionId(2)))
    delta = tx.commit()
    assert not delta and "st_client" in delta.system


def test_one_transaction_at_a_time(ds: Datastore) -> None:
    tx = ds.begin(NOW)
    with pytest.raises(RuntimeError):
        ds.begin(NOW)
    tx.rollback()
    with pytest.raises(RuntimeError):
        tx.commit()


# ============================================================================== sequences


def test_sequence_block_reservation() -> None:
    seq = Sequence(SequenceSpec(0))
    assert seq.generate() == (1, True)
    assert seq.allocated == 1 + BLOCK_SIZE
    assert [seq.generate()[0] for _ in range(3)] == [2, 3, 4]
    # A restart resumes at the end of the reserved block.
    restarted = Sequence(SequenceSpec(0), allocated=seq.allocated)
    assert restarted.generate() == (1 + BLOCK_SIZE, True)
    assert restarted.generate() == (2 + BLOCK_SIZE, False)


def test_sequence_bounds_wrap_and_truncation() -> None:
    seq = Sequence(SequenceSpec(0, start=5, min_value=1, max_value=6, increment=1))
    assert [seq.generate()[0] for _ in range(4)] == [5, 6, 1, 2]
    assert truncate_to_column(256, "U8") == 0
    assert truncate_to_column(255, "I8") == -1
    assert truncate_to_column(5, "U64") == 5


def test_committed_sequence_reservations_are_reported(ds: Datastore) -> None:
    t = ds.table("item")
    tx = ds.begin(NOW)
    tx.insert(t, Item(0, "a", 1, None))
    delta = tx.commit()
    assert delta.sequence_allocations == {("item", 0): 1 + BLOCK_SIZE}
    tx = ds.begin(NOW)
    tx.insert(t, Item(0, "b", 1, None))
    assert tx.commit().sequence_allocations == {}


def test_btree_index_remove_is_exact() -> None:
    index = BTreeIndex("ix", (0,), lambda v: (v,))
    for row in [b"c", b"a", b"b"]:
        index.add((1,), row)
    index.remove((1,), b"a")
    assert [b for _, b in index.entries] == [b"b", b"c"]
    index.remove((2,), b"b")  # wrong key: nothing happens
    assert len(index) == 2


def _check_indexes(ds: Datastore) -> None:
    t = ds.table("item")
    for u in t.uniques:
        assert u.map == {u.key_of(v): b for b, v in t.rows.items()}
    for bt in t.btrees.values():
        assert bt.entries == sorted((bt.key_of(v), b) for b, v in t.rows.items())
    for h in t.hashes.values():
        expected: dict[object, set[bytes]] = {}
        for b, v in t.rows.items():
            expected.setdefault(h.key_of(v), set()).add(b)
        assert {k: set(rows) for k, rows in h.map.items()} == expected


@pytest.mark.parametrize("seed", range(5))
def test_random_transactions_keep_indexes_consistent(seed: int) -> None:
    import random

    rng = random.Random(seed)
    ds = Datastore([item_spec()])
    t = ds.table("item")
    committed: dict[bytes, object] = {}
    for _ in range(60):
        tx = ds.begin(NOW)
        for _ in range(rng.randint(1, 8)):
            op = rng.random()
            name = f"n{rng.randint(0, 15)}"
            group = rng.choice([None, "a", "b"])
            try:
                if op < 0.5:
                    tx.insert(
                        t, Item(rng.choice([0, rng.randint(1, 20)]), name, rng.randint(0, 5), group)
                    )
                elif op < 0.75 and t.rows:
                    tx.delete_bytes(t, rng.choice(list(t.rows)))
                elif t.rows:
                    old = t.rows[rng.choice(list(t.rows))]
                    tx.update(t, (0,), Item(old.id, name, rng.randint(0, 5), group))
            except UniqueConstraintViolation:
                pass
        _check_indexes(ds)
        if rng.random() < 0.4:
            tx.rollback()
            assert t.rows == committed
        else:
            delta = tx.commit()
            d = delta.tables.get("item")
            if d is not None:
                for b, _ in d.deletes:
                    assert b in committed
                    del committed[b]
                for b, v in d.inserts:
                    assert b not in committed
                    committed[b] = v
            assert set(t.rows) == set(committed)
        _check_indexes(ds)
