"""Validators: check BSATN exactly as strictly as the decoder, building nothing.

Fixed-width runs are skipped by size; only bool bytes, sum tags and length prefixes are read, and
String bytes are collected so their UTF-8 can be checked in one pass at the end. Whatever a
validator accepts, the decoder decodes. Generated lazily, once per type.
"""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    special_kind,
)
from spacetimedb_sdk.bsatn import errors
from spacetimedb_sdk.bsatn.errors import type_name
from spacetimedb_sdk.bsatn.layout import (
    FIXED_FORMATS,
    SPECIAL_FIXED,
    ZERO_SIZE_ELEMENT_ALLOWANCE,
    TypeLayout,
)


class VBlock:
    """Validator code at one indentation; ``off`` bytes past ``pos`` are pending, unchecked."""

    def __init__(self, lines: list[str], indent: int) -> None:
        self.lines = lines
        self.indent = indent
        self.off = 0
        # (offset, limit, is_bool): the byte at that offset must be < limit.
        self.checks: list[tuple[int, int, bool]] = []

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)


class ValidatorGenerator:
    """Generates the validation functions of one root type (and its recursive refs)."""

    def __init__(self, typespace: Typespace) -> None:
        self.ts = typespace
        self.types = TypeLayout(typespace, {})
        self.ns: dict[str, Any] = {
            "_u32": struct.Struct("<I").unpack_from,
            "_truncated": errors.truncated,
            "_bad_bool": errors.bad_bool,
            "_bad_tag": errors.bad_tag,
            "_too_many": errors.too_many,
            "_trailing": errors.trailing,
            "_end_mismatch": errors.end_mismatch,
            "_zero_size_exhausted": errors.zero_size_exhausted,
            "_ZA": ZERO_SIZE_ELEMENT_ALLOWANCE,
        }
        self.counter = 0
        self.sources: list[str] = []
        self.ref_funcs: dict[int, str] = {}
        self.pending_refs: list[int] = []
        self.zero_budget = False

    def tmp(self, prefix: str = "v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def static_checks(self, ty: AlgebraicType, base: int, out: list[tuple[int, int, bool]]) -> int:
        """Append the byte checks of fixed-size ``ty`` at offset ``base``; return its size."""
        ty, _ = self.types.resolve(ty)
        if isinstance(ty, PrimitiveType):
            if ty.name == "Bool":
                out.append((base, 2, True))
            return FIXED_FORMATS[ty.name][1]
        if isinstance(ty, ProductType):
            kind = special_kind(ty)
            if kind in SPECIAL_FIXED:
                return SPECIAL_FIXED[kind][1]
            size = 0
            for el in ty.elements:
                size += self.static_checks(el.algebraic_type, base + size, out)
            return size
        if isinstance(ty, SumType):  # a fixed-size sum: every variant is zero-size
            out.append((base, len(ty.variants), False))
            return 1
        raise TypeError(f"not a fixed-size type: {ty!r}")

    def emit_checks(self, block: VBlock) -> None:
        for offset, limit, is_bool in block.checks:
            at = f"pos + {offset}" if offset else "pos"
            if is_bool:
                block.emit(f"if buf[{at}] > 1: raise _bad_bool({at}, buf[{at}])")
            else:
                block.emit(
                    f"if buf[{at}] >= {limit}: raise _bad_tag({at}, buf[{at}], 'sum', {limit})"
                )
        block.checks = []

    def sync(self, block: VBlock, extra: int, what: str) -> int:
        """Bounds-check the pending bytes plus ``extra``; return the pending offset."""
        off = block.off
        need = off + extra
        if need:
            block.emit(f"if pos + {need} > blen: raise _truncated(pos, {need}, blen, {what!r})")
        self.emit_checks(block)
        block.off = 0
        return off

    def flush(self, block: VBlock) -> None:
        off = self.sync(block, 0, "fixed-width fields")
        if off:
            block.emit(f"pos += {off}")

    def read_u32(self, block: VBlock, what: str) -> str:
        off = self.sync(block, 4, what)
        n = self.tmp("n")
        block.emit(f"{n} = _u32(buf, pos + {off})[0]" if off else f"{n} = _u32(buf, pos)[0]")
        block.emit(f"pos += {off + 4}")
        return n

    def val(self, ty: AlgebraicType, block: VBlock, stack: tuple[int, ...]) -> None:
        """Emit code checking one value of ``ty`` at ``pos + block.off``."""
        if isinstance(ty, RefType):
            if ty.index in stack:
                self.flush(block)
                zb = ", zb" if self.zero_budget else ""
                block.emit(f"pos = {self.ref_function(ty.index)}(buf, pos, blen, _ta{zb})")
                return
            index = ty.index
            ty, _ = self.types.resolve(ty)
            stack = (*stack, index)
        if self.types.fixed_size(ty) is not None:
            block.off += self.static_checks(ty, block.off, block.checks)
            return
        if isinstance(ty, PrimitiveType):  # String
            self.val_bytes(block, "String", text=True)
        elif isinstance(ty, ArrayType):
            self.val_array(ty, block, stack)
        elif isinstance(ty, ProductType):
            for el in ty.elements:
                self.val(el.algebraic_type, block, stack)
        elif isinstance(ty, SumType):
            self.val_sum(ty, block, stack)
        else:
            raise TypeError(f"not an AlgebraicType: {ty!r}")

    def val_bytes(self, block: VBlock, what: str, text: bool) -> None:
        n = self.read_u32(block, what)
        end = self.tmp("e")
        block.emit(f"{end} = pos + {n}")
        block.emit(f"if {end} > blen: raise _truncated(pos, {n}, blen, {what!r})")
        if text:
            block.emit(f"_ta(buf[pos:{end}])")
        block.emit(f"pos = {end}")

    def val_array(self, ty: ArrayType, block: VBlock, stack: tuple[int, ...]) -> None:
        elem, _ = self.types.resolve(ty.element)
        if (
            isinstance(elem, PrimitiveType)
            and elem.name == "U8"
            and not isinstance(ty.element, RefType)
        ):
            self.val_bytes(block, "Array<U8>", text=False)
            return
        n = self.read_u32(block, "Array")
        size = self.types.fixed_size(ty.element)
        if size == 0:
            block.emit(f"zb[0] -= {n}")
            block.emit(f"if zb[0] < 0: raise _zero_size_exhausted(pos - 4, {n})")
            return
        least = size if size is not None else self.types.min_size(ty.element)
        if least:
            block.emit(
                f"if {n} * {least} > blen - pos: raise _too_many(pos - 4, {n}, {least}, blen - pos)"
            )
        if size is not None:
            checks: list[tuple[int, int, bool]] = []
            self.static_checks(ty.element, 0, checks)
            if not checks:
                block.emit(f"pos += {n} * {size}")
                return
        block.emit(f"for _ in range({n}):")
        inner = VBlock(block.lines, block.indent + 1)
        self.val(ty.element, inner, stack)
        self.flush(inner)
        if block.lines[-1].endswith(":"):
            inner.emit("pass")

    def val_sum(self, ty: SumType, block: VBlock, stack: tuple[int, ...]) -> None:
        off = self.sync(block, 1, "sum tag")
        tag = self.tmp("g")
        block.emit(f"{tag} = buf[pos + {off}]" if off else f"{tag} = buf[pos]")
        block.emit(f"pos += {off + 1}")
        count = len(ty.variants)
        first = True
        for i, variant in enumerate(ty.variants):
            if self.types.fixed_size(variant.algebraic_type) == 0:
                continue  # nothing to check: the tag range check below covers it
            block.emit(f"{'if' if first else 'elif'} {tag} == {i}:")
            first = False
            inner = VBlock(block.lines, block.indent + 1)
            self.val(variant.algebraic_type, inner, stack)
            self.flush(inner)
            if block.lines[-1].endswith(":"):
                inner.emit("pass")
        block.emit(f"{'if' if first else 'elif'} {tag} >= {count}:")
        block.emit(f"    raise _bad_tag(pos - 1, {tag}, 'sum', {count})")

    def ref_function(self, index: int) -> str:
        name = self.ref_funcs.get(index)
        if name is None:
            name = self.ref_funcs[index] = f"_val_ref{index}"
            self.pending_refs.append(index)
        return name

    def function(self, ty: AlgebraicType, name: str, root: bool) -> None:
        zb = ", zb" if self.zero_budget and not root else ""
        lines = [f"def {name}(buf, pos, blen, _ta{zb}):"]
        if self.zero_budget and root:
            lines.append("    zb = [blen - pos + _ZA]")
        block = VBlock(lines, 1)
        self.val(ty, block, ())
        self.flush(block)
        block.emit("return pos")
        self.sources.append("\n".join(lines))

    def spans_function(self, ty: AlgebraicType, split: bool) -> None:
        # The root value inlined in a loop over rows: one call validates a whole row list (and,
        # with ``split``, hands each row's bytes to ``_ra`` in the same pass).
        if split:
            lines = [
                "def _val_split(buf, starts, ends, _ta, _ra):",
                "    for start, blen in zip(starts, ends):",
                "        pos = start",
            ]
        else:
            lines = [
                "def _val_spans(buf, starts, ends, _ta):",
                "    for pos, blen in zip(starts, ends):",
            ]
        if self.zero_budget:
            lines.append("        zb = [blen - pos + _ZA]")
        block = VBlock(lines, 2)
        self.val(ty, block, ())
        self.flush(block)
        if not _fold_tail_string(lines):
            block.emit("if pos != blen: raise _trailing(pos, blen)")
        if split:
            block.emit("_ra(buf[start:blen])")
        self.sources.append("\n".join(lines))

    def build(self, ty: AlgebraicType) -> Validator:
        self.zero_budget = self.types.has_zero_size_array(ty)
        self.function(ty, "_val_root", root=True)
        self.spans_function(ty, split=False)
        self.spans_function(ty, split=True)
        while self.pending_refs:
            index = self.pending_refs.pop()
            self.function(RefType(index), self.ref_funcs[index], root=False)
        source = "\n\n".join(self.sources) + "\n"
        exec(compile(source, f"<bsatn validator {type_name(ty)[:60]}>", "exec"), self.ns)
        size = self.types.fixed_size(ty)
        checks: list[tuple[int, int, bool]] | None = None
        if size is not None:
            checks = []
            self.static_checks(ty, 0, checks)
        return Validator(
            self.ns["_val_root"], self.ns["_val_spans"], self.ns["_val_split"], size, checks, source
        )


@dataclass(frozen=True)
class Validator:
    """The validation functions of one type."""

    one: Callable[[Any, int, int, Callable[[bytes], None]], int]
    spans: Callable[[Any, Any, Any, Callable[[bytes], None]], None]
    split: Callable[[Any, Any, Any, Callable[[bytes], None], Callable[[bytes], None]], None]
    fixed_size: int | None
    #: For fixed-size types: every (offset, limit, is_bool) byte check of one value.
    static_checks: list[tuple[int, int, bool]] | None
    source: str


_TAIL = re.compile(
    r"(?P<ind> +)if (?P<e>e\d+) > blen: raise _truncated\(pos, (?P<n>n\d+), blen, (?P<w>'[^']*')\)"
)


def _fold_tail_string(lines: list[str]) -> bool:
    """Peephole for rows ending in a String: one ``!=`` check instead of three statements.

    ``if e > blen: raise ...; _ta(buf[pos:e]); pos = e`` followed by the trailing-bytes check
    becomes ``if e != blen: raise ...; _ta(buf[pos:e])``.
    """
    if len(lines) < 3:
        return False
    found = _TAIL.fullmatch(lines[-3])
    if found is None or found["ind"] != " " * 8:  # only at the loop body's own level
        return False
    ind, end = found["ind"], found["e"]
    if lines[-2] != f"{ind}_ta(buf[pos:{end}])" or lines[-1] != f"{ind}pos = {end}":
        return False
    lines[-3] = (
        f"{ind}if {end} != blen: raise _end_mismatch(pos, {found['n']}, {end}, blen, {found['w']})"
    )
    del lines[-1]
    return True


def texts_are_utf8(texts: list[bytes]) -> bool:
    """True if every piece is valid UTF-8 on its own."""
    # An ASCII separator keeps the pieces independent: a sequence cut at the end of one piece,
    # or a continuation byte starting the next, is still invalid in the joined bytes. Pieces
    # are checked about a thousand at a time: decoding a cache-sized chunk is several times
    # faster than one huge string (whose wide characters also force a 4-byte-per-char result).
    for i in range(0, len(texts), _UTF8_CHUNK):
        joined = b"\0".join(texts[i : i + _UTF8_CHUNK])
        if joined.isascii():
            continue
        try:
            joined.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


_UTF8_CHUNK: Final = 1024


_VALIDATORS: dict[tuple[AlgebraicType, Typespace], Validator] = {}
_LOCK = threading.Lock()


def validator_for(ty: AlgebraicType, typespace: Typespace) -> Validator:
    """The validator of ``ty`` (generated on first use, then cached)."""
    key = (ty, typespace)
    with _LOCK:
        found = _VALIDATORS.get(key)
    if found is None:
        found = ValidatorGenerator(typespace).build(ty)
        with _LOCK:
            found = _VALIDATORS.setdefault(key, found)
    return found


_ALLOWED_BYTES: dict[int, bytes] = {}


def allowed_bytes(limit: int) -> bytes:
    """The bytes below ``limit``, for ``bytes.translate`` to delete (what remains is invalid)."""
    allowed = _ALLOWED_BYTES.get(limit)
    if allowed is None:
        allowed = _ALLOWED_BYTES[limit] = bytes(range(min(limit, 256)))
    return allowed
