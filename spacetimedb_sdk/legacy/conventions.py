"""0.6 and 0.7 callback conventions, told apart by the callback's signature.

0.7 added the caller's address to two callbacks (docs/guide-legacy.md#callbacks):

==================  ===============================================  ==========================
callback            0.7                                              0.6
==================  ===============================================  ==========================
reducer callback    ``(identity, address, status, message, *args)``  ``(identity, status,
                                                                     message, *args)``
``on_identity``     ``(token, identity, address)``                   ``(token, identity)``
==================  ===============================================  ==========================

A callback that cannot take the 0.7 arguments but can take the 0.6 ones (counting parameters
with defaults, as in ``on_say(caller, status, message, entity_id=0, text="")``) is called the
0.6 way; everything else, including callables whose signature cannot be read, the 0.7 way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["accepts_positional", "wants_address"]


def _positional_bounds(callback: Callable[..., Any]) -> tuple[int, float] | None:
    """(required, maximum) positional arguments, or None when the signature is unknown."""
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):
        return None
    required = 0
    maximum: float = 0
    for parameter in signature.parameters.values():
        kind = parameter.kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            maximum = float("inf")
        elif kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            maximum += 1
            if parameter.default is inspect.Parameter.empty:
                required += 1
        elif (
            kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is inspect.Parameter.empty
        ):
            return None  # cannot be called positionally at all: let the call report it
    return required, maximum


def accepts_positional(callback: Callable[..., Any], count: int) -> bool:
    """Whether ``callback`` can be called with exactly ``count`` positional arguments."""
    bounds = _positional_bounds(callback)
    if bounds is None:
        return True
    required, maximum = bounds
    return required <= count <= maximum


def wants_address(callback: Callable[..., Any], count_without_address: int) -> bool:
    """True for the 0.7 convention (with the address), False for the 0.6 one.

    ``count_without_address`` is how many positional arguments the 0.6 form passes.
    """
    if accepts_positional(callback, count_without_address + 1):
        return True
    return not accepts_positional(callback, count_without_address)
