"""The sans-I/O core (ConnectionCore) fed with the shared wire fixtures: bytes in, effects out."""

from __future__ import annotations

import zlib
from typing import Any

import brotli
import pytest

from spacetimedb_sdk.core import ConnectionCore, ConnectionState
from spacetimedb_sdk.core.effects import (
    Connected,
    ProcedureDone,
    ProtocolViolation,
    QueryDone,
    QuerySetApplied,
    QuerySetEnded,
    QuerySetFailed,
    ReducerDone,
    RequestFailed,
    RowsChanged,
)
from spacetimedb_sdk.core.errors import DisconnectedError, InternalError, OneOffQueryError
from spacetimedb_sdk.core.events import ReducerStatus, Transaction
from spacetimedb_sdk.errors import ProtocolError
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.messages import (
    CallProcedureMsg,
    CallReducerMsg,
    OneOffQueryMsg,
    QuerySetId,
    ReducerResultMsg,
    SubscribeMsg,
    UnsubscribeFlags,
    UnsubscribeMsg,
    decode_client_message,
    encode_server_message,
)
from spacetimedb_sdk.timestamp import Timestamp
from tests.client_helpers import (
    applied,
    client_vectors,
    persistent,
    schema,
    server_vectors,
    set_update,
    transaction,
    user,
)
from tests.conftest import load_fixture

V = server_vectors()
FIXTURE_IDENTITY = Identity.from_hex(
    "c2006d0b2e3f6f2f0d6c3bb45e7c2c9b5c4a2fa0d1e3c4b5a69788796a5b4c3d"
)


def frame(name: str) -> bytes:
    """A server fixture message as an uncompressed frame."""
    return b"\x00" + V[name]


def new_core(token: str | None = None, protocol: str = V2_BSATN_PROTOCOL) -> ConnectionCore:
    core = ConnectionCore(schema(), token=token)
    core.connection_opened(protocol)
    return core


def connected_core(token: str | None = None) -> ConnectionCore:
    core = new_core(token)
    effects = core.receive_frame(frame("InitialConnection"))
    assert [type(e) for e in effects] == [Connected]
    return core


# ------------------------------------------------------------------------------ connect


def test_initial_connection_anonymous_adopts_the_minted_token() -> None:
    core = new_core()
    states = [core.state]
    (effect,) = core.receive_frame(frame("InitialConnection"))
    states.append(core.state)
    assert isinstance(effect, Connected)
    assert effect.identity == FIXTURE_IDENTITY
    assert effect.connection_id == ConnectionId.from_hex("5e1f9b2a7c3d4e5f60718293a4b5c6d7")
    assert effect.token.startswith("eyJ0eXAiOiJKV1Qi")
    assert core.token == effect.token
    assert states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]


def test_initial_connection_never_replaces_a_given_token() -> None:
    core = new_core(token="long-lived")
    (effect,) = core.receive_frame(frame("InitialConnection"))
    assert isinstance(effect, Connected)
    assert effect.token == "long-lived"
    assert core.token == "long-lived"


def test_a_second_initial_connection_is_a_protocol_violation() -> None:
    core = connected_core()
    (effect,) = core.receive_frame(frame("InitialConnection"))
    assert isinstance(effect, ProtocolViolation)


def test_unknown_subprotocol_is_refused() -> None:
    core = ConnectionCore(schema())
    with pytest.raises(ProtocolError):
        core.connection_opened("v1.json.spacetimedb")


# ------------------------------------------------------------------------------ sending


def test_client_messages_match_the_reference_bytes() -> None:
    cv = client_vectors()
    core = new_core()
    core.subscribe(["SELECT * FROM user", "SELECT * FROM message"])
    core.call_reducer("set_name", ("Alice",))
    core.call_reducer("send_message", ("Hello, 世界 👋",))
    sent = core.data_to_send()
    assert sent == [cv["Subscribe"], cv["CallReducer set_name"], cv["CallReducer send_message"]]


def test_requests_queue_until_the_socket_opens_and_count_from_zero() -> None:
    core = ConnectionCore(schema())
    qs = core.subscribe("SELECT * FROM user")
    core.one_off_query("SELECT * FROM user WHERE online = true")
    core.call_procedure("return_primitive", (2, 3))
    core.call_procedure("return_struct", (42, "str"))
    assert core.data_to_send() == []  # not open yet
    core.connection_opened(V2_BSATN_PROTOCOL)
    messages = [decode_client_message(f) for f in core.data_to_send()]
    assert messages == [
        SubscribeMsg(0, QuerySetId(0), ["SELECT * FROM user"]),
        OneOffQueryMsg(1, "SELECT * FROM user WHERE online = true"),
        CallProcedureMsg(2, 0, "return_primitive", b"\x02\x00\x00\x00\x03\x00\x00\x00"),
        CallProcedureMsg(3, 0, "return_struct", b"*\x00\x00\x00\x03\x00\x00\x00str"),
    ]
    assert qs.id == 0
    core.unsubscribe(qs)
    (unsub,) = [decode_client_message(f) for f in core.data_to_send()]
    assert unsub == UnsubscribeMsg(4, QuerySetId(0), UnsubscribeFlags.DEFAULT)


