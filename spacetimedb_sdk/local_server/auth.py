"""Keys, tokens and identities of the local test server, matching the real server's local issuer.

* Identities are derived from a token's ``(iss, sub)`` exactly like SpacetimeDB does (BLAKE3
  based, docs/protocol.md#identity-derivation), so a token minted here maps to the same Identity
  on a real server and back.
* Tokens are ES256 JWTs with the claims ``hex_identity, sub, iss, aud, iat, exp`` in that order
  (plus any extra claims), signed with a P-256 key pair that is either kept in memory or stored as
  the PEM files ``id_ecdsa`` / ``id_ecdsa.pub`` in a data directory, like ``spacetime start``.
* Validation follows the real server's rules (docs/protocol.md#token-contents): signature by our key, ``sub``/``iss`` present,
  non-empty and at most 128 bytes, integer ``iat`` required, ``exp`` optional (``null`` = never)
  and checked with a 60 s leeway, ``hex_identity`` (when present) equal to the derived identity.
  Failures raise :class:`AuthError` carrying the HTTP status and text the real server answers with.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import blake3
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.identity import Identity


def _blake3(data: bytes) -> bytes:
    """The 32-byte BLAKE3 digest (used by docs/protocol.md#identity-derivation)."""
    return blake3.blake3(data).digest()


__all__ = [
    "ANONYMOUS_AUDIENCE",
    "EXPIRY_LEEWAY_SECONDS",
    "LOCAL_ISSUER",
    "PRIVATE_KEY_FILE",
    "PUBLIC_KEY_CONTENT_TYPE",
    "PUBLIC_KEY_FILE",
    "WEBSOCKET_TOKEN_LIFETIME_SECONDS",
    "AuthError",
    "JwtKeys",
    "TokenClaims",
    "TokenIssuer",
    "bearer_token",
    "decode_payload_unverified",
    "identity_from_claims",
]

#: The ``iss`` of every token the standalone server mints itself.
LOCAL_ISSUER: Final = "localhost"
#: The ``aud`` of anonymous tokens (a placeholder the server never checks).
ANONYMOUS_AUDIENCE: Final = ("spacetimedb",)
#: Lifetime of the short-lived tokens from ``POST /v1/identity/websocket-token``.
WEBSOCKET_TOKEN_LIFETIME_SECONDS: Final = 60
#: Clock skew tolerated when checking ``exp`` (the JWT library default the server uses).
EXPIRY_LEEWAY_SECONDS: Final = 60
#: File names of the key pair inside a data directory (same names as the real server).
PRIVATE_KEY_FILE: Final = "id_ecdsa"
PUBLIC_KEY_FILE: Final = "id_ecdsa.pub"
#: ``Content-Type`` of ``GET /v1/identity/public-key``.
PUBLIC_KEY_CONTENT_TYPE: Final = "application/pem-certificate-chain"

_MAX_CLAIM_BYTES: Final = 128
_IDENTITY_TAG: Final = bytes([0xC2, 0x00])
_ALGORITHM: Final = "ES256"
# Claims with a meaning of their own; everything else is an "extra" claim copied on re-signing.
_KNOWN_CLAIMS: Final = frozenset({"hex_identity", "sub", "iss", "aud", "iat", "exp"})


class AuthError(SpacetimeDBError):
    """A credential was rejected, or the key files are unusable.

    ``status`` is the HTTP status the real server answers with (401 for a bad token, 400 for a
    malformed ``Authorization`` header, 500 for key problems); ``str(error)`` is its body text.
    """

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@lru_cache(maxsize=4096)
def identity_from_claims(issuer: str, subject: str) -> Identity:
    """The Identity SpacetimeDB derives from ``iss`` and ``sub`` (docs/protocol.md#identity-derivation)."""
    id_hash = _blake3(f"{issuer}|{subject}".encode())[:26]
    checksum = _blake3(_IDENTITY_TAG + id_hash)[:4]
    return Identity.from_be_bytes(_IDENTITY_TAG + checksum + id_hash)


@dataclass(frozen=True)
class TokenClaims:
    """The validated contents of a token.

    ``audience`` is normalised to a tuple (a single-string ``aud`` becomes one element, a missing
    one empty); ``expires_at`` is ``None`` for tokens that never expire; ``extra`` holds every
    other claim, in token order.
    """

    identity: Identity
    subject: str
    issuer: str
    audience: tuple[str, ...]
    issued_at: int
    expires_at: int | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The JWT payload in the server's claim order (extra claims last)."""
        payload: dict[str, Any] = {
            "hex_identity": self.identity.to_hex(),
            "sub": self.subject,
            "iss": self.issuer,
            "aud": list(self.audience),
            "iat": self.issued_at,
            "exp": self.expires_at,
        }
        for key, value in self.extra.items():
            payload.setdefault(key, value)
        return payload


def decode_payload_unverified(token: str) -> dict[str, Any]:
    """The payload of a JWT without any verification (for display and issuer look-ups only)."""
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise AuthError(f"Invalid token: {_jwt_error_kind(exc)}") from None
    if not isinstance(payload, dict):
        raise AuthError("Invalid token: InvalidToken")
    return payload


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value.

    Anything else (another scheme, or ``Bearer`` without a token) is the real server's
    ``400 Authorization is invalid: malformed token``.
    """
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise AuthError("Authorization is invalid: malformed token", status=400)
    return token


class JwtKeys:
    """The server's ES256 (P-256) signing key and its public half, with their PEM forms."""

    __slots__ = ("_private_key", "_private_pem", "_public_key", "_public_pem")

    def __init__(self, private_pem: bytes, public_pem: bytes) -> None:
        try:
            private_key = serialization.load_pem_private_key(private_pem, password=None)
            public_key = serialization.load_pem_public_key(public_pem)
        except (ValueError, TypeError) as exc:
            raise AuthError(f"Unable to load the JWT key pair: {exc}", status=500) from None
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            public_key, ec.EllipticCurvePublicKey
        ):
            raise AuthError("The JWT key pair must be EC keys", status=500)
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise AuthError("The JWT key pair must use the P-256 curve", status=500)
        if private_key.public_key().public_numbers() != public_key.public_numbers():
            raise AuthError("The JWT public key does not belong to the private key", status=500)
        self._private_key = private_key
        self._public_key = public_key
        self._private_pem = bytes(private_pem)
        self._public_pem = bytes(public_pem)

    @classmethod
    def generate(cls) -> JwtKeys:
        """A fresh key pair, kept in memory only."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        private_pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(private_pem, public_pem)

    @classmethod
    def load(cls, data_dir: str | os.PathLike[str]) -> JwtKeys:
        """Read ``id_ecdsa`` and ``id_ecdsa.pub`` from ``data_dir``."""
        directory = Path(data_dir)
        try:
            private_pem = (directory / PRIVATE_KEY_FILE).read_bytes()
            public_pem = (directory / PUBLIC_KEY_FILE).read_bytes()
        except OSError as exc:
            raise AuthError(f"Unable to read the JWT key pair: {exc}", status=500) from None
        return cls(private_pem, public_pem)

    @classmethod
    def load_or_create(cls, data_dir: str | os.PathLike[str]) -> JwtKeys:
        """Load the key pair from ``data_dir``, generating and saving one (mode 0600) if absent.

        Like the real server, exactly one of the two files existing is an error rather than a
        reason to silently replace the identity-bearing key.
        """
        directory = Path(data_dir)
        private_path = directory / PRIVATE_KEY_FILE
        public_path = directory / PUBLIC_KEY_FILE
        has_private, has_public = private_path.exists(), public_path.exists()
        if has_private and has_public:
            return cls.load(directory)
        if has_private:
            raise AuthError("Unable to read public key for JWT token verification", status=500)
        if has_public:
            raise AuthError("Unable to read private key for JWT token signing", status=500)
        keys = cls.generate()
        directory.mkdir(parents=True, exist_ok=True)
        _write_private_file(private_path, keys.private_key_pem)
        _write_private_file(public_path, keys.public_key_pem)
        return keys

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        """The signing key."""
        return self._private_key

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The verification key."""
        return self._public_key

    @property
    def private_key_pem(self) -> bytes:
        """The private key as PKCS#8 PEM."""
        return self._private_pem

    @property
    def public_key_pem(self) -> bytes:
        """The public key PEM, byte for byte what ``GET /v1/identity/public-key`` serves."""
        return self._public_pem


