"""The threaded driver (``DbConnectionBuilder.build()``): run_threaded, frame_tick."""

from spacetimedb_sdk.sync.connection import ThreadedDriver

__all__ = ["ThreadedDriver"]
