"""Table names in 0.7 queries -> the module's canonical names.

0.7 bindings named tables after their Rust struct (``User``), and its users wrote
``SELECT * FROM User``; 2.x canonicalises names (``user``) and its SQL is case-sensitive. A bare
table identifier after ``FROM`` or ``JOIN``, or used as a qualifier (``User.name``), that is not
a table name but matches exactly one table case-insensitively, or whose snake_case form is a
table name (``RoomChat`` -> ``room_chat``), is replaced by that name. Quoted identifiers, string
literals and everything else are left exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from spacetimedb_sdk.case_conversion import to_snake_case

__all__ = ["TableNameResolver", "rewrite_table_names"]

_TOKEN = re.compile(
    r"""
      (?P<string>'(?:[^']|'')*'?)            # string literal ('' escapes a quote)
    | (?P<quoted>"(?:[^"]|"")*"?)            # quoted identifier: exact, never touched
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)      # bare identifier or keyword
    | (?P<other>\s+|.)                       # anything else, one character at a time
    """,
    re.VERBOSE | re.DOTALL,
)
_TABLE_KEYWORDS = frozenset({"FROM", "JOIN"})


class TableNameResolver:
    """Finds the canonical table name a 0.7 spelling stands for."""

    def __init__(self, canonical_names: Iterable[str]) -> None:
        self.names = frozenset(canonical_names)
        by_lower: dict[str, list[str]] = {}
        for name in self.names:
            by_lower.setdefault(name.lower(), []).append(name)
        self._by_lower = by_lower

    def resolve(self, name: str) -> str | None:
        """The canonical name for ``name``, or ``None`` when there is none (or it is ambiguous)."""
        if name in self.names:
            return name
        matches = self._by_lower.get(name.lower(), [])
        if len(matches) == 1:
            return matches[0]
        if matches:
            return None  # several tables differ from it only in case: do not guess
        snake = to_snake_case(name)
        if snake in self.names:
            return snake
        return None


def rewrite_table_names(query: str, resolve: Callable[[str], str | None]) -> str:
    """``query`` with 0.7 table spellings replaced by canonical table names."""
    tokens = [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(query)]
    out: list[str] = []
    previous_word = ""  # the last identifier/keyword seen, upper-cased
    for index, (kind, text) in enumerate(tokens):
        if kind == "ident":
            replacement = None
            if previous_word in _TABLE_KEYWORDS or _next_is_dot(tokens, index):
                found = resolve(text)
                if found is not None and found != text:
                    replacement = found
            out.append(text if replacement is None else replacement)
            previous_word = text.upper()
            continue
        out.append(text)
        if kind != "other" or not text.isspace():
            previous_word = ""
    return "".join(out)


def _next_is_dot(tokens: list[tuple[str, str]], index: int) -> bool:
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    return following is not None and following[1] == "."
