"""Port of the official ``sdk-test-procedure-concurrency`` module: procedures that wait between
two transactions while reducers (called or scheduled) run in between, recording the order in
which rows were inserted."""

from __future__ import annotations

from collections.abc import Callable

from spacetimedb_sdk.module import (
    ProcedureContext,
    ReducerContext,
    ScheduleAt,
    TimeDuration,
    TxContext,
    auto_inc,
    primary_key,
    procedure,
    reducer,
    table,
    u32,
    u64,
)

_POLL_TIMEOUT = TimeDuration(10_000_000)
_POLL_INTERVAL = TimeDuration(100_000)


@table(public=True)
class ProcedureConcurrencyRow:
    insertion_order: u32 = auto_inc()
    insertion_context: str


def insert_procedure_concurrency_row(tx: TxContext, insertion_context: str) -> None:
    tx.db.procedure_concurrency_row.insert(
        ProcedureConcurrencyRow(insertion_order=0, insertion_context=insertion_context)
    )


@reducer
def insert_reducer_row(ctx: ReducerContext) -> None:
    ctx.db.procedure_concurrency_row.insert(
        ProcedureConcurrencyRow(insertion_order=0, insertion_context="reducer")
    )


def poll_until_tx_true(ctx: ProcedureContext, pred: Callable[[TxContext], bool]) -> None:
    """Check ``pred`` in a fresh transaction every 100 ms until it holds (give up after 10 s)."""
    deadline = ctx.timestamp + _POLL_TIMEOUT
    while ctx.timestamp < deadline:
        ctx.sleep_until(ctx.timestamp + _POLL_INTERVAL)
        if ctx.with_tx(pred):
            return
    raise RuntimeError("poll_until_tx_true: exceeded timeout of 10 s")


def _someone_else_inserted(tx: TxContext) -> bool:
    return any(
        row.insertion_context != "procedure_before"
        for row in tx.db.procedure_concurrency_row.iter()
    )


@procedure
def procedure_sleep_between_inserts(ctx: ProcedureContext) -> None:
    ctx.with_tx(lambda tx: insert_procedure_concurrency_row(tx, "procedure_before"))
    poll_until_tx_true(ctx, _someone_else_inserted)
    ctx.with_tx(lambda tx: insert_procedure_concurrency_row(tx, "procedure_after"))


@table(scheduled="insert_scheduled_reducer")
class ScheduledReducerRow:
    scheduled_id: u64 = primary_key(auto_inc=True)
    scheduled_at: ScheduleAt


@reducer
def insert_scheduled_reducer(ctx: ReducerContext, _schedule: ScheduledReducerRow) -> None:
    ctx.db.procedure_concurrency_row.insert(
        ProcedureConcurrencyRow(insertion_order=0, insertion_context="scheduled_reducer")
    )


@procedure
def procedure_schedule_reducer_between_inserts(ctx: ProcedureContext) -> None:
    def insert_and_schedule(tx: TxContext) -> None:
        insert_procedure_concurrency_row(tx, "procedure_before")
        tx.db.scheduled_reducer_row.insert(
            ScheduledReducerRow(scheduled_id=0, scheduled_at=ScheduleAt.time(tx.timestamp))
        )

    ctx.with_tx(insert_and_schedule)
    poll_until_tx_true(ctx, _someone_else_inserted)
    ctx.with_tx(lambda tx: insert_procedure_concurrency_row(tx, "procedure_after"))


@table(scheduled="scheduled_procedure_sleep_between_inserts")
class ScheduledProcedureRow:
    scheduled_id: u64 = primary_key(auto_inc=True)
    scheduled_at: ScheduleAt


@procedure
def scheduled_procedure_sleep_between_inserts(
    ctx: ProcedureContext, _schedule: ScheduledProcedureRow
) -> None:
    ctx.with_tx(lambda tx: insert_procedure_concurrency_row(tx, "scheduled_procedure_before"))
    # Sleeps a fixed time rather than polling: on the official server the scheduled reducer
    # does not run until this procedure has finished.
    ctx.sleep_until(ctx.timestamp + _POLL_TIMEOUT)
    ctx.with_tx(lambda tx: insert_procedure_concurrency_row(tx, "scheduled_procedure_after"))


@reducer
def schedule_procedure_then_reducer(ctx: ReducerContext) -> None:
    ctx.db.scheduled_procedure_row.insert(
        ScheduledProcedureRow(scheduled_id=0, scheduled_at=ScheduleAt.time(ctx.timestamp))
    )
    ctx.db.scheduled_reducer_row.insert(
        ScheduledReducerRow(
            scheduled_id=0, scheduled_at=ScheduleAt.time(ctx.timestamp + TimeDuration(2_000_000))
        )
    )