def _write_private_file(path: Path, data: bytes) -> None:
    # Write to a temporary sibling and rename, so a crash never leaves a truncated key behind.
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


class TokenIssuer:
    """Mints and validates tokens the way the real server's local issuer does."""

    def __init__(self, keys: JwtKeys | None = None, issuer: str = LOCAL_ISSUER) -> None:
        self.keys = keys if keys is not None else JwtKeys.generate()
        self.issuer = issuer

    @property
    def public_key_pem(self) -> bytes:
        """The body of ``GET /v1/identity/public-key``."""
        return self.keys.public_key_pem

    def sign(self, claims: TokenClaims) -> str:
        """Sign ``claims`` as an ES256 JWT with header ``{"typ":"JWT","alg":"ES256"}``."""
        return jwt.encode(
            claims.to_payload(),
            self.keys.private_key,
            algorithm=_ALGORITHM,
            headers={"typ": "JWT", "alg": _ALGORITHM},
            sort_headers=False,
        )

    def mint(
        self,
        subject: str,
        *,
        issuer: str | None = None,
        audience: tuple[str, ...] = ANONYMOUS_AUDIENCE,
        issued_at: int | None = None,
        expires_at: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[TokenClaims, str]:
        """Sign a token for ``subject`` (issuer defaults to ours); returns claims and token."""
        iss = self.issuer if issuer is None else issuer
        claims = TokenClaims(
            identity=identity_from_claims(iss, subject),
            subject=subject,
            issuer=iss,
            audience=tuple(audience),
            issued_at=int(time.time()) if issued_at is None else issued_at,
            expires_at=expires_at,
            extra=dict(extra or {}),
        )
        return claims, self.sign(claims)

    def mint_anonymous(self) -> tuple[TokenClaims, str]:
        """A brand-new identity: random UUIDv4 subject, our issuer, ``exp`` null (docs/protocol.md#token-contents)."""
        return self.mint(str(uuid.uuid4()))

    def websocket_token(self, claims: TokenClaims, *, now: int | None = None) -> str:
        """Re-sign validated ``claims`` with a new ``iat`` and ``exp = iat + 60``.

        ``iss``/``sub``/``aud`` and extra claims are kept, so the identity is unchanged; the
        token is signed with our key even when ``iss`` is another issuer, as the server does.
        """
        issued_at = int(time.time()) if now is None else now
        renewed = TokenClaims(
            identity=claims.identity,
            subject=claims.subject,
            issuer=claims.issuer,
            audience=claims.audience,
            issued_at=issued_at,
            expires_at=issued_at + WEBSOCKET_TOKEN_LIFETIME_SECONDS,
            extra=claims.extra,
        )
        return self.sign(renewed)

    def validate(
        self, token: str, *, now: float | None = None, accept_foreign_issuers: bool = False
    ) -> TokenClaims:
        """Check ``token`` and return its claims, or raise :class:`AuthError` (status 401).

        A token must be signed by our key, whatever its ``iss``. The real server would also
        accept a token of another issuer if it verifies against that issuer's OIDC keys; a local
        server cannot fetch those, so ``accept_foreign_issuers=True`` instead trusts such tokens'
        claims without a signature check (tokens claiming *our* issuer are always verified).
        """
        if not isinstance(token, str) or token.count(".") != 2:
            raise AuthError("Invalid token: InvalidToken")
        try:
            payload = jwt.decode(
                token,
                self.keys.public_key,
                algorithms=[_ALGORITHM],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "require": [],
                },
            )
        except jwt.InvalidSignatureError:
            payload = self._foreign_payload(token, accept_foreign_issuers, "InvalidSignature")
        except jwt.InvalidAlgorithmError:
            payload = self._foreign_payload(token, accept_foreign_issuers, "InvalidAlgorithm")
        except jwt.PyJWTError as exc:
            raise AuthError(f"Invalid token: {_jwt_error_kind(exc)}") from None
        return _claims_from_payload(payload, time.time() if now is None else now)

    def _foreign_payload(self, token: str, accept: bool, kind: str) -> dict[str, Any]:
        payload = decode_payload_unverified(token)
        if accept and payload.get("iss") != self.issuer:
            return payload
        raise AuthError(f"Invalid token: {kind}")


