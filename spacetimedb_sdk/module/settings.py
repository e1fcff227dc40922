"""Module-wide declarations: row-level-security filters and the case-conversion policy.

::

    # Clients see only their own rows of `users` (the owner still sees every row).
    USERS_FILTER = client_visibility_filter("SELECT * FROM users WHERE identity = :sender")

    # Keep every name exactly as written instead of converting it to snake_case.
    case_conversion_policy(CaseConversionPolicy.NONE)

Both are recorded for the Python module whose top level calls them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import ClassVar

from spacetimedb_sdk.module.registry import record
from spacetimedb_sdk.raw_module_def import CaseConversionPolicy

__all__ = [
    "CaseConversionSetting",
    "ClientVisibilityFilter",
    "case_conversion_policy",
    "client_visibility_filter",
]


@dataclass(frozen=True)
class ClientVisibilityFilter:
    """A row-level-security rule: a ``SELECT * FROM <table> ...`` query (``:sender`` is the
    subscribing client's identity) choosing the rows of one table a client may see."""

    sql: str
    __stdb_kind__: ClassVar[str] = "rls"


@dataclass(frozen=True)
class CaseConversionSetting:
    """The module's case-conversion policy (default: snake_case)."""

    policy: CaseConversionPolicy
    __stdb_kind__: ClassVar[str] = "case_conversion"


def _caller_module(depth: int = 2) -> str:
    return str(sys._getframe(depth).f_globals.get("__name__", "__main__"))


def client_visibility_filter(sql: str) -> ClientVisibilityFilter:
    """Declare a row-level-security filter (returned, so it can be kept in a constant)."""
    if not isinstance(sql, str) or not sql.strip():
        raise TypeError("client_visibility_filter needs the SQL text of a SELECT query")
    item = ClientVisibilityFilter(sql)
    record(_caller_module(), item)
    return item


def case_conversion_policy(policy: CaseConversionPolicy) -> CaseConversionSetting:
    """Declare the module's case-conversion policy (at most once per module)."""
    if not isinstance(policy, CaseConversionPolicy):
        raise TypeError("case_conversion_policy needs a CaseConversionPolicy value")
    item = CaseConversionSetting(policy)
    record(_caller_module(), item)
    return item
