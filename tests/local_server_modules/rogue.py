"""A test module whose code raises what ordinary code must not: ``SystemExit`` and
``KeyboardInterrupt``, from reducers, procedures, lifecycle reducers and a scheduled reducer.

``mode`` (set by the ``set_mode`` reducer) picks what the lifecycle reducers do.
"""

from __future__ import annotations

import sys

from spacetimedb_sdk.module import (
    Identity,
    ProcedureContext,
    ReducerContext,
    ScheduleAt,
    TimeDuration,
    TxContext,
    client_connected,
    client_disconnected,
    primary_key,
    procedure,
    reducer,
    table,
    u32,
    u64,
)


@table(public=True)
class Mode:
    """One row: what the lifecycle reducers should do to everyone but ``setter``."""

    id: u32 = primary_key()
    mode: str
    setter: Identity


@table(public=True)
class Note:
    """Rows written before a failure (they must be rolled back)."""

    id: u64 = primary_key(auto_inc=True)
    text: str


@table(scheduled="exit_tick")
class ExitSchedule:
    """Schedule rows for ``exit_tick``."""

    scheduled_id: u64 = primary_key(auto_inc=True)
    scheduled_at: ScheduleAt


def _mode(ctx: ReducerContext) -> str:
    row = ctx.db.mode.id.find(0)
    return "" if row is None or row.setter == ctx.sender else row.mode


@client_connected
def on_connect(ctx: ReducerContext) -> None:
    """Exit or interrupt when the mode says so."""
    if _mode(ctx) == "exit_on_connect":
        sys.exit(4)


@client_disconnected
def on_disconnect(ctx: ReducerContext) -> None:
    """Exit or interrupt when the mode says so."""
    if _mode(ctx) == "interrupt_on_disconnect":
        raise KeyboardInterrupt


@reducer
def set_mode(ctx: ReducerContext, mode: str) -> None:
    """Choose what the lifecycle reducers do (to everyone but the caller)."""
    row = ctx.db.mode.id.find(0)
    if row is None:
        ctx.db.mode.insert(Mode(id=0, mode=mode, setter=ctx.sender))
    else:
        row.mode, row.setter = mode, ctx.sender
        ctx.db.mode.id.update(row)


@reducer
def note(ctx: ReducerContext, text: str) -> None:
    """An ordinary reducer."""
    ctx.db.note.insert(Note(id=0, text=text))


@reducer
def exit_now(ctx: ReducerContext) -> None:
    """Write a row, then call ``sys.exit()``."""
    ctx.db.note.insert(Note(id=0, text="before exit"))
    sys.exit(3)


@reducer
def interrupt(ctx: ReducerContext) -> None:
    """Raise ``KeyboardInterrupt``."""
    raise KeyboardInterrupt


@reducer
def schedule_exit(ctx: ReducerContext) -> None:
    """Run ``exit_tick`` at once."""
    ctx.db.exit_schedule.insert(
        ExitSchedule(scheduled_id=0, scheduled_at=ScheduleAt.time(ctx.timestamp + TimeDuration(0)))
    )


@reducer
def exit_tick(ctx: ReducerContext, row: ExitSchedule) -> None:
    """A scheduled reducer that exits."""
    raise SystemExit(5)


@procedure
def exit_proc(ctx: ProcedureContext) -> u32:
    """A procedure that exits."""
    sys.exit(6)


@procedure
def exit_in_tx(ctx: ProcedureContext) -> u32:
    """A procedure whose transaction body exits after writing (the write is rolled back)."""

    def body(tx: TxContext) -> u32:
        tx.db.note.insert(Note(id=0, text="in tx"))
        raise SystemExit(7)

    return ctx.with_tx(body)
