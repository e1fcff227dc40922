"""A module for the host's procedure runtime: HTTP requests, waiting, interleaving, the caller's
token claims, UUIDs and module logs."""

from __future__ import annotations

import logging

from spacetimedb_sdk.module import (
    HttpError,
    ProcedureContext,
    ReducerContext,
    ScheduleAt,
    TimeDuration,
    TxContext,
    Uuid,
    auto_inc,
    primary_key,
    procedure,
    reducer,
    table,
    u32,
    u64,
)

log = logging.getLogger("procedure_host")


@table(public=True)
class Event:
    id: u64 = primary_key(auto_inc=True)
    what: str


def _add(tx: TxContext, what: str) -> None:
    tx.db.event.insert(Event(id=0, what=what))


@reducer
def add_event(ctx: ReducerContext, what: str) -> None:
    ctx.db.event.insert(Event(id=0, what=what))


@procedure
def fetch(ctx: ProcedureContext, url: str) -> str:
    """GET ``url``: ``<status> <body>``, or the transport error's text."""
    try:
        response = ctx.http.get(url)
    except HttpError as exc:
        return f"failed: {exc}"
    return f"{response.status} {response.text()}"


@procedure
def http_in_tx(ctx: ProcedureContext, url: str) -> str:
    """Requests ``url`` from inside a transaction (refused), then tries a nested one."""

    def body(tx: TxContext) -> str:
        try:
            ctx.http.get(url)
        except HttpError as exc:
            return str(exc)
        return "allowed"

    refused = ctx.with_tx(body)
    try:
        ctx.with_tx(lambda tx: ctx.with_tx(lambda inner: None))
    except RuntimeError as exc:
        return f"{refused} / {exc}"
    return f"{refused} / nested allowed"


@procedure
def post_echo(ctx: ProcedureContext, url: str, body: str) -> str:
    response = ctx.http.post(url, body, headers={"X-Test": "yes"})
    return f"{response.status} {response.text()}"


@procedure
def wait_then_add(ctx: ProcedureContext, millis: u32, what: str) -> None:
    """Add ``<what>-before``, wait ``millis``, add ``<what>-after``."""
    ctx.with_tx(lambda tx: _add(tx, f"{what}-before"))
    ctx.sleep_until(ctx.timestamp + TimeDuration(millis * 1000))
    ctx.with_tx(lambda tx: _add(tx, f"{what}-after"))


@table(public=True)
class Claims:
    id: u64 = primary_key(auto_inc=True)
    kind: str
    internal: bool
    subject: str
    issuer: str
    payload: str


def _claims_row(ctx: ReducerContext | ProcedureContext, kind: str) -> Claims:
    jwt = ctx.sender_auth.jwt
    return Claims(
        id=0,
        kind=kind,
        internal=ctx.sender_auth.is_internal,
        subject="" if jwt is None else jwt.subject,
        issuer="" if jwt is None else jwt.issuer,
        payload="" if jwt is None else jwt.raw_payload,
    )


@reducer
def record_claims(ctx: ReducerContext) -> None:
    ctx.db.claims.insert(_claims_row(ctx, "reducer"))


@procedure
def record_claims_proc(ctx: ProcedureContext) -> None:
    row = _claims_row(ctx, "procedure")
    ctx.with_tx(lambda tx: tx.db.claims.insert(row))


@table(scheduled="scheduled_claims")
class ClaimsSchedule:
    scheduled_id: u64 = primary_key(auto_inc=True)
    scheduled_at: ScheduleAt


@reducer
def scheduled_claims(ctx: ReducerContext, _row: ClaimsSchedule) -> None:
    ctx.db.claims.insert(_claims_row(ctx, "scheduled"))


@reducer
def schedule_claims(ctx: ReducerContext) -> None:
    ctx.db.claims_schedule.insert(
        ClaimsSchedule(scheduled_id=0, scheduled_at=ScheduleAt.time(ctx.timestamp))
    )


@table(public=True)
class Minted:
    n: u32 = auto_inc()
    id: Uuid


@reducer
def mint_uuids(ctx: ReducerContext, count: u32) -> None:
    for _ in range(count):
        ctx.db.minted.insert(Minted(n=0, id=ctx.new_uuid_v7()))
    ctx.db.minted.insert(Minted(n=0, id=ctx.new_uuid_v4()))


@reducer
def say(ctx: ReducerContext, text: str) -> None:
    log.warning("said %s", text)


@reducer
def fail_loudly(ctx: ReducerContext) -> None:
    raise ValueError("no luck")
