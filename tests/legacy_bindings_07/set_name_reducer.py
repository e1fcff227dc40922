"""0.7-era reducer module (with ``reducer_name``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spacetimedb_sdk.spacetimedb_client import SpacetimeDBClient

reducer_name = "set_name"


def set_name(name: str) -> None:
    """Call ``set_name``."""
    SpacetimeDBClient.instance._reducer_call("set_name", name)  # type: ignore[union-attr]


def register_on_set_name(callback: Callable[..., None]) -> None:
    """Register a reducer callback."""
    SpacetimeDBClient.instance._register_reducer("set_name", callback)  # type: ignore[union-attr]


def _decode_args(data: list[Any]) -> list[Any]:
    return [str(data[0])]
