"""The ``<name_or_identity>`` path segment of database routes (PROTOCOL.md §3.1, §7.1).

A segment that parses as an Identity (64 hex digits, optionally ``0x``-prefixed) is an identity;
otherwise it must be a valid database name: lowercase ASCII letters and digits in groups joined
by single hyphens (no leading, trailing or doubled hyphen). Anything else is a 400.
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.identity import Identity

__all__ = [
    "DatabaseAddress",
    "InvalidDatabaseAddressError",
    "is_valid_database_name",
    "not_found_text",
    "parse_database_address",
]

_NAME: Final = re.compile(r"\A[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_IDENTITY: Final = re.compile(r"\A(?:0x)?[0-9a-fA-F]{64}\Z")

#: Either a database name or a database identity.
DatabaseAddress: TypeAlias = str | Identity


class InvalidDatabaseAddressError(SpacetimeDBError):
    """The path segment is neither an identity nor a valid database name (HTTP 400)."""


def is_valid_database_name(name: str) -> bool:
    """True for names the real server accepts (``quickstart-chat``, ``chat2``)."""
    return _NAME.match(name) is not None


def parse_database_address(segment: str) -> DatabaseAddress:
    """An :class:`Identity` when ``segment`` is one, else the (validated) database name."""
    if _IDENTITY.match(segment):
        return Identity.from_hex(segment[2:] if segment.startswith("0x") else segment)
    if not is_valid_database_name(segment):
        raise InvalidDatabaseAddressError(
            f"Invalid database name or identity: `{segment}` "
            "(names are lowercase letters, digits and single inner hyphens)"
        )
    return segment


def not_found_text(address: DatabaseAddress) -> str:
    """The 404 body for an unknown database, as the real server words it."""
    if isinstance(address, Identity):
        return "No such database."
    return f"`{address}` not found"
