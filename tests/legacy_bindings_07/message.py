"""0.7-style row class of the ``message`` table."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from spacetimedb_sdk.spacetimedb_client import Identity, SpacetimeDBClient


def _client() -> Any:
    return SpacetimeDBClient.instance


class Message:
    """A message row."""

    is_table_class = True

    @classmethod
    def register_row_update(cls, callback: Callable[..., None]) -> None:
        """0.7: register a row callback under the class name."""
        _client()._register_row_update("Message", callback)

    @classmethod
    def iter(cls) -> Iterable[Message]:
        """0.7: the live values view."""
        values: Iterable[Message] = _client()._get_table_cache("Message").values()
        return values

    def __init__(self, data: list[Any]) -> None:
        self.data: dict[str, Any] = {
            "sender": Identity.from_string(data[0][0]),
            "sent": int(data[1][0]),
            "text": str(data[2]),
        }

    def __getattr__(self, name: str) -> Any:
        return self.data.get(name)
