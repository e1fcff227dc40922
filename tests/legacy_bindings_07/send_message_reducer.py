"""0.6-era reducer module: no ``reducer_name`` (the name comes from the file name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spacetimedb_sdk.spacetimedb_client import SpacetimeDBClient


def send_message(text: str) -> None:
    """Call ``send_message``."""
    SpacetimeDBClient.instance._reducer_call("send_message", text)  # type: ignore[union-attr]


def register_on_send_message(callback: Callable[..., None]) -> None:
    """Register a reducer callback."""
    SpacetimeDBClient.instance._register_reducer("send_message", callback)  # type: ignore[union-attr]


def _decode_args(data: list[Any]) -> list[Any]:
    return [str(data[0])]
