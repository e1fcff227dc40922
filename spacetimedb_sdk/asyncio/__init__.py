"""The asyncio driver (``await DbConnectionBuilder.build_async()``)."""

from spacetimedb_sdk.asyncio.connection import AsyncioDriver

__all__ = ["AsyncioDriver"]
