"""A local, SpacetimeDB-compatible server for tests (hosts Python modules; never imported by clients).

``from spacetimedb_sdk.local_server import LocalServer`` is the entry point (see
:mod:`spacetimedb_sdk.local_server.server`). This subpackage needs the optional ``server`` extra
(``pip install -e '.[server]'`` in a checkout of this repository: aiohttp, sqlglot,
pyjwt[crypto], blake3; the package index's ``spacetimedb-sdk`` is the unrelated 0.7 SDK).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacetimedb_sdk.local_server.server import LocalServer

__all__ = ["LocalServer"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that the light modules (auth, sql) load without the web stack.
    if name == "LocalServer":
        try:
            from spacetimedb_sdk.local_server.server import LocalServer
        except ImportError as exc:
            raise ImportError(
                f"the local server needs the 'server' extra ({exc}); "
                "install it from a checkout of this repository with: pip install -e '.[server]'"
            ) from exc
        return LocalServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
