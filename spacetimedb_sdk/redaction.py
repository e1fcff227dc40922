"""Keeping credentials out of logs: every logger the client SDK writes to redacts tokens.

:func:`redact` masks JWTs, ``Authorization`` header values, ``spacetime-identity-token``
header values, ``token=`` query parameters and every token the client has sent in a string.
:class:`RedactingFilter` reduces a log record to its rendered message (arguments included,
whatever their type), redacted, and redacts its traceback and stack.

Python runs a logger's filters only for records logged through that very logger, never for
records propagated from its children, so a filter on the ``spacetimedb_sdk`` parent would not
protect ``spacetimedb_sdk.client``. Instead every SDK module gets its logger from
:func:`sdk_logger`, which installs the filter, and the drivers hand the WebSocket library the
logger :func:`transport_logger` returns, so the set of filtered loggers is exactly the set of
loggers the client uses.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

__all__ = ["RedactingFilter", "protect", "redact", "sdk_logger", "transport_logger"]

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",]+")
_TOKEN_HEADER = re.compile(r"(?i)(spacetime-identity-token['\"]?\s*[:=,]\s*['\"]?)[^\s'\",]+")
_TOKEN_PARAM = re.compile(r"(?i)([?&]token=)[^&\s'\"]+")
_MASK = "<redacted>"

# Tokens the client sent, masked wherever they appear even when they match no pattern (opaque
# tokens of other issuers). Bounded: a long-running process may mint many anonymous tokens.
_MAX_SECRETS = 32
_MIN_SECRET_LENGTH = 8
_secrets: tuple[str, ...] = ()
_secrets_lock = threading.Lock()


def protect(secret: str | None) -> None:
    """Mask ``secret`` in every later log record (the client calls it for each token it sends)."""
    global _secrets
    if not secret or len(secret) < _MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        if secret not in _secrets:
            _secrets = (secret, *_secrets)[:_MAX_SECRETS]


def redact(text: str) -> str:
    """``text`` with tokens and bearer credentials replaced by ``<redacted>``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    text = _JWT.sub(_MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + _MASK, text)
    text = _TOKEN_HEADER.sub(lambda m: m.group(1) + _MASK, text)
    return _TOKEN_PARAM.sub(lambda m: m.group(1) + _MASK, text)


def _scrub(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """A logging filter that renders the message with its arguments, redacted, and redacts
    the traceback and the stack."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: the handler reports it
            record.msg = _scrub(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(_scrub(a) for a in record.args)
        else:
            # The record keeps only its rendered, redacted text: a token inside an argument
            # that is no string (an exception, a WebSocket frame whose repr holds the whole
            # payload) or split over two arguments (a header name and value) is gone too.
            record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            # Formatters use a pre-rendered exc_text as is: render it now, redacted.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_install_lock = threading.Lock()


def _with_filter(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    with _install_lock:
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
    return logger


def sdk_logger(name: str) -> logging.Logger:
    """The logger ``name`` (under ``spacetimedb_sdk``), redacting; every SDK module uses it."""
    if name != "spacetimedb_sdk" and not name.startswith("spacetimedb_sdk."):
        raise ValueError(f"not an SDK logger name: {name!r}")
    return _with_filter(name)


def transport_logger() -> logging.Logger:
    """The logger the drivers pass to the WebSocket library (it logs handshake headers at
    DEBUG): the library's usual ``websockets.client``, redacting."""
    return _with_filter("websockets.client")
