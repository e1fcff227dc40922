"""``host`` + ``ssl_enabled`` (the 0.7 arguments) -> the server URI the modern client takes.

0.7 expected a bare ``host:port`` and chose ``ws``/``wss`` from ``ssl_enabled``, while its README
showed ``http://localhost:3000``. Both work here:

* ``localhost:3000`` -> ``http://localhost:3000`` (``https://`` with ``ssl_enabled``);
* ``http://``, ``https://``, ``ws://``, ``wss://`` are kept; ``ssl_enabled=True`` upgrades
  ``http``/``ws`` to ``https``/``wss`` (a secure scheme is never downgraded).
"""

from __future__ import annotations

from spacetimedb_sdk.server_url import parse_server_url

__all__ = ["legacy_uri"]


def legacy_uri(host: str, ssl_enabled: bool) -> str:
    """The URI for ``DbConnectionBuilder.with_uri`` (raises ValueError for other schemes)."""
    server = parse_server_url(host, default_scheme="https" if ssl_enabled else "http")
    return (server.with_tls() if ssl_enabled else server).as_given
