"""What the 0.7 client tells a person when connecting fails or the connection is lost.

0.7 programs such as the quickstart's ``main.py`` show these texts as they are (they end the
process with one line on stderr, see :mod:`~spacetimedb_sdk.legacy.process_exit`), so each
says, in one line, what happened at which address and what to do about it:

* nothing answers at the address -> start the server (the quickstart's ``bash scripts/run.sh``
  starts it together with the client);
* the server rejects the saved token (HTTP 401) -> it came from another server; which file to
  delete to start fresh with a new identity;
* the server closed the connection -> it went away (stopped or restarted), or its reason.
"""

from __future__ import annotations

import errno
import socket

from websockets.exceptions import ConnectionClosed

from spacetimedb_sdk import local_config
from spacetimedb_sdk.client.errors import ConnectError

__all__ = ["connect_failure_notice", "connection_lost_notice"]

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"}
_REFUSED = {errno.ECONNREFUSED, getattr(errno, "WSAECONNREFUSED", errno.ECONNREFUSED)}
# Close codes that mean the server (not the module or the client) ended the session.
_GOING_AWAY = {1001, 1006, 1012}


def connect_failure_notice(
    error: BaseException, host: str, database: str, token: str | None
) -> str:
    """One line for a failed connect to ``database`` at ``host`` (the 0.7 arguments)."""
    if isinstance(error, ConnectError) and error.status == 401 and token:
        return _rejected_token(error, host, token)
    network = _network_cause(error)
    if network is not None:
        return f"Cannot connect to the SpacetimeDB server at {host}: {network}. {_start_hint(host)}"
    return f"Cannot connect to the database {database!r} at {host}: {error}"


def connection_lost_notice(error: BaseException | None, host: str) -> str:
    """One line for a connection the client did not ask to close."""
    code, reason = _close_code(error)
    if code is None or code in _GOING_AWAY:
        return (
            f"Connection lost: the SpacetimeDB server at {host} went away "
            "(it stopped, restarted or became unreachable)."
        )
    detail = f"code {code}: {reason}" if reason else f"code {code}"
    return f"Connection lost: the SpacetimeDB server at {host} closed the connection ({detail})."


def _rejected_token(error: ConnectError, host: str, token: str) -> str:
    body = error.body or "HTTP 401"
    why = (
        "it was issued by a different server (or this server's keys changed)"
        if "InvalidSignature" in body
        else "it is not valid there"
    )
    saved_in = _local_config_file_holding(token)
    fresh = (
        f"delete {saved_in} and run this again"
        if saved_in is not None
        else "connect without it (auth_token None) and save the new token in its place"
    )
    return (
        f"The SpacetimeDB server at {host} rejected the saved token ({body}): {why}. "
        f"To start fresh with a new identity, {fresh}."
    )


def _local_config_file_holding(token: str) -> str | None:
    """The ``local_config`` settings file the token was read from, if it was."""
    parser, path = local_config.config, local_config.settings_path
    if parser is None or path is None or not parser.has_section(local_config.SECTION):
        return None
    if token in (value for _, value in parser.items(local_config.SECTION)):
        return path
    return None


def _network_cause(error: BaseException) -> str | None:
    """A short text when ``error`` comes from the network (no server answering), else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError) or (
            isinstance(current, OSError) and current.errno in _REFUSED
        ):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return f"unknown host ({current.strerror or current})"
        if isinstance(current, TimeoutError):
            return "no answer in time"
        if isinstance(current, OSError) and current.strerror:
            return current.strerror[0].lower() + current.strerror[1:]
        reason = getattr(current, "reason", None)  # urllib's URLError wraps the socket error
        current = (
            reason
            if isinstance(reason, BaseException)
            else current.__cause__ or current.__context__
        )
    return None


def _start_hint(host: str) -> str:
    if _host_name(host) in _LOCAL_HOSTS:
        return (
            "Is it running? (In the quickstart, `bash scripts/run.sh` starts it, then this client.)"
        )
    return "Check the address and your network, then try again."


def _host_name(host: str) -> str:
    """``localhost`` from ``localhost:3000``, ``http://localhost:3000/``, ``[::1]:3000``..."""
    rest = host.split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):
        return rest[1:].partition("]")[0]
    return rest.rpartition(":")[0].lower() if ":" in rest else rest.lower()


def _close_code(error: BaseException | None) -> tuple[int | None, str]:
    """The close code and reason the server sent (None: no close frame)."""
    current = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionClosed):
            frame = current.rcvd
            return (frame.code, frame.reason) if frame is not None else (None, "")
        current = current.__cause__ or current.__context__
    return None, ""