def test_v3_coalesces_queued_messages_into_one_frame() -> None:
    doc = load_fixture("vectors", "v3_frames.json")
    expected = next(f for f in doc["frames"] if f["direction"] == "client->server")
    core = new_core(protocol=V3_BSATN_PROTOCOL)
    core.subscribe(["SELECT * FROM user", "SELECT * FROM message"])
    core.call_reducer("set_name", ("Alice",))
    core.call_reducer("send_message", ("Hello, 世界 👋",))
    assert core.data_to_send() == [bytes.fromhex(expected["hex"])]


def test_reducer_arguments_are_checked() -> None:
    core = new_core()
    with pytest.raises(TypeError, match="takes 1 argument"):
        core.call_reducer("set_name", ())
    with pytest.raises(KeyError):
        core.call_reducer("no_such_reducer", ())
    core.call_reducer_raw("no_such_reducer", b"")
    (msg,) = [decode_client_message(f) for f in core.data_to_send()]
    assert msg == CallReducerMsg(0, 0, "no_such_reducer", b"")


def test_outgoing_hook_is_called_for_every_request() -> None:
    core = new_core()
    woken: list[int] = []
    core.on_outgoing = lambda: woken.append(1)
    core.subscribe("SELECT * FROM user")
    core.call_reducer("set_name", ("x",))
    assert len(woken) == 2


# ------------------------------------------------------------------------------ receiving


def test_every_server_message_kind() -> None:
    core = connected_core()
    qs0 = core.subscribe(["SELECT * FROM user"])
    qs1 = core.subscribe(["SELECT * FROM points", "SELECT * FROM message"])
    set_name = core.call_reducer("set_name", ("Bob",))
    ok_empty = core.call_reducer("set_name", ("Bob",))
    err = core.call_reducer("set_name", ("",))
    internal = core.call_reducer("send_message", ("x",))
    one_off = core.one_off_query("SELECT * FROM user")
    one_off_err = core.one_off_query("SELECT nonsense")
    proc = core.call_procedure("return_primitive", (2, 3))
    proc_struct = core.call_procedure("return_struct", (42, "str"))
    proc_err = core.call_procedure("return_primitive", (0, 0))
    assert (qs0.id, qs1.id) == (0, 1)
    assert [set_name.request_id, ok_empty.request_id, err.request_id, internal.request_id] == [
        2,
        3,
        4,
        5,
    ]

    effects = core.receive_frame(frame("SubscribeApplied (chat user rows)"))
    assert [type(e) for e in effects] == [QuerySetApplied, RowsChanged]
    assert len(core.cache.table("user") or ()) == 3

    effects = core.receive_frame(frame("SubscribeApplied (FixedSize rows)"))
    assert [type(e) for e in effects] == [QuerySetApplied, RowsChanged]
    points = core.cache.table("points")
    assert points is not None
    assert sorted((r["x"], r["y"]) for r in points.rows()) == [(1, 2), (3, 4)]

    # The Ok fixture answers request 1; retarget it at our set_name call (request 2).
    ok = ReducerResultMsg(2, Timestamp(0), _decoded("ReducerResult Ok").result)
    effects = core.receive_message(ok)
    assert [type(e) for e in effects] == [RowsChanged, ReducerDone]
    rows_changed, done = effects
    assert isinstance(rows_changed, RowsChanged) and isinstance(done, ReducerDone)
    assert done.reducer_event.status is ReducerStatus.COMMITTED
    assert done.reducer_event.args == ("Bob",)
    (delta,) = rows_changed.deltas
    assert len(delta.updates) == 1 and not delta.inserts and not delta.deletes

    for name, request, status in [
        ("ReducerResult OkEmpty", ok_empty, ReducerStatus.COMMITTED),
        ("ReducerResult Err", err, ReducerStatus.FAILED),
        ("ReducerResult InternalError", internal, ReducerStatus.INTERNAL_ERROR),
    ]:
        msg = _decoded(name)
        (done,) = core.receive_message(
            ReducerResultMsg(request.request_id, msg.timestamp, msg.result)
        )
        assert isinstance(done, ReducerDone)
        assert done.reducer_event.status is status
    assert done.reducer_event.error  # the internal error's text

    (effect,) = core.receive_message(_retarget("OneOffQueryResult ok", one_off.request_id))
    assert isinstance(effect, QueryDone) and effect.error is None
    assert effect.rows is not None and len(effect.rows) == 3
    (effect,) = core.receive_message(_retarget("OneOffQueryResult err", one_off_err.request_id))
    assert isinstance(effect, QueryDone) and isinstance(effect.error, OneOffQueryError)

    (effect,) = core.receive_message(_retarget("ProcedureResult Returned", proc.request_id))
    assert isinstance(effect, ProcedureDone) and effect.value == 5
    (effect,) = core.receive_message(
        _retarget("ProcedureResult Returned (struct)", proc_struct.request_id)
    )
    assert isinstance(effect, ProcedureDone) and effect.value == {"a": 42, "b": "str"}
    (effect,) = core.receive_message(
        _retarget("ProcedureResult InternalError", proc_err.request_id)
    )
    assert isinstance(effect, ProcedureDone) and isinstance(effect.error, InternalError)

    effects = core.receive_frame(frame("UnsubscribeApplied (rows none)"))
    assert [type(e) for e in effects] == [QuerySetEnded, RowsChanged]
    assert len(points) == 0
    assert len(core.requests) == 0


