"""A SpacetimeDB server's address and the schema endpoint, as every client-side tool uses them.

One home for what the client (``with_uri``), the 0.7 layer (``host``) and the code generator
(``--server``) each need:

* :func:`parse_server_url` -- ``host:port``, ``http(s)://`` or ``ws(s)://`` plus an optional base
  path, into a :class:`ServerUrl` that renders the HTTP base (``ServerUrl.http``) or the
  WebSocket base (``ServerUrl.ws``);
* :func:`fetch_schema_json` -- ``GET {base}/v1/database/{name}/schema``: ``version=10`` first, and
  ``version=9`` only when the server answers 4xx to that (servers older than 2.1 know no
  ``version=10``; the ``spacetime describe`` behaviour). Any other failure is a
  :class:`SchemaFetchError` with the HTTP ``status`` when there was one; a network failure
  keeps its cause (``__cause__``).

Errors are typed: :class:`ServerUrlError` (a ``ValueError``) and :class:`SchemaFetchError`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

from spacetimedb_sdk import __version__
from spacetimedb_sdk.errors import SpacetimeDBError

__all__ = [
    "SchemaFetchError",
    "ServerUrl",
    "ServerUrlError",
    "fetch_schema_json",
    "parse_server_url",
]

_SCHEMES: Final = {"http": False, "ws": False, "https": True, "wss": True}
_HTTP_NOT_FOUND: Final = 404


class ServerUrlError(SpacetimeDBError, ValueError):
    """A server address that is empty or has a scheme other than http(s) / ws(s)."""


class SchemaFetchError(SpacetimeDBError):
    """The schema could not be fetched: unreachable server, unknown database, an HTTP error
    (``status``), or a body that is not JSON."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.message = message
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class ServerUrl:
    """A parsed server address: its scheme as given (lower case; ``http`` when none was),
    and ``host[:port][/base]`` without a trailing ``/``."""

    scheme: str
    location: str

    @property
    def secure(self) -> bool:
        """True for https / wss."""
        return _SCHEMES[self.scheme]

    @property
    def http(self) -> str:
        """The HTTP base URL: ``http(s)://host[:port][/base]``."""
        return f"{'https' if self.secure else 'http'}://{self.location}"

    @property
    def ws(self) -> str:
        """The WebSocket base URL: ``ws(s)://host[:port][/base]``."""
        return f"{'wss' if self.secure else 'ws'}://{self.location}"

    @property
    def as_given(self) -> str:
        """The address in its own scheme: ``scheme://host[:port][/base]``."""
        return f"{self.scheme}://{self.location}"

    def with_tls(self) -> ServerUrl:
        """The same address over TLS (a secure scheme stays as it is)."""
        secure = {"http": "https", "ws": "wss"}.get(self.scheme, self.scheme)
        return ServerUrl(secure, self.location)


def parse_server_url(address: str, *, default_scheme: str = "http") -> ServerUrl:
    """Parse ``host:port[/base]`` (taking ``default_scheme``) or ``scheme://host...``; raises
    :class:`ServerUrlError` for an empty address or an unsupported scheme."""
    text = str(address).strip()
    if not text:
        raise ServerUrlError("the server address is empty")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = default_scheme, text
    scheme = scheme.lower()
    if scheme not in _SCHEMES:
        raise ServerUrlError(
            f"unsupported scheme {scheme!r} in {address!r} (use http, https, ws or wss)"
        )
    return ServerUrl(scheme, rest.rstrip("/"))


def fetch_schema_json(
    server: ServerUrl, database: str, *, token: str | None = None, timeout: float = 30.0
) -> tuple[Any, bytes, int]:
    """The parsed schema of ``database``, its raw bytes and the version (10 or 9) that
    answered. Raises :class:`SchemaFetchError`."""
    base = server.http
    path = f"{base}/v1/database/{urllib.parse.quote(database, safe='')}/schema"
    status, body, version = 0, b"", 10
    try:
        for version in (10, 9):
            status, body = _get(f"{path}?version={version}", token, timeout)
            if not 400 <= status < 500:
                break
    except urllib.error.URLError as exc:
        reason = (
            exc.reason
            if isinstance(exc.reason, str)
            else (getattr(exc.reason, "strerror", None) or str(exc.reason))
        )
        raise SchemaFetchError(f"cannot reach server {base}: {reason}") from exc
    except (TimeoutError, OSError) as exc:
        raise SchemaFetchError(f"cannot reach server {base}: {exc.strerror or exc}") from exc
    if status == _HTTP_NOT_FOUND:
        raise SchemaFetchError(f"database {database!r} not found on {base}", status)
    if status != 200:
        raise SchemaFetchError(
            f"server {base} answered HTTP {status} for the schema of {database!r}: "
            f"{_body_text(body)}",
            status,
        )
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SchemaFetchError(f"server {base} sent a schema that is not JSON: {exc}") from exc
    return document, body, version


def _get(url: str, token: str | None, timeout: float) -> tuple[int, bytes]:
    headers = {"Accept": "application/json", "User-Agent": f"spacetimedb-sdk/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read()
        except OSError:
            body = b""
        return exc.code, body


def _body_text(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text[:200] if text else "(empty body)"
