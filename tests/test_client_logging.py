"""Observability: tokens never reach the logs."""

from __future__ import annotations

import logging

import pytest

from spacetimedb_sdk.client.redaction import redact
from tests.client_helpers import TOKEN, connected

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def test_redact_masks_tokens_headers_and_query_parameters() -> None:
    assert JWT not in redact(f"token {JWT} here")
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer <redacted>"
    assert redact("ws://h/v1/database/x/subscribe?token=abc&compression=Gzip") == (
        "ws://h/v1/database/x/subscribe?token=<redacted>&compression=Gzip"
    )
    assert redact("nothing secret") == "nothing secret"


def test_sdk_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, "spacetimedb_sdk"):
        logging.getLogger("spacetimedb_sdk.client").warning("connecting with %s", JWT)
        logging.getLogger("spacetimedb_sdk.driver").error(f"header Bearer {JWT}")
    assert JWT not in caplog.text
    assert caplog.text.count("<redacted>") == 2


def test_a_callback_error_mentioning_the_token_is_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def leaky(conn: object, identity: object, token: str) -> None:
        raise RuntimeError(f"cannot save {token}")

    conn, _ = connected(on_connect=leaky)
    assert TOKEN not in caplog.text and "cannot save <redacted>" in caplog.text
    assert TOKEN not in repr(conn)