def _decoded(name: str) -> Any:
    from spacetimedb_sdk.messages import decode_server_message

    return decode_server_message(V[name])


def _retarget(name: str, request_id: int) -> Any:
    import dataclasses

    return dataclasses.replace(_decoded(name), request_id=request_id)


def test_subscription_error_for_a_request_and_for_an_applied_set() -> None:
    core = connected_core()
    qs = core.subscribe(["SELECT * FROM user"])
    (effect,) = core.receive_frame(frame("SubscriptionError (request_id some)"))
    assert isinstance(effect, QuerySetFailed)
    assert qs.is_ended and qs.error

    qs = core.subscribe(["SELECT * FROM user"])
    core.receive_message(applied(qs.id, user=[user(1), user(2)]))
    assert len(core.cache.table("user") or ()) == 2
    no_request = _decoded("SubscriptionError (request_id none)")
    import dataclasses

    effects = core.receive_message(dataclasses.replace(no_request, query_set_id=QuerySetId(qs.id)))
    assert [type(e) for e in effects] == [QuerySetFailed, RowsChanged]
    assert len(core.cache.table("user") or ()) == 0


def test_reducer_result_for_an_unknown_request_still_applies_rows() -> None:
    core = connected_core()
    qs = core.subscribe(["SELECT * FROM user"])
    core.receive_message(applied(qs.id, user=[user(1)]))
    msg = _decoded("ReducerResult Ok")
    ok = msg.result
    import dataclasses

    update = transaction(set_update(qs.id, user=persistent([user(2)])))
    effects = core.receive_message(
        ReducerResultMsg(77, msg.timestamp, dataclasses.replace(ok, transaction_update=update))
    )
    assert [type(e) for e in effects] == [RowsChanged]
    assert isinstance(effects[0], RowsChanged) and isinstance(effects[0].event, Transaction)
    assert len(core.cache.table("user") or ()) == 2


# ------------------------------------------------------------------------------ frames


@pytest.mark.parametrize(
    "name",
    [
        "server frame, tag 0 (none), one message: InitialConnection",
        "server frame, tag 2 (gzip), one message: SubscribeApplied",
        "server frame, tag 1 (brotli), one message: SubscribeApplied",
    ],
)
def test_compressed_and_plain_frames(name: str) -> None:
    doc = load_fixture("vectors", "v3_frames.json")
    entry = next(f for f in doc["frames"] if f["name"] == name)
    core = new_core()
    if "SubscribeApplied" in name:
        core.receive_frame(frame("InitialConnection"))
        core.subscribe(["SELECT * FROM user"])
    effects = core.receive_frame(bytes.fromhex(entry["hex"]))
    assert not [e for e in effects if isinstance(e, ProtocolViolation)]
    assert effects


def test_v3_frame_with_several_messages() -> None:
    doc = load_fixture("vectors", "v3_frames.json")
    entry = next(f for f in doc["frames"] if f["name"].startswith("server v3 frame, tag 0 (none)"))
    core = new_core(protocol=V3_BSATN_PROTOCOL)
    core.subscribe(["SELECT * FROM user"])
    effects = core.receive_frame(bytes.fromhex(entry["hex"]))
    assert [type(e) for e in effects] == [Connected, QuerySetApplied, RowsChanged]


