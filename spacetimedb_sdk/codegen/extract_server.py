"""Fetch a database's module def from a running server (``GET /v1/database/NAME/schema``).

``version=10`` is asked first; on any 4xx answer the request is repeated with ``version=9``,
which servers older than 2.1 understand (the ``spacetime describe`` behaviour,
docs/module-def.md#schema-consumers). Both bodies are bare (not enum-wrapped) and already canonical.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Final

from spacetimedb_sdk import __version__
from spacetimedb_sdk.codegen.errors import CodegenError
from spacetimedb_sdk.codegen.source import ModuleDefSource, module_def_from_json_value
from spacetimedb_sdk.errors import SpacetimeDBError

__all__ = ["fetch_module_def", "fetch_schema_json", "normalise_server_url"]

_TIMEOUT_SECONDS: Final = 30.0
_HTTP_NOT_FOUND: Final = 404


def normalise_server_url(server: str) -> str:
    """``host:port`` → ``http://host:port``; ``ws(s)://`` → ``http(s)://``; no trailing ``/``."""
    url = server.strip()
    if not url:
        raise CodegenError("--server is empty")
    if "://" not in url:
        url = "http://" + url
    scheme, rest = url.split("://", 1)
    scheme = {"ws": "http", "wss": "https"}.get(scheme.lower(), scheme.lower())
    if scheme not in ("http", "https"):
        raise CodegenError(f"unsupported server URL scheme {scheme!r} in {server!r}")
    return f"{scheme}://{rest.rstrip('/')}"


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


def fetch_schema_json(
    server: str, database: str, *, token: str | None = None, timeout: float = _TIMEOUT_SECONDS
) -> tuple[Any, bytes, int]:
    """The parsed schema body, its raw bytes and the version (10 or 9) that answered."""
    base = normalise_server_url(server)
    if not database.strip():
        raise CodegenError("--database is empty")
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
        raise CodegenError(f"cannot reach server {base}: {reason}") from exc
    except (TimeoutError, OSError) as exc:
        raise CodegenError(f"cannot reach server {base}: {exc.strerror or exc}") from exc
    if status == _HTTP_NOT_FOUND:
        raise CodegenError(f"database {database!r} not found on {base}")
    if status != 200:
        raise CodegenError(
            f"server {base} answered HTTP {status} for the schema of {database!r}: "
            f"{_body_text(body)}"
        )
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CodegenError(f"server {base} sent a schema that is not JSON: {exc}") from exc
    return obj, body, version


def fetch_module_def(
    server: str, database: str, *, token: str | None = None, timeout: float = _TIMEOUT_SECONDS
) -> ModuleDefSource:
    """The module def of ``database`` on ``server`` (``--server``/``--database``)."""
    obj, body, _version = fetch_schema_json(server, database, token=token, timeout=timeout)
    origin = f"database {database} at {normalise_server_url(server)}"
    try:
        return module_def_from_json_value(
            obj, origin=origin, name=database, digest=hashlib.sha256(body).hexdigest()
        )
    except SpacetimeDBError as exc:
        raise CodegenError(
            f"server sent an invalid module definition for {database!r}: "
            f"{' '.join(str(exc).split())}"
        ) from exc
