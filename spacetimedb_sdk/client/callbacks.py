"""Registered callbacks, removable by the id ``on_*`` returned or by the function itself.

Registration may happen from any thread, including from inside a callback; a dispatch works on
a snapshot, so a callback added during a message starts with the next one.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any, NewType

__all__ = ["CallbackId", "CallbackList", "TableCallbacks"]

#: What ``on_insert`` and friends return; pass it to the matching ``remove_on_*``.
CallbackId = NewType("CallbackId", int)

_ids = itertools.count(1)
_lock = threading.Lock()


class CallbackList:
    """An ordered set of callbacks."""

    __slots__ = ("_items", "_snapshot")

    def __init__(self) -> None:
        self._items: dict[int, Callable[..., Any]] = {}
        self._snapshot: tuple[Callable[..., Any], ...] = ()

    def add(self, callback: Callable[..., Any]) -> CallbackId:
        """Register ``callback``; return its id."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        with _lock:
            cid = next(_ids)
            self._items[cid] = callback
            self._snapshot = tuple(self._items.values())
        return CallbackId(cid)

    def remove(self, which: CallbackId | Callable[..., Any]) -> bool:
        """Unregister by id, or every registration of a function; True if something went."""
        with _lock:
            if callable(which):
                ids = [cid for cid, cb in self._items.items() if cb == which]
            else:
                ids = [which] if which in self._items else []
            for cid in ids:
                del self._items[cid]
            self._snapshot = tuple(self._items.values())
        return bool(ids)

    def snapshot(self) -> tuple[Callable[..., Any], ...]:
        """The callbacks registered right now, in registration order."""
        return self._snapshot

    def __bool__(self) -> bool:
        return bool(self._snapshot)

    def __len__(self) -> int:
        return len(self._snapshot)


class TableCallbacks:
    """The row callbacks registered for one table."""

    __slots__ = ("delete", "insert", "update")

    def __init__(self) -> None:
        self.insert = CallbackList()
        self.delete = CallbackList()
        self.update = CallbackList()

    def __bool__(self) -> bool:
        return bool(self.insert or self.delete or self.update)