def test_v3_gzip_frame_with_three_messages() -> None:
    doc = load_fixture("vectors", "v3_frames.json")
    entry = next(f for f in doc["frames"] if "TransactionUpdate + ReducerResult" in f["name"])
    core = new_core(protocol=V3_BSATN_PROTOCOL)
    core.receive_frame(frame("InitialConnection"))
    qs = core.subscribe(["SELECT * FROM user", "SELECT * FROM message"])
    core.receive_message(applied(qs.id, user=[]))
    core.call_reducer("set_name", ("Bob",))  # request 1: answered by the Ok
    core.call_reducer("set_name", ("",))  # request 2: unknown to the Err (request 3)
    effects = core.receive_frame(bytes.fromhex(entry["hex"]))
    kinds = [type(e).__name__ for e in effects]
    assert "ReducerDone" in kinds
    assert not [e for e in effects if isinstance(e, ProtocolViolation)]


GARBAGE = {
    "empty frame": b"",
    "unknown compression tag": b"\x07\x00",
    "tag only": b"\x00",
    "unknown message tag": b"\x00\x09",
    "truncated message": b"\x00" + V["SubscribeApplied (chat user rows)"][:20],
    "corrupt gzip": b"\x02not gzip at all",
    "corrupt brotli": b"\x01\xff\xff\xff\xff",
    "trailing bytes in v2": b"\x00" + V["InitialConnection"] + b"\x00",
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_frames_are_reported_and_the_core_stays_usable(name: str) -> None:
    core = new_core()
    effects = core.receive_frame(GARBAGE[name])
    assert len(effects) == 1 and isinstance(effects[0], ProtocolViolation), effects
    assert isinstance(effects[0].error, ProtocolError)
    (effect,) = core.receive_frame(frame("InitialConnection"))
    assert isinstance(effect, Connected)


def test_v3_frame_with_a_bad_second_message_keeps_the_first() -> None:
    core = new_core(protocol=V3_BSATN_PROTOCOL)
    effects = core.receive_frame(frame("InitialConnection") + b"\x09garbage")
    assert [type(e) for e in effects] == [Connected, ProtocolViolation]


def test_gzip_members_and_brotli_bodies_are_decoded() -> None:
    body = V["InitialConnection"]
    gz = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for wire in (b"\x02" + gz.compress(body) + gz.flush(), b"\x01" + brotli.compress(body)):
        core = new_core()
        (effect,) = core.receive_frame(wire)
        assert isinstance(effect, Connected)


# ------------------------------------------------------------------------------ disconnect


def test_pending_requests_fail_when_the_connection_is_lost() -> None:
    core = connected_core()
    pending_sub = core.subscribe(["SELECT * FROM user"])
    applied_set = core.subscribe(["SELECT * FROM message"])
    core.receive_message(applied(applied_set.id, message=[]))
    call = core.call_reducer("set_name", ("x",))
    proc = core.call_procedure("return_primitive", (1, 2))
    query = core.one_off_query("SELECT * FROM user")
    effects = core.connection_lost(ConnectionResetError("boom"))
    failed = [e.request for e in effects if isinstance(e, RequestFailed)]
    assert failed == [call, proc, query]
    assert all(
        isinstance(e.error, DisconnectedError) for e in effects if isinstance(e, RequestFailed)
    )
    sub_failed = [e for e in effects if isinstance(e, QuerySetFailed)]
    assert [e.query_set for e in sub_failed] == [pending_sub]
    assert pending_sub.is_ended and applied_set.is_ended
    assert core.state is ConnectionState.DISCONNECTED
    with pytest.raises(DisconnectedError):
        core.call_reducer("set_name", ("y",))
    with pytest.raises(DisconnectedError):
        core.subscribe(["SELECT * FROM user"])


def test_stats_count_requests_and_latencies() -> None:
    core = connected_core()
    call = core.call_reducer("set_name", ("x",))
    msg = _decoded("ReducerResult OkEmpty")
    core.receive_message(ReducerResultMsg(call.request_id, msg.timestamp, msg.result))
    stats = core.stats
    assert stats.reducers.sent == 1 and stats.reducers.completed == 1
    assert stats.named("set_name").completed == 1
    assert stats.reducers.mean_latency is not None and stats.reducers.in_flight == 0
    assert stats.frames_received == 1 and stats.messages_received == 2
    assert encode_server_message(msg)  # sanity: the message round-trips
