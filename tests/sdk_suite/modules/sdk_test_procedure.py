"""Port of the official ``sdk-test-procedure`` module: procedures returning values, panicking,
opening transactions (committed and rolled back), making HTTP requests, being scheduled, and
creating time-ordered UUIDs."""

from __future__ import annotations

from dataclasses import dataclass

from spacetimedb_sdk.module import (
    HttpError,
    ProcedureContext,
    ReducerContext,
    ScheduleAt,
    SenderError,
    TaggedUnion,
    TimeDuration,
    Timestamp,
    TxContext,
    Uuid,
    Variant,
    primary_key,
    procedure,
    reducer,
    table,
    u8,
    u32,
    u64,
)


@dataclass
class ReturnStruct:
    a: u32
    b: str


class ReturnEnum(TaggedUnion):
    A: Variant[u32]
    B: Variant[str]


@procedure
def return_primitive(ctx: ProcedureContext, lhs: u32, rhs: u32) -> u32:
    return lhs + rhs


@procedure
def return_struct(ctx: ProcedureContext, a: u32, b: str) -> ReturnStruct:
    return ReturnStruct(a, b)


@procedure
def return_enum_a(ctx: ProcedureContext, a: u32) -> ReturnEnum:
    value: ReturnEnum = ReturnEnum.A(a)
    return value


@procedure
def return_enum_b(ctx: ProcedureContext, b: str) -> ReturnEnum:
    value: ReturnEnum = ReturnEnum.B(b)
    return value


@procedure
def will_panic(ctx: ProcedureContext) -> None:
    raise RuntimeError("This procedure is expected to panic")


@procedure
def read_my_schema(ctx: ProcedureContext, server_url: str) -> str:
    url = f"{server_url.rstrip('/')}/v1/database/{ctx.identity.to_hex()}/schema?version=9"
    return ctx.http.get(url).text()  # a transport error propagates: the call fails


@procedure
def invalid_request(ctx: ProcedureContext) -> str:
    try:
        response = ctx.http.get("http://foo.invalid/")
    except HttpError as exc:
        return str(exc)
    raise RuntimeError(
        f"Got result from requesting `http://foo.invalid`... huh?\n{response.text()}"
    )


@table(public=True)
class MyTable:
    field: ReturnStruct


def insert_my_table(tx: TxContext) -> None:
    tx.db.my_table.insert(MyTable(field=ReturnStruct(a=42, b="magic")))


def assert_row_count(ctx: ProcedureContext, count: int) -> None:
    def check(tx: TxContext) -> None:
        actual = tx.db.my_table.count()
        if actual != count:
            raise AssertionError(f"expected {count} rows in my_table, found {actual}")

    ctx.with_tx(check)


@procedure
def insert_with_tx_commit(ctx: ProcedureContext) -> None:
    ctx.with_tx(insert_my_table)
    assert_row_count(ctx, 1)


@procedure
def insert_with_tx_rollback(ctx: ProcedureContext) -> None:
    def insert_then_fail(tx: TxContext) -> None:
        insert_my_table(tx)
        raise SenderError("24")  # an error result: the transaction rolls back

    ctx.try_with_tx(insert_then_fail)
    assert_row_count(ctx, 0)


@reducer
def schedule_proc(ctx: ReducerContext) -> None:
    """Schedules :func:`scheduled_proc` to run in 1 s, remembering when this reducer ran."""
    ctx.db.scheduled_proc_table.insert(
        ScheduledProcTable(
            scheduled_id=0,
            scheduled_at=ScheduleAt.interval(TimeDuration(1_000_000)),
            reducer_ts=ctx.timestamp,
            x=42,
            y=24,
        )
    )


@table(scheduled="scheduled_proc")
class ScheduledProcTable:
    scheduled_id: u64 = primary_key(auto_inc=True)
    scheduled_at: ScheduleAt
    reducer_ts: Timestamp
    x: u8
    y: u8


@procedure
def scheduled_proc(ctx: ProcedureContext, data: ScheduledProcTable) -> None:
    procedure_ts = ctx.timestamp
    ctx.with_tx(
        lambda tx: tx.db.proc_inserts_into.insert(
            ProcInsertsInto(
                reducer_ts=data.reducer_ts, procedure_ts=procedure_ts, x=data.x, y=data.y
            )
        )
    )


@table(public=True)
class ProcInsertsInto:
    reducer_ts: Timestamp
    procedure_ts: Timestamp
    x: u8
    y: u8


@table(public=True)
class PkUuid:
    u: Uuid
    data: u8


@procedure
def sorted_uuids_insert(ctx: ProcedureContext) -> None:
    def insert_and_check(tx: TxContext) -> None:
        for _ in range(1000):
            tx.db.pk_uuid.insert(PkUuid(u=tx.new_uuid_v7(), data=0))
        last: Uuid | None = None
        for row in tx.db.pk_uuid.iter():
            if last is not None and last >= row.u:
                raise RuntimeError("UUIDs are not sorted correctly")
            last = row.u

    ctx.with_tx(insert_and_check)
