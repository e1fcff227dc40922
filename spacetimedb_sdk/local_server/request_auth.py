"""Who is calling: credentials of an HTTP or WebSocket request (docs/protocol.md#credentials).

A token comes from ``Authorization: Bearer <jwt>`` or, only when that header is absent, from the
``token`` query parameter. A present but non-Bearer header is a 400 even if ``?token=`` is set.
Database routes run "anonymous auth": a request without credentials gets a brand-new identity
and token, minted for it alone. Identity routes and ``/v1/ping`` never mint.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.auth import TokenClaims, TokenIssuer, bearer_token

__all__ = [
    "IDENTITY_HEADER",
    "IDENTITY_TOKEN_HEADER",
    "Caller",
    "authenticate",
    "caller_headers",
    "presented_token",
    "token_payload",
]

#: Response headers describing the caller on database routes and the WebSocket upgrade.
IDENTITY_HEADER: Final = "spacetime-identity"
IDENTITY_TOKEN_HEADER: Final = "spacetime-identity-token"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: its identity, the token in use and whether it was just minted."""

    identity: Identity
    token: str
    claims: TokenClaims
    minted: bool = False


def presented_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token the request carries, or None (raises :class:`AuthError` 400 for a bad header)."""
    authorization = headers.get("Authorization")
    if authorization is not None:
        return bearer_token(authorization)
    return query.get("token")


def authenticate(
    issuer: TokenIssuer,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    *,
    mint_anonymous: bool,
) -> Caller | None:
    """Validate the request's token, or mint an anonymous identity when ``mint_anonymous``.

    Returns None only when there are no credentials and minting is off. Raises
    :class:`AuthError` (401/400) for invalid credentials.
    """
    token = presented_token(headers, query)
    if token is None:
        if not mint_anonymous:
            return None
        claims, minted = issuer.mint_anonymous()
        return Caller(claims.identity, minted, claims, minted=True)
    claims = issuer.validate(token)
    return Caller(claims.identity, token, claims)


def caller_headers(caller: Caller) -> dict[str, str]:
    """The ``spacetime-identity`` / ``spacetime-identity-token`` response headers."""
    return {IDENTITY_HEADER: caller.identity.to_hex(), IDENTITY_TOKEN_HEADER: caller.token}


def token_payload(token: str) -> str:
    """The JSON payload of a (validated) JWT, as text: what ``ctx.sender_auth`` shows."""
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()
