"""0.7-style row class of the ``user`` table."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from spacetimedb_sdk.spacetimedb_client import Identity, SpacetimeDBClient


def _client() -> Any:
    return SpacetimeDBClient.instance


class User:
    """A user row."""

    is_table_class = True
    primary_key = "identity"

    @classmethod
    def register_row_update(cls, callback: Callable[..., None]) -> None:
        """0.7: register a row callback under the class name."""
        _client()._register_row_update("User", callback)

    @classmethod
    def iter(cls) -> Iterable[User]:
        """0.7: the live values view."""
        values: Iterable[User] = _client()._get_table_cache("User").values()
        return values

    @classmethod
    def filter_by_identity(cls, identity: Identity) -> User | None:
        """0.7: a linear scan."""
        return next((row for row in cls.iter() if row.identity == identity), None)

    def __init__(self, data: list[Any]) -> None:
        self.data: dict[str, Any] = {
            "identity": Identity.from_string(data[0][0]),
            "name": str(data[1]["0"]) if "0" in data[1] else None,
            "online": bool(data[2]),
        }

    def __getattr__(self, name: str) -> Any:
        return self.data.get(name)
