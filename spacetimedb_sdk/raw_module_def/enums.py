"""The unit enums of a module definition and the HTTP method types.

Each enum's ``value`` is its wire tag; :data:`ENUM_WIRE_NAMES` holds the variant names the wire
uses, in tag order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeAlias

__all__ = [
    "ANY_METHOD",
    "ENUM_WIRE_NAMES",
    "AnyMethod",
    "CaseConversionPolicy",
    "FunctionVisibility",
    "HttpMethod",
    "HttpMethodExtension",
    "Lifecycle",
    "MethodOrAny",
    "TableAccess",
    "TableType",
]


class TableType(Enum):
    """``TableType``: system tables (``st_*``) or user tables."""

    SYSTEM = 0
    USER = 1


class TableAccess(Enum):
    """``TableAccess``: whether any client may subscribe to the table."""

    PUBLIC = 0
    PRIVATE = 1


class Lifecycle(Enum):
    """``Lifecycle``: the special roles a reducer can play."""

    INIT = 0
    ON_CONNECT = 1
    ON_DISCONNECT = 2


class FunctionVisibility(Enum):
    """``FunctionVisibility``: ``PRIVATE`` functions are not callable by ordinary clients."""

    PRIVATE = 0
    CLIENT_CALLABLE = 1


class CaseConversionPolicy(Enum):
    """``CaseConversionPolicy``: ``NONE`` keeps names verbatim; ``SNAKE_CASE`` is the default."""

    NONE = 0
    SNAKE_CASE = 1


class HttpMethod(Enum):
    """The standard HTTP methods of ``Method`` (``Extension`` is :class:`HttpMethodExtension`)."""

    GET = 0
    HEAD = 1
    POST = 2
    PUT = 3
    DELETE = 4
    CONNECT = 5
    OPTIONS = 6
    TRACE = 7
    PATCH = 8


# Wire (variant) names of the unit enums, in tag order.
ENUM_WIRE_NAMES: Final[dict[type[Enum], tuple[str, ...]]] = {
    TableType: ("System", "User"),
    TableAccess: ("Public", "Private"),
    Lifecycle: ("Init", "OnConnect", "OnDisconnect"),
    FunctionVisibility: ("Private", "ClientCallable"),
    CaseConversionPolicy: ("None", "SnakeCase"),
    HttpMethod: ("Get", "Head", "Post", "Put", "Delete", "Connect", "Options", "Trace", "Patch"),
}


@dataclass(frozen=True, slots=True)
class HttpMethodExtension:
    """``Method::Extension(name)``: a non-standard HTTP method."""

    name: str


@dataclass(frozen=True, slots=True)
class AnyMethod:
    """``MethodOrAny::Any``: a route that matches every method."""


ANY_METHOD: Final = AnyMethod()

MethodOrAny: TypeAlias = "AnyMethod | HttpMethod | HttpMethodExtension"
