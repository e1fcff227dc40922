"""Tokens, keys and identity derivation of the local test server (docs/protocol.md#tokens-and-identities)."""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.auth import (
    ANONYMOUS_AUDIENCE,
    LOCAL_ISSUER,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    WEBSOCKET_TOKEN_LIFETIME_SECONDS,
    AuthError,
    JwtKeys,
    TokenClaims,
    TokenIssuer,
    bearer_token,
    decode_payload_unverified,
    identity_from_claims,
)
from spacetimedb_sdk.local_server.auth import _blake3 as blake3_digest


def _segment(token: str, index: int) -> Any:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _raw_segment(token: str, index: int) -> bytes:
    part = token.split(".")[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer()


# --- identity derivation (docs/protocol.md#identity-derivation) -----------------------------------


@pytest.mark.parametrize(
    ("iss", "sub", "expected"),
    [
        (
            "localhost",
            "test-subject",
            "c200b3ce65d91b79ecfb7d881cd65bf8da2f647d590af1474ad19faa7aa87e38",
        ),
        ("localhost", "alice", "c20035600353a2e93544d898c6ed0eac323e200c0468300f22958f8b472a265d"),
        (
            "localhost",
            "00000000-0000-4000-8000-000000000000",
            "c200085d8c451325cc207f963918b762072fff5388fca7006b89f4a2a7d3ee5e",
        ),
        (
            "https://auth.example.com",
            "user-123",
            "c2000e9c6bea96ed193403b2bc12b1fa4e8ec2970024252762dbf8a7ddda7157",
        ),
    ],
)
def test_identity_vectors_from_spec(iss: str, sub: str, expected: str) -> None:
    identity = identity_from_claims(iss, sub)
    assert isinstance(identity, Identity)
    assert identity.to_hex() == expected
    assert identity.to_bsatn_bytes() == bytes.fromhex(expected)[::-1]


def test_identity_intermediate_hash_from_spec() -> None:
    digest = blake3_digest(b"localhost|test-subject")
    assert digest.hex() == "1b79ecfb7d881cd65bf8da2f647d590af1474ad19faa7aa87e3822a9892184da"


@pytest.mark.parametrize(
    ("length", "prefix"),
    [
        # Official BLAKE3 test vectors (input = bytes 0..250 repeating), first 32 bytes of output.
        (0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"),
        (1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"),
        (1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"),
        (1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"),
        (1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"),
        (2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b687952256303"),
        (3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3"),
        (4097, "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995"),
        (7169, "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817"),
    ],
)
def test_blake3_official_vectors(length: int, prefix: str) -> None:
    data = bytes(i % 251 for i in range(length))
    assert blake3_digest(data).hex().startswith(prefix)


def test_identity_always_carries_the_c200_tag() -> None:
    for subject in ("a", "b", "", "x" * 128):
        assert identity_from_claims("localhost", subject).to_hex().startswith("c200")


# --- minting (docs/protocol.md#token-contents) ----------------------------------------------------


def test_spec_example_payload_is_reproduced_byte_for_byte(issuer: TokenIssuer) -> None:
    claims, token = issuer.mint(
        "00000000-0000-4000-8000-000000000000", issued_at=1704067200, expires_at=None
    )
    assert _raw_segment(token, 1) == (
        b'{"hex_identity":"c200085d8c451325cc207f963918b762072fff5388fca7006b89f4a2a7d3ee5e",'
        b'"sub":"00000000-0000-4000-8000-000000000000","iss":"localhost","aud":["spacetimedb"],'
        b'"iat":1704067200,"exp":null}'
    )
    assert _raw_segment(token, 0) == b'{"typ":"JWT","alg":"ES256"}'
    assert claims.identity.to_hex() == (
        "c200085d8c451325cc207f963918b762072fff5388fca7006b89f4a2a7d3ee5e"
    )


def test_mint_anonymous(issuer: TokenIssuer) -> None:
    before = int(time.time())
    claims, token = issuer.mint_anonymous()
    payload = _segment(token, 1)
    assert list(payload) == ["hex_identity", "sub", "iss", "aud", "iat", "exp"]
    assert payload["iss"] == LOCAL_ISSUER == "localhost"
    assert payload["aud"] == list(ANONYMOUS_AUDIENCE) == ["spacetimedb"]
    assert payload["exp"] is None
    assert before <= payload["iat"] <= int(time.time())
    assert len(payload["sub"]) == 36 and payload["sub"][14] == "4"  # a UUIDv4
    assert payload["hex_identity"] == claims.identity.to_hex()
    assert claims.identity == identity_from_claims("localhost", payload["sub"])
    assert issuer.mint_anonymous()[0].identity != claims.identity


def test_token_round_trip(issuer: TokenIssuer) -> None:
    claims, token = issuer.mint("alice", extra={"role": "admin"})
    validated = issuer.validate(token)
    assert validated == claims
    assert validated.identity.to_hex() == (
        "c20035600353a2e93544d898c6ed0eac323e200c0468300f22958f8b472a265d"
    )
    assert validated.extra == {"role": "admin"}
    # The token is an ordinary ES256 JWT that any JWT library verifies with the public key.
    decoded = jwt.decode(
        token,
        issuer.keys.public_key,
        algorithms=["ES256"],
        options={"verify_aud": False, "verify_exp": False},
    )
    assert decoded["sub"] == "alice"


def test_token_claims_payload_keeps_extra_claims_last() -> None:
    claims = TokenClaims(
        identity=identity_from_claims("localhost", "bob"),
        subject="bob",
        issuer="localhost",
        audience=(),
        issued_at=1,
        expires_at=2,
        extra={"zzz": 1, "sub": "ignored"},
    )
    payload = claims.to_payload()
    assert list(payload) == ["hex_identity", "sub", "iss", "aud", "iat", "exp", "zzz"]
    assert payload["sub"] == "bob"


# --- validation -----------------------------------------------------------------------------


def _sign_raw(issuer: TokenIssuer, payload: dict[str, Any]) -> str:
    return jwt.encode(payload, issuer.keys.private_key, algorithm="ES256")


def test_tampered_token_is_rejected(issuer: TokenIssuer) -> None:
    _, token = issuer.mint("alice")
    header, payload, signature = token.split(".")
    forged = dict(_segment(token, 1), sub="mallory")
    forged.pop("hex_identity")
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthError) as info:
        issuer.validate(f"{header}.{forged_payload}.{signature}")
    assert info.value.status == 401
    assert str(info.value) == "Invalid token: InvalidSignature"

    # A flipped signature byte is caught too.
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(AuthError, match="InvalidSignature"):
        issuer.validate(f"{header}.{payload}.{flipped}")


def test_token_from_another_key_is_rejected(issuer: TokenIssuer) -> None:
    _, token = TokenIssuer().mint("alice")
    with pytest.raises(AuthError, match="InvalidSignature"):
        issuer.validate(token)


def test_garbage_is_rejected(issuer: TokenIssuer) -> None:
    for token in ("", "abc", "a.b", "a.b.c", "a.b.c.d"):
        with pytest.raises(AuthError) as info:
            issuer.validate(token)
        assert info.value.status == 401
        assert str(info.value).startswith("Invalid token")


def test_expired_token_is_rejected(issuer: TokenIssuer) -> None:
    now = int(time.time())
    _, token = issuer.mint("alice", issued_at=now - 7200, expires_at=now - 3600)
    with pytest.raises(AuthError) as info:
        issuer.validate(token)
    assert str(info.value) == "Invalid token: ExpiredSignature"
    assert info.value.status == 401


def test_expiry_has_sixty_seconds_leeway(issuer: TokenIssuer) -> None:
    now = int(time.time())
    _, token = issuer.mint("alice", issued_at=now - 100, expires_at=now - 30)
    assert issuer.validate(token).expires_at == now - 30
    with pytest.raises(AuthError, match="ExpiredSignature"):
        issuer.validate(token, now=now + 31)


def test_null_or_missing_exp_never_expires(issuer: TokenIssuer) -> None:
    _, token = issuer.mint("alice", issued_at=0)
    assert issuer.validate(token, now=10**12).expires_at is None
    token = _sign_raw(issuer, {"sub": "alice", "iss": "localhost", "iat": 0})
    assert issuer.validate(token, now=10**12).expires_at is None


def test_mismatched_hex_identity_is_rejected(issuer: TokenIssuer) -> None:
    wrong = identity_from_claims("localhost", "bob").to_hex()
    token = _sign_raw(
        issuer, {"hex_identity": wrong, "sub": "alice", "iss": "localhost", "iat": 0, "exp": None}
    )
    with pytest.raises(AuthError) as info:
        issuer.validate(token)
    assert str(info.value).startswith("Identity mismatch: token identity")
    assert wrong in str(info.value)
    assert info.value.status == 401


def test_hex_identity_is_optional_and_may_have_0x(issuer: TokenIssuer) -> None:
    token = _sign_raw(issuer, {"sub": "alice", "iss": "localhost", "iat": 0})
    expected = identity_from_claims("localhost", "alice")
    assert issuer.validate(token).identity == expected
    token = _sign_raw(
        issuer,
        {"hex_identity": "0x" + expected.to_hex(), "sub": "alice", "iss": "localhost", "iat": 0},
    )
    assert issuer.validate(token).identity == expected
    token = _sign_raw(
        issuer, {"hex_identity": "c200", "sub": "alice", "iss": "localhost", "iat": 0}
    )
    with pytest.raises(AuthError, match="hex_identity"):
        issuer.validate(token)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"iss": "localhost", "iat": 0}, 'MissingRequiredClaim("sub")'),
        ({"sub": "alice", "iat": 0}, 'MissingRequiredClaim("iss")'),
        ({"sub": "alice", "iss": "localhost"}, "iat"),
        ({"sub": "alice", "iss": "localhost", "iat": "yesterday"}, "iat"),
        ({"sub": "", "iss": "localhost", "iat": 0}, "Subject empty"),
        ({"sub": "alice", "iss": "", "iat": 0}, "Issuer empty"),
        ({"sub": "x" * 129, "iss": "localhost", "iat": 0}, "Subject too long"),
        ({"sub": "alice", "iss": "x" * 129, "iat": 0}, "Issuer too long"),
        ({"sub": "alice", "iss": "localhost", "iat": 0, "aud": 5}, "aud"),
    ],
)
def test_claim_rules(issuer: TokenIssuer, payload: dict[str, Any], message: str) -> None:
    with pytest.raises(AuthError, match=message.replace("(", r"\(").replace(")", r"\)")):
        issuer.validate(_sign_raw(issuer, payload))


def test_audience_forms(issuer: TokenIssuer) -> None:
    base = {"sub": "alice", "iss": "localhost", "iat": 0}
    assert issuer.validate(_sign_raw(issuer, base)).audience == ()
    assert issuer.validate(_sign_raw(issuer, {**base, "aud": "one"})).audience == ("one",)
    assert issuer.validate(_sign_raw(issuer, {**base, "aud": ["a", "b"]})).audience == ("a", "b")


def test_foreign_issuer_tokens(issuer: TokenIssuer) -> None:
    other = TokenIssuer(issuer="https://auth.example.com")
    claims, token = other.mint("user-123", audience=("my-app",))
    with pytest.raises(AuthError, match="InvalidSignature"):
        issuer.validate(token)
    accepted = issuer.validate(token, accept_foreign_issuers=True)
    assert accepted.identity.to_hex() == (
        "c2000e9c6bea96ed193403b2bc12b1fa4e8ec2970024252762dbf8a7ddda7157"
    )
    assert accepted == claims
    # A token claiming *our* issuer must carry our signature, whatever the flag says.
    _, impostor = TokenIssuer().mint("alice")
    with pytest.raises(AuthError, match="InvalidSignature"):
        issuer.validate(impostor, accept_foreign_issuers=True)


# --- websocket tokens (docs/protocol.md#identity-routes) ------------------------------------------


def test_websocket_token(issuer: TokenIssuer) -> None:
    claims, token = issuer.mint("alice", issued_at=1_000, extra={"scope": ["x"]})
    now = int(time.time())
    short = issuer.websocket_token(issuer.validate(token), now=now)
    payload = _segment(short, 1)
    assert payload["exp"] == payload["iat"] + WEBSOCKET_TOKEN_LIFETIME_SECONDS == now + 60
    assert payload["sub"] == "alice" and payload["iss"] == "localhost"
    assert payload["aud"] == ["spacetimedb"]
    assert payload["scope"] == ["x"]
    renewed = issuer.validate(short)
    assert renewed.identity == claims.identity
    with pytest.raises(AuthError, match="ExpiredSignature"):
        issuer.validate(short, now=now + 60 + 61)


def test_websocket_token_for_foreign_issuer_is_signed_by_us(issuer: TokenIssuer) -> None:
    _, token = TokenIssuer(issuer="https://auth.example.com").mint("user-123")
    claims = issuer.validate(token, accept_foreign_issuers=True)
    short = issuer.websocket_token(claims)
    assert _segment(short, 1)["iss"] == "https://auth.example.com"
    assert issuer.validate(short).identity == claims.identity


# --- keys ------------------------------------------------------------------------------------


def test_public_key_pem(issuer: TokenIssuer) -> None:
    pem = issuer.public_key_pem
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert pem.rstrip().endswith(b"-----END PUBLIC KEY-----")
    assert pem == issuer.keys.public_key_pem
    assert b"PRIVATE" not in pem


def test_keys_persist_across_instances(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = JwtKeys.load_or_create(data_dir)
    for name in (PRIVATE_KEY_FILE, PUBLIC_KEY_FILE):
        mode = stat.S_IMODE((data_dir / name).stat().st_mode)
        assert mode == 0o600, oct(mode)
    assert (data_dir / PUBLIC_KEY_FILE).read_bytes() == first.public_key_pem
    assert (data_dir / PRIVATE_KEY_FILE).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert sorted(p.name for p in data_dir.iterdir()) == [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]

    second = JwtKeys.load_or_create(data_dir)
    assert second.public_key_pem == first.public_key_pem
    assert JwtKeys.load(data_dir).private_key_pem == first.private_key_pem

    _, token = TokenIssuer(first).mint("alice")
    assert TokenIssuer(second).validate(token).subject == "alice"


def test_in_memory_keys_differ() -> None:
    assert JwtKeys.generate().public_key_pem != JwtKeys.generate().public_key_pem


def test_half_a_key_pair_is_an_error(tmp_path: Path) -> None:
    keys = JwtKeys.generate()
    (tmp_path / PRIVATE_KEY_FILE).write_bytes(keys.private_key_pem)
    with pytest.raises(AuthError, match="public key"):
        JwtKeys.load_or_create(tmp_path)
    (tmp_path / PRIVATE_KEY_FILE).unlink()
    (tmp_path / PUBLIC_KEY_FILE).write_bytes(keys.public_key_pem)
    with pytest.raises(AuthError, match="private key"):
        JwtKeys.load_or_create(tmp_path)


def test_mismatched_key_files_are_an_error() -> None:
    a, b = JwtKeys.generate(), JwtKeys.generate()
    with pytest.raises(AuthError, match="does not belong"):
        JwtKeys(a.private_key_pem, b.public_key_pem)
    with pytest.raises(AuthError):
        JwtKeys(b"not a key", a.public_key_pem)


# --- helpers ---------------------------------------------------------------------------------


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer  abc") == "abc"
    for bad in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "abc", "Bearer a b"):
        with pytest.raises(AuthError) as info:
            bearer_token(bad)
        assert info.value.status == 400
        assert str(info.value) == "Authorization is invalid: malformed token"


def test_decode_payload_unverified(issuer: TokenIssuer) -> None:
    claims, token = issuer.mint("alice")
    assert decode_payload_unverified(token)["hex_identity"] == claims.identity.to_hex()
    with pytest.raises(AuthError):
        decode_payload_unverified("nope")
