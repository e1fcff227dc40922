"""Generic value shapes the codec produces when no Python class is bound to a type.

* ``Option<T>`` decodes to ``None`` or the value itself. Where ``T`` can itself be ``None``
  (``Option<Option<U>>``), a present value is wrapped in :class:`Some` so the two "nothing"s stay
  distinct: ``None`` is the outer none, ``Some(None)`` is some(none), ``Some(5)`` is some(some(5)).
  The encoder accepts the same shapes (and also accepts ``Some(x)`` for any Option).
* ``Result<T, E>`` decodes to :class:`Ok` or :class:`Err`.
* Other sums without a bound class decode to :class:`SumValue`.
* Products without a bound class decode to ``dict`` (field name -> value); the empty product
  (unit) decodes to ``()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Err", "Ok", "Some", "SumValue"]

T = TypeVar("T")
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Some(Generic[T]):
    """An explicitly present Option value (needed only for nested Options)."""

    value: T


@dataclass(frozen=True, slots=True)
class Ok(Generic[T]):
    """The ``ok`` variant of a ``Result``."""

    value: T


@dataclass(frozen=True, slots=True)
class Err(Generic[E]):
    """The ``err`` variant of a ``Result``."""

    error: E


@dataclass(frozen=True, slots=True)
class SumValue:
    """A value of a sum type that has no bound Python class: its tag, variant name and payload."""

    tag: int
    name: str | None
    value: Any = ()
