"""Fetch a database's module def from a running server (``GET /v1/database/NAME/schema``).

The request and its rule (``version=10``, then ``version=9`` on a 4xx answer, for servers older
than 2.1; docs/module-def.md#schema-consumers) live in :mod:`spacetimedb_sdk.server_url`; this
module turns its errors into ``CodegenError``. Both bodies are bare (not enum-wrapped) and
already canonical.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from spacetimedb_sdk.codegen.errors import CodegenError
from spacetimedb_sdk.codegen.source import ModuleDefSource, module_def_from_json_value
from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.server_url import (
    SchemaFetchError,
    ServerUrlError,
    parse_server_url,
)
from spacetimedb_sdk.server_url import (
    fetch_schema_json as _fetch_schema_json,
)

__all__ = ["fetch_module_def", "fetch_schema_json", "normalise_server_url"]

_TIMEOUT_SECONDS: Final = 30.0


def normalise_server_url(server: str) -> str:
    """``host:port`` → ``http://host:port``; ``ws(s)://`` → ``http(s)://``; no trailing ``/``."""
    if not server.strip():
        raise CodegenError("--server is empty")
    try:
        return parse_server_url(server).http
    except ServerUrlError as exc:
        raise CodegenError(f"--server: {exc}") from exc


def fetch_schema_json(
    server: str, database: str, *, token: str | None = None, timeout: float = _TIMEOUT_SECONDS
) -> tuple[Any, bytes, int]:
    """The parsed schema body, its raw bytes and the version (10 or 9) that answered."""
    base = normalise_server_url(server)
    if not database.strip():
        raise CodegenError("--database is empty")
    try:
        return _fetch_schema_json(parse_server_url(base), database, token=token, timeout=timeout)
    except SchemaFetchError as exc:
        raise CodegenError(str(exc)) from exc


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
