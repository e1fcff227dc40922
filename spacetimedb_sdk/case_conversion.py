"""Case conversion exactly as the SpacetimeDB server performs it (docs/module-def.md#case-conversion).

The server canonicalises names with the Rust crate ``convert_case`` 0.6 and its default word
boundaries. This module reproduces that behaviour:

1. split the name into words at ``_``, ``-`` and spaces (dropped) and before a character where
   lower→upper, upper→digit, digit→upper, digit→lower, lower→digit change, or where an acronym
   ends (``ABc`` → ``A|Bc``); note that upper→lower alone is *not* a boundary;
2. join the words: snake = lowercased words joined by ``_``; camel = first word lowercased, the
   rest capitalised; Pascal = every word capitalised.

Words are walked by extended grapheme cluster, as the crate does. Python has no grapheme
segmenter in the standard library, so :func:`graphemes` implements the parts of UAX #29 that can
occur in names (combining marks, spacing marks, ZWJ sequences, Hangul syllables, regional
indicator pairs, CR LF); for ASCII a grapheme is simply a character.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["graphemes", "split_words", "to_camel_case", "to_pascal_case", "to_snake_case"]

_SEPARATORS: Final = frozenset("_- ")

_ZWJ: Final = "\u200d"
_ZWNJ: Final = "\u200c"


# ------------------------------------------------------------------------------ grapheme clusters


def _is_control(ch: str) -> bool:
    if ch in (_ZWJ, _ZWNJ):
        return False
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cf")


def _is_extend(ch: str) -> bool:
    cp = ord(ch)
    if ch == _ZWNJ or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:
        return True
    return unicodedata.category(ch) in ("Mn", "Me")


def _is_spacing_mark(ch: str) -> bool:
    return unicodedata.category(ch) == "Mc"


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _is_extended_pictographic(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or (cp >= 0x2000 and unicodedata.category(ch) == "So")
    )


def _hangul_kind(ch: str) -> str | None:
    """The Hangul_Syllable_Type of ``ch``: L, V, T, LV, LVT or None."""
    cp = ord(ch)
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return None


def _joins(prev: str, cur: str, cluster: str) -> bool:
    """True if there is no grapheme boundary between ``prev`` and ``cur`` (UAX #29 rules)."""
    if prev == "\r" and cur == "\n":  # GB3
        return True
    if _is_control(prev) or _is_control(cur) or prev in "\r\n" or cur in "\r\n":  # GB4, GB5
        return False
    hp, hc = _hangul_kind(prev), _hangul_kind(cur)
    if hp == "L" and hc in ("L", "V", "LV", "LVT"):  # GB6
        return True
    if hp in ("LV", "V") and hc in ("V", "T"):  # GB7
        return True
    if hp in ("LVT", "T") and hc == "T":  # GB8
        return True
    if _is_extend(cur) or cur == _ZWJ or _is_spacing_mark(cur):  # GB9, GB9a
        return True
    if prev == _ZWJ and _is_extended_pictographic(cur):  # GB11 (simplified)
        base = cluster.rstrip(_ZWJ)
        return bool(base) and any(_is_extended_pictographic(c) for c in base)
    if _is_regional_indicator(prev) and _is_regional_indicator(cur):  # GB12, GB13
        run = 0
        for c in reversed(cluster):
            if not _is_regional_indicator(c):
                break
            run += 1
        return run % 2 == 1
    return False


def graphemes(text: str) -> list[str]:
    """Split ``text`` into extended grapheme clusters (UAX #29, the rules names can meet)."""
    clusters: list[str] = []
    current = ""
    for ch in text:
        if current and _joins(current[-1], ch, current):
            current += ch
        else:
            if current:
                clusters.append(current)
            current = ch
    if current:
        clusters.append(current)
    return clusters


# --------------------------------------------------------------------------------- word splitting


def _is_upper(g: str) -> bool:
    return g.upper() != g.lower() and g == g.upper()


def _is_lower(g: str) -> bool:
    return g.upper() != g.lower() and g == g.lower()


def _is_digit(g: str) -> bool:
    return all("0" <= c <= "9" for c in g)


def split_words(name: str) -> list[str]:
    """Split ``name`` into words with convert_case 0.6's default boundaries."""
    gs = graphemes(name)
    n = len(gs)
    upper = [_is_upper(g) for g in gs]
    lower = [_is_lower(g) for g in gs]
    digit = [_is_digit(g) for g in gs]
    words: list[str] = []
    word: list[str] = []
    for i, g in enumerate(gs):
        if g in _SEPARATORS:
            if word:
                words.append("".join(word))
                word = []
            continue
        word.append(g)
        if i + 1 >= n:
            break
        # Boundary between i and i + 1?
        j = i + 1
        split_after = (
            (lower[i] and upper[j])
            or (upper[i] and digit[j])
            or (digit[i] and upper[j])
            or (digit[i] and lower[j])
            or (lower[i] and digit[j])
            or (upper[i] and upper[j] and j + 1 < n and lower[j + 1])
        )
        if split_after:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return [w for w in words if w]


# ----------------------------------------------------------------------------------------- joining


def _capitalise(word: str) -> str:
    gs = graphemes(word)
    if not gs:
        return ""
    return gs[0].upper() + "".join(gs[1:]).lower()


def to_snake_case(name: str) -> str:
    """``convert_case`` ``Case::Snake``: e.g. ``player2`` → ``player_2``, ``HTTPServer`` → ``http_server``."""
    return "_".join(w.lower() for w in split_words(name))


def to_camel_case(name: str) -> str:
    """``convert_case`` ``Case::Camel``: e.g. ``player_id`` → ``playerId``, ``vec3d`` → ``vec3D``."""
    words = split_words(name)
    if not words:
        return ""
    return words[0].lower() + "".join(_capitalise(w) for w in words[1:])


def to_pascal_case(name: str) -> str:
    """``convert_case`` ``Case::Pascal``: e.g. ``my2FA`` → ``My2Fa``, ``IOError`` → ``IoError``."""
    return "".join(_capitalise(w) for w in split_words(name))
