"""``host`` + ``ssl_enabled`` (the 0.7 arguments) -> the server URI the modern client takes.

0.7 expected a bare ``host:port`` and chose ``ws``/``wss`` from ``ssl_enabled``, while its README
showed ``http://localhost:3000``. Both work here:

* ``localhost:3000`` -> ``http://localhost:3000`` (``https://`` with ``ssl_enabled``);
* ``http://``, ``https://``, ``ws://``, ``wss://`` are kept; ``ssl_enabled=True`` upgrades
  ``http``/``ws`` to ``https``/``wss`` (a secure scheme is never downgraded).
"""

from __future__ import annotations

__all__ = ["legacy_uri"]

_SECURE = {"http": "https", "ws": "wss", "https": "https", "wss": "wss"}


def legacy_uri(host: str, ssl_enabled: bool) -> str:
    """The URI for ``DbConnectionBuilder.with_uri`` (raises ValueError for other schemes)."""
    text = str(host).strip()
    if not text:
        raise ValueError("the host is empty")
    scheme, sep, rest = text.partition("://")
    if not sep:
        return f"{'https' if ssl_enabled else 'http'}://{text.rstrip('/')}"
    scheme = scheme.lower()
    if scheme not in _SECURE:
        raise ValueError(f"unsupported scheme {scheme!r} in host {host!r} (use http(s) or ws(s))")
    if ssl_enabled:
        scheme = _SECURE[scheme]
    return f"{scheme}://{rest.rstrip('/')}"
