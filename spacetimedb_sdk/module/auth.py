"""``ctx.sender_auth``: what a reducer knows about how its caller authenticated.

The host builds an :class:`AuthCtx` per call: :meth:`AuthCtx.internal` for calls the database
makes itself (``init``, scheduled functions), :meth:`AuthCtx.from_jwt_payload` with the JSON
payload of the caller's token for client calls, and :meth:`AuthCtx.no_jwt` when a client call
carries no token the host can show (a host that does not pass claims at all).

::

    @reducer
    def whoami(ctx: ReducerContext) -> None:
        claims = ctx.sender_auth.jwt
        if claims is not None and claims.issuer != "https://auth.example.com":
            raise SenderError("unexpected issuer")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from spacetimedb_sdk.identity import Identity

__all__ = ["AuthCtx", "JwtClaims"]


@dataclass(frozen=True)
class JwtClaims:
    """The claims of the caller's JSON Web Token."""

    #: The token's payload exactly as the host passed it (a JSON object as text).
    raw_payload: str
    _payload: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, raw_payload: str) -> JwtClaims:
        """Read a JSON payload (ValueError if it is not a JSON object)."""
        payload = json.loads(raw_payload)
        if not isinstance(payload, dict):
            raise ValueError("a JWT payload must be a JSON object")
        return cls(raw_payload, payload)

    @property
    def subject(self) -> str:
        """The ``sub`` claim."""
        return str(self._payload.get("sub", ""))

    @property
    def issuer(self) -> str:
        """The ``iss`` claim."""
        return str(self._payload.get("iss", ""))

    @property
    def audience(self) -> tuple[str, ...]:
        """The ``aud`` claim as a tuple (a single string becomes one element)."""
        aud = self._payload.get("aud")
        if aud is None:
            return ()
        if isinstance(aud, str):
            return (aud,)
        return tuple(str(a) for a in aud)

    @cached_property
    def identity(self) -> Identity:
        """The Identity derived from ``iss`` and ``sub`` (as the server derives it)."""
        # Imported here: the derivation (BLAKE3) lives with the server's token handling.
        from spacetimedb_sdk.local_server.auth import identity_from_claims

        return identity_from_claims(self.issuer, self.subject)

    def get(self, claim: str, default: Any = None) -> Any:
        """Any claim by name (custom claims included)."""
        return self._payload.get(claim, default)


class AuthCtx:
    """How the caller authenticated: internal call, token claims, or neither."""

    __slots__ = ("_internal", "_jwt")

    def __init__(self, internal: bool, jwt: JwtClaims | None) -> None:
        self._internal = internal
        self._jwt = jwt

    @classmethod
    def internal(cls) -> AuthCtx:
        """A call made by the database itself (``init``, a schedule): no token."""
        return cls(True, None)

    @classmethod
    def no_jwt(cls) -> AuthCtx:
        """A client call whose token claims are not available."""
        return cls(False, None)

    @classmethod
    def from_jwt_payload(cls, raw_payload: str) -> AuthCtx:
        """A client call authenticated by a token with this JSON payload."""
        return cls(False, JwtClaims.parse(raw_payload))

    @property
    def is_internal(self) -> bool:
        """True when the database itself made the call."""
        return self._internal

    @property
    def has_jwt(self) -> bool:
        """True when the caller's token claims are available."""
        return self._jwt is not None

    @property
    def jwt(self) -> JwtClaims | None:
        """The caller's token claims, if any."""
        return self._jwt

    def __repr__(self) -> str:
        if self._internal:
            return "AuthCtx.internal()"
        return "AuthCtx.no_jwt()" if self._jwt is None else f"AuthCtx(jwt={self._jwt!r})"
