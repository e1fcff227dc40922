"""Keeping credentials out of logs: tokens are redacted wherever the SDK logs.

:func:`redact` masks JWTs, ``Authorization`` header values and ``token=`` query parameters in a
string. :class:`RedactingFilter` applies it to every record of the ``spacetimedb_sdk`` loggers
(installed when the client package is imported), including tracebacks, so even a token that
ends up in an exception message is masked.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["RedactingFilter", "install_redaction", "redact"]

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",]+")
_TOKEN_PARAM = re.compile(r"(?i)([?&]token=)[^&\s'\"]+")
_MASK = "<redacted>"


def redact(text: str) -> str:
    """``text`` with tokens and bearer credentials replaced by ``<redacted>``."""
    text = _JWT.sub(_MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + _MASK, text)
    return _TOKEN_PARAM.sub(lambda m: m.group(1) + _MASK, text)


def _scrub(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the message, its string arguments and its traceback."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_scrub(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _scrub(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            # Formatters use a pre-rendered exc_text as is: render it now, redacted.
            record.exc_text = redact(self._formatter.formatException(record.exc_info))
        return True


_installed = False


def install_redaction() -> None:
    """Attach a :class:`RedactingFilter` to the SDK's loggers (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    for name in (
        "spacetimedb_sdk",
        "spacetimedb_sdk.client",
        "spacetimedb_sdk.core",
        "spacetimedb_sdk.cache",
        "spacetimedb_sdk.subscription",
        "spacetimedb_sdk.driver",
    ):
        logging.getLogger(name).addFilter(RedactingFilter())