def _jwt_error_kind(exc: jwt.PyJWTError) -> str:
    # Short names in the style of the Rust jsonwebtoken error kinds the server prints.
    if isinstance(exc, jwt.InvalidSignatureError):
        return "InvalidSignature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "InvalidAlgorithm"
    if isinstance(exc, jwt.DecodeError):
        return "InvalidToken"
    return type(exc).__name__


def _claims_from_payload(payload: Mapping[str, Any], now: float) -> TokenClaims:
    """Apply the server's claim rules to a payload whose signature has been dealt with."""
    for name in ("sub", "iss"):
        if name not in payload:
            raise AuthError(f"Invalid token: MissingRequiredClaim({json.dumps(name)})")
    subject, issuer = payload["sub"], payload["iss"]
    if not isinstance(subject, str) or not isinstance(issuer, str):
        raise AuthError("Invalid token: `sub` and `iss` must be strings")
    iat = payload.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise AuthError("Invalid token: missing or non-integer field `iat`")
    exp = payload.get("exp")
    if exp is not None and (not isinstance(exp, (int, float)) or isinstance(exp, bool)):
        raise AuthError('Invalid token: InvalidClaimFormat("exp")')
    if exp is not None and exp < now - EXPIRY_LEEWAY_SECONDS:
        raise AuthError("Invalid token: ExpiredSignature")
    audience = _audience(payload.get("aud"))

    if len(issuer.encode()) > _MAX_CLAIM_BYTES:
        raise AuthError(f"Issuer too long: {json.dumps(issuer)}")
    if len(subject.encode()) > _MAX_CLAIM_BYTES:
        raise AuthError(f"Subject too long: {json.dumps(subject)}")
    if not issuer:
        raise AuthError("Issuer empty")
    if not subject:
        raise AuthError("Subject empty")

    identity = identity_from_claims(issuer, subject)
    hex_identity = payload.get("hex_identity")
    if hex_identity is not None:
        claimed = _parse_hex_identity(hex_identity)
        if claimed != identity:
            raise AuthError(
                f'Identity mismatch: token identity Identity("{claimed.to_hex()}") does not match '
                f'computed identity Identity("{identity.to_hex()}")'
            )
    extra = {key: value for key, value in payload.items() if key not in _KNOWN_CLAIMS}
    return TokenClaims(
        identity=identity,
        subject=subject,
        issuer=issuer,
        audience=audience,
        issued_at=iat,
        expires_at=None if exp is None else int(exp),
        extra=extra,
    )


def _audience(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise AuthError("Invalid token: `aud` must be a string or an array of strings")


def _parse_hex_identity(value: Any) -> Identity:
    # The server reads hex_identity as exactly 32 bytes of hex (an optional 0x prefix allowed).
    text = value[2:] if isinstance(value, str) and value.startswith("0x") else value
    if not isinstance(text, str) or len(text) != 64:
        raise AuthError("Invalid token: `hex_identity` must be 64 hex digits")
    try:
        return Identity(bytes.fromhex(text))
    except ValueError:
        raise AuthError("Invalid token: `hex_identity` must be 64 hex digits") from None
