"""``ctx.http``: HTTP requests from a procedure (never from a reducer: reducers must be
deterministic and quick).

::

    @procedure
    def fetch_status(ctx: ProcedureContext, url: str) -> str:
        try:
            response = ctx.http.get(url)
        except HttpError as exc:
            return f"failed: {exc}"
        return f"{response.status} {response.text()}"

Any HTTP status is a response (``status`` tells which); only a transport failure (bad address,
refused connection, timeout) raises :class:`HttpError`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from spacetimedb_sdk.errors import SpacetimeDBError

__all__ = ["HttpClient", "HttpError", "HttpResponse"]

_DEFAULT_TIMEOUT = 30.0


class HttpError(SpacetimeDBError):
    """The request could not be made or got no response."""


@dataclass(frozen=True)
class HttpResponse:
    """A response: status code, headers (lower-case names) and body bytes."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


class HttpClient:
    """Blocking HTTP requests (the procedure runs outside any transaction meanwhile)."""

    def __init__(self, timeout: float = _DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """``GET url``."""
        return self.request("GET", url, headers=headers)

    def post(
        self, url: str, body: bytes | str = b"", headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """``POST url`` with ``body`` (text is sent as UTF-8)."""
        return self.request("POST", url, body=body, headers=headers)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """Any method; returns the response whatever its status."""
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return HttpResponse(resp.status, _headers(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as exc:
            return HttpResponse(exc.code, _headers(exc.headers.items()), exc.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HttpError(f"error sending request for url ({url}): {reason}") from exc


def _headers(items: object) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in items}  # type: ignore[attr-defined]
