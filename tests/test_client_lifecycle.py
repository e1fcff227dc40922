"""The open / wait / give-up decisions (spacetimedb_sdk.core.lifecycle), fed events directly: no
socket, no timer, no thread."""

from __future__ import annotations

from spacetimedb_sdk.core.connection import ConnectionCore
from spacetimedb_sdk.core.errors import ConnectError, DisconnectedError
from spacetimedb_sdk.core.lifecycle import ConnectionLifecycle, GiveUp, Open, Phase, Serve, Wait
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL
from spacetimedb_sdk.identity import Identity
from tests.client_helpers import schema


def lifecycle(delays: list[float] | None = None) -> tuple[ConnectionLifecycle, ConnectionCore]:
    core = ConnectionCore(schema())
    machine = ConnectionLifecycle(core, None if delays is None else lambda: iter(delays))
    assert machine.opened() == Serve()
    core.connection_opened(V2_BSATN_PROTOCOL)
    return machine, core


def test_a_close_before_the_session_was_set_up_is_a_connect_failure() -> None:
    machine, _ = lifecycle([0.0])
    error = DisconnectedError("gone")
    assert machine.socket_closed(error) == GiveUp(error, set_up=False)
    assert machine.phase is Phase.CLOSED


def test_without_a_policy_a_drop_is_final() -> None:
    machine, _ = lifecycle()
    assert machine.connected(Identity(1), reconnected=False) is None
    error = DisconnectedError("gone")
    assert machine.socket_closed(error) == GiveUp(error)


def test_attempts_follow_the_delays_then_give_up_with_the_last_error() -> None:
    machine, core = lifecycle([0.5, 1.0])
    machine.connected(Identity(1), reconnected=False)
    drop = DisconnectedError("network")
    core.connection_lost(drop, will_reconnect=True)
    assert machine.socket_closed(drop) == Wait(1, 0.5, drop)
    assert machine.waited(stopped=False) == Open(1)
    refused = ConnectError("refused")
    assert machine.open_failed(refused) == Wait(2, 1.0, refused)
    assert machine.waited(stopped=False) == Open(2)
    again = ConnectError("still refused")
    assert machine.open_failed(again) == GiveUp(again)
    assert machine.phase is Phase.CLOSED


def test_a_successful_attempt_serves_the_new_socket() -> None:
    machine, core = lifecycle([0.0])
    machine.connected(Identity(1), reconnected=False)
    core.connection_lost(None, will_reconnect=True)
    assert isinstance(machine.socket_closed(None), Wait)
    assert machine.waited(stopped=False) == Open(1)
    assert machine.opened() == Serve() and machine.phase is Phase.UP
    assert machine.connected(Identity(1), reconnected=True) is None
    error = machine.connected(Identity(2), reconnected=True)
    assert isinstance(error, ConnectError) and "different identity" in str(error)


def test_a_close_request_ends_the_wait_and_an_attempt_that_opened_meanwhile() -> None:
    machine, core = lifecycle([5.0, 5.0])
    machine.connected(Identity(1), reconnected=False)
    core.connection_lost(None, will_reconnect=True)
    drop = DisconnectedError("drop")
    machine.socket_closed(drop)
    assert machine.request_close() and not machine.request_close()
    assert machine.waited(stopped=True) == GiveUp(None)  # asked for: no error to report

    machine, core = lifecycle([0.0])
    machine.connected(Identity(1), reconnected=False)
    core.connection_lost(None, will_reconnect=True)
    machine.socket_closed(None)
    assert machine.waited(stopped=False) == Open(1)
    machine.request_close()
    assert machine.opened() == GiveUp(None)  # the driver closes the socket it just opened


def test_a_core_closed_for_good_is_not_reconnected() -> None:
    machine, core = lifecycle([0.0])
    machine.connected(Identity(1), reconnected=False)
    core.close()
    assert machine.socket_closed(None) == GiveUp(None)
