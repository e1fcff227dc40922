"""Python names for module items: keyword escaping, case conversion and collision handling.

Wire names (canonical table, column, reducer names) never change; only the Python spelling
does. The rules (docs/module-def.md#python-choices):

* attributes, parameters, methods and module names are ``snake_case`` of the accessor (for
  columns and parameters the canonical name, which already is snake_case under the default
  policy); a name Python cannot use gets a trailing ``_`` (``from`` → ``from_``);
* classes are ``PascalCase`` (type names: every scope segment, concatenated);
* inside one namespace, a name already taken gets a deterministic suffix.
"""

from __future__ import annotations

import builtins
import keyword
import unicodedata
from collections.abc import Iterable
from typing import Final

from spacetimedb_sdk.case_conversion import to_pascal_case, to_snake_case

__all__ = [
    "ANNOTATION_BUILTINS",
    "NameAllocator",
    "class_name",
    "file_stem",
    "is_identifier",
    "python_identifier",
    "snake_identifier",
]

#: Builtins the generated annotations use. A class attribute spelled like one of them would
#: shadow it for the annotations that follow in the class body (mypy rejects that).
ANNOTATION_BUILTINS: Final = frozenset(
    {"bool", "bytes", "dict", "float", "int", "list", "object", "str", "tuple", "type"}
)

#: Names pycodestyle calls ambiguous (E741); escaped like keywords.
_AMBIGUOUS: Final = frozenset({"l", "O", "I"})

#: Class names that would shadow a builtin a generated module refers to.
_RESERVED_CLASS_NAMES: Final = frozenset({"None", "True", "False", *dir(builtins)})


def is_identifier(name: str) -> bool:
    """True if ``name`` is usable as a Python identifier (and is not a keyword)."""
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and unicodedata.normalize("NFKC", name) == name
    )


def python_identifier(name: str, *, avoid: Iterable[str] = ()) -> str:
    """``name`` made usable as an attribute/parameter name, escaping with a trailing ``_``.

    ``avoid`` lists further names that must be escaped the same way (e.g. builtins used in
    annotations). A name with a leading ``__`` (which Python would mangle inside a class) keeps
    its letters but loses the leading underscores.
    """
    candidate = unicodedata.normalize("NFKC", name)
    if candidate.startswith("__") and not candidate.endswith("__"):
        candidate = candidate.lstrip("_")
    candidate = "".join(ch if (ch.isalnum() or ch == "_") else "_" for ch in candidate)
    if not candidate:
        candidate = "field"
    if candidate[0].isdigit():
        candidate = "_" + candidate
    avoid_set = set(avoid) | _AMBIGUOUS
    while keyword.iskeyword(candidate) or candidate in avoid_set or not candidate.isidentifier():
        candidate += "_"
    return candidate


def snake_identifier(name: str, *, avoid: Iterable[str] = ()) -> str:
    """``snake_case(name)`` as a Python identifier (tables, reducers, procedures)."""
    return python_identifier(to_snake_case(name) or name, avoid=avoid)


def class_name(*segments: str) -> str:
    """``PascalCase`` of every segment, concatenated, as a class name (``Namespace.TestC`` →
    ``NamespaceTestC``). A keyword or builtin gets the suffix ``Type``."""
    joined = "".join(to_pascal_case(s) for s in segments)
    joined = unicodedata.normalize("NFKC", joined)
    joined = "".join(ch for ch in joined if ch.isalnum())
    if not joined:
        joined = "Unnamed"
    if joined[0].isdigit():
        joined = "T" + joined
    if joined[0].islower():
        joined = joined[0].upper() + joined[1:]
    if keyword.iskeyword(joined) or joined in _RESERVED_CLASS_NAMES:
        joined += "Type"
    return joined


def file_stem(name: str) -> str:
    """``snake_case(name)`` usable as a module (file) name."""
    stem = to_snake_case(name) or name
    stem = "".join(ch if (ch.isascii() and (ch.isalnum() or ch == "_")) else "_" for ch in stem)
    stem = stem.strip("_") or "module"
    if stem[0].isdigit():
        stem = "m_" + stem
    if keyword.iskeyword(stem):
        stem += "_"
    return stem


class NameAllocator:
    """Hands out unique names within one namespace, deterministically.

    The first request for a name gets it; later requests for a taken name get ``suffix``
    appended (then ``suffix2``, ``suffix3``...; with an empty suffix ``2``, ``3``...).
    Reserved names are never handed out.
    """

    def __init__(self, reserved: Iterable[str] = (), *, suffix: str = "_") -> None:
        self._taken: set[str] = set(reserved)
        self._suffix = suffix

    def take(self, wanted: str, *, suffix: str | None = None) -> str:
        """Reserve and return ``wanted`` or the first free variant of it."""
        sfx = self._suffix if suffix is None else suffix
        candidate = wanted
        n = 1
        while candidate in self._taken:
            n += 1
            candidate = f"{wanted}{sfx}" if (n == 2 and sfx) else f"{wanted}{sfx}{n}"
        self._taken.add(candidate)
        return candidate

    def reserve(self, name: str) -> None:
        """Mark ``name`` as taken."""
        self._taken.add(name)

    def __contains__(self, name: object) -> bool:
        return name in self._taken
