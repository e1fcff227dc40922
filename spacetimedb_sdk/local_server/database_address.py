"""The ``<name_or_identity>`` path segment of database routes (docs/protocol.md#url-and-query-parameters).

A segment that parses as an Identity (64 hex digits, optionally ``0x``-prefixed) is an identity;
otherwise it must be a valid database name: lowercase ASCII letters and digits in groups joined
by single hyphens (no leading, trailing or doubled hyphen), at most
:data:`MAX_DATABASE_NAME_LENGTH` characters (the real server's limit on a name part; it also keeps
the name usable as a directory name). Anything else is a 400.
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.identity import Identity

__all__ = [
    "MAX_DATABASE_NAME_LENGTH",
    "DatabaseAddress",
    "InvalidDatabaseAddressError",
    "database_name_problem",
    "is_valid_database_name",
    "not_found_text",
    "parse_database_address",
]

#: The longest database name accepted.
MAX_DATABASE_NAME_LENGTH: Final = 64

_NAME: Final = re.compile(r"\A[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_IDENTITY: Final = re.compile(r"\A(?:0x)?[0-9a-fA-F]{64}\Z")

#: Either a database name or a database identity.
DatabaseAddress: TypeAlias = str | Identity


class InvalidDatabaseAddressError(SpacetimeDBError):
    """The path segment is neither an identity nor a valid database name (HTTP 400)."""


def database_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid database name (a sentence), or None when it is valid."""
    if len(name) > MAX_DATABASE_NAME_LENGTH:
        return (
            f"database names are at most {MAX_DATABASE_NAME_LENGTH} characters "
            f"(this one has {len(name)})"
        )
    if _NAME.match(name) is None:
        return "database names are lowercase letters, digits and single inner hyphens"
    return None


def is_valid_database_name(name: str) -> bool:
    """True for names the real server accepts (``quickstart-chat``, ``chat2``)."""
    return database_name_problem(name) is None


def parse_database_address(segment: str) -> DatabaseAddress:
    """An :class:`Identity` when ``segment`` is one, else the (validated) database name."""
    if _IDENTITY.match(segment):
        return Identity.from_hex(segment[2:] if segment.startswith("0x") else segment)
    problem = database_name_problem(segment)
    if problem is not None:
        shown = segment if len(segment) <= 80 else f"{segment[:80]}..."
        raise InvalidDatabaseAddressError(
            f"Invalid database name or identity: `{shown}` ({problem})"
        )
    return segment


def not_found_text(address: DatabaseAddress) -> str:
    """The 404 body for an unknown database, as the real server words it."""
    if isinstance(address, Identity):
        return "No such database."
    return f"`{address}` not found"
