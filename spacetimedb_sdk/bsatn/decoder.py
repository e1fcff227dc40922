"""The decoder generator: straight-line Python that reads one value of a type from BSATN.

Consecutive fixed-width fields are read by one precompiled ``unpack_from`` (the run also absorbs
the length prefix of a following String or array and the tag of a following sum); each run is
preceded by one bounds check; sums become ``if/elif`` chains on the tag; special classes are
built inline without their checking ``__init__``.
"""

from __future__ import annotations

import struct
from typing import cast

from spacetimedb_sdk.algebraic_type import (
    UNIT,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    special_kind,
)
from spacetimedb_sdk.bsatn.bindings import ProductBinding, SumBinding, settable_slots
from spacetimedb_sdk.bsatn.emitter import Block, CodeEmitter, Run
from spacetimedb_sdk.bsatn.layout import FIXED_FORMATS, SPECIAL_FIXED, WIDE_SIGNED

#: Special kinds shared within one bulk decode (immutable, often repeated).
INTERNED = frozenset({"identity", "connection_id"})


class DecoderEmitter(CodeEmitter):
    """Emits decoding code (mixed into :class:`~spacetimedb_sdk.bsatn.generator.CodecGenerator`)."""

    #: Set while emitting a bulk loop (over ``bytes`` values), whose ``_ic`` dict shares equal
    #: Identity values.
    interning = False
    #: The read position while it is known when generating: ``(variable or "", offset)``.
    #: In a bulk loop each value starts at 0, so up to its first branch or loop the offsets are
    #: literals (or a String's end variable plus a literal) instead of ``pos`` updates.
    known: tuple[str, int] | None = None

    def at(self, extra: int = 0) -> str:
        """An expression for the read position plus ``extra``."""
        base, offset = self.known if self.known is not None else ("pos", 0)
        offset += extra
        if not base:
            return str(offset)
        return f"{base} + {offset}" if offset else base

    def advance(self, block: Block, size: int) -> None:
        if self.known is None:
            block.emit(f"pos += {size}")
        else:
            self.known = (self.known[0], self.known[1] + size)

    def jump(self, block: Block, end: str) -> None:
        """The read position is now the value of variable ``end``."""
        if self.known is None:
            block.emit(f"pos = {end}")
        else:
            self.known = (end, 0)

    def materialize(self, block: Block) -> None:
        """Store a known read position in ``pos``, before code that branches, loops or calls."""
        if self.known is not None:
            block.emit(f"pos = {self.at()}")
            self.known = None

    def flush(self, block: Block) -> None:
        run = block.run
        if not run.fmt:
            return
        size = run.size
        sname = self.struct_name("".join(run.fmt))
        start = self.at()
        block.emit(
            f"if {self.at(size)} > blen: "
            f"raise _truncated({start}, {size}, blen, 'fixed-width fields')"
        )
        targets = ", ".join(run.names) + ("," if len(run.names) == 1 else "")
        where = "" if start == "0" else f", {start}"
        block.emit(f"{targets} = {sname}.unpack_from(buf{where})")
        for name, offset in run.bool_names:
            block.emit(f"if {name} > 1: raise _bad_bool({self.at(offset)}, {name})")
        for statement in run.post:
            block.emit(statement)
        self.advance(block, size)
        block.run = Run()

    def add_fixed(self, block: Block, fmt: str, size: int, is_bool: bool = False) -> str:
        name = self.tmp()
        run = block.run
        if is_bool:
            run.bool_names.append((name, run.size))
        run.fmt.append(fmt)
        run.names.append(name)
        run.sizes.append(size)
        return name

    def dec(self, ty: AlgebraicType, block: Block, stack: tuple[int, ...]) -> str:
        """Emit code decoding ``ty``; return an expression for the value.

        The expression may reference names that are only assigned when the block's run is
        flushed, so it must be used after the next flush of ``block``.
        """
        binding: ProductBinding | SumBinding | None = None
        if isinstance(ty, RefType):
            if ty.index in stack:
                # Recursive: call the ref's own function.
                self.flush(block)
                self.materialize(block)
                fn = self.ref_function(ty.index)[0]
                out = self.tmp()
                zb = ", zb" if self.zero_budget else ""
                block.emit(f"{out}, pos = {fn}(buf, pos{zb})")
                return out
            index = ty.index
            ty, binding = self.resolve(ty)
            stack = (*stack, index)
        if isinstance(ty, PrimitiveType):
            return self.dec_primitive(ty, block)
        if isinstance(ty, ArrayType):
            return self.dec_array(ty, block, stack)
        if isinstance(ty, ProductType):
            return self.dec_product(ty, block, stack, cast("ProductBinding | None", binding))
        if isinstance(ty, SumType):
            return self.dec_sum(ty, block, stack, cast("SumBinding | None", binding))
        raise TypeError(f"not an AlgebraicType: {ty!r}")

    def dec_primitive(self, ty: PrimitiveType, block: Block) -> str:
        if ty.name == "String":
            return self.dec_string(block)
        fmt, size = FIXED_FORMATS[ty.name]
        name = self.add_fixed(block, fmt, size, is_bool=ty.name == "Bool")
        if ty.name == "Bool":
            return f"({name} == 1)"
        if ty.name in WIDE_SIGNED:
            signed = ", signed=True" if WIDE_SIGNED[ty.name] else ""
            return f"_from_bytes({name}, 'little'{signed})"
        return name

    def dec_length_prefixed(self, block: Block, what: str) -> tuple[str, str]:
        """Read a u32 length with the open run; return (start var, end var) of the payload."""
        length = self.add_fixed(block, "I", 4)
        self.flush(block)
        end = self.tmp("e")
        start = self.at()
        block.emit(f"{end} = {start} + {length}")
        block.emit(f"if {end} > blen: raise _truncated({start}, {length}, blen, {what!r})")
        return length, end

    def dec_string(self, block: Block) -> str:
        _, end = self.dec_length_prefixed(block, "String")
        out = self.tmp()
        start = self.at()
        piece = f"buf[{start}:{end}]"
        # Bulk loops read bytes (the cache's rows): the method skips str()'s argument parsing.
        text = f"{piece}.decode()" if self.interning else f"str({piece}, 'utf-8')"
        block.emit("try:")
        block.emit(f"    {out} = {text}")
        block.emit("except UnicodeDecodeError as exc:")
        block.emit(f"    raise _bad_utf8({start}, exc) from None")
        self.jump(block, end)
        return out

    def dec_array(self, ty: ArrayType, block: Block, stack: tuple[int, ...]) -> str:
        elem, _ = self.resolve(ty.element)
        out = self.tmp()
        if (
            isinstance(elem, PrimitiveType)
            and elem.name == "U8"
            and not isinstance(ty.element, RefType)
        ):
            _, end = self.dec_length_prefixed(block, "Array<U8>")
            block.emit(f"{out} = bytes(buf[{self.at()}:{end}])")
            self.jump(block, end)
            return out
        count = self.add_fixed(block, "I", 4)
        self.flush(block)
        self.materialize(block)
        if (
            isinstance(elem, PrimitiveType)
            and elem.name in FIXED_FORMATS
            and elem.name not in WIDE_SIGNED
            and elem.name != "Bool"
            and not isinstance(ty.element, RefType)
        ):
            fmt, size = FIXED_FORMATS[elem.name]
            block.emit(
                f"if pos + {count} * {size} > blen: raise _truncated(pos, {count} * {size}, blen, 'Array')"
            )
            block.emit(f"{out} = list(_unpack_from('<%d{fmt}' % {count}, buf, pos))")
            block.emit(f"pos += {count} * {size}")
            return out
        elem_size = self.fixed_size(ty.element)
        if elem_size:
            block.emit(
                f"if pos + {count} * {elem_size} > blen: "
                f"raise _truncated(pos, {count} * {elem_size}, blen, 'Array')"
            )
        elif elem_size == 0:
            # Zero-size elements consume no input: charge them to the value's budget instead.
            block.emit(f"zb[0] -= {count}")
            block.emit(f"if zb[0] < 0: raise _zero_size_exhausted(pos - 4, {count})")
        else:
            least = self.min_size(ty.element)
            if least:
                # Refuse a count the remaining input cannot hold before building anything.
                block.emit(
                    f"if {count} * {least} > blen - pos: "
                    f"raise _too_many(pos - 4, {count}, {least}, blen - pos)"
                )
        block.emit(f"{out} = []")
        block.emit(f"for _ in range({count}):")
        inner = Block(block.lines, block.indent + 1)
        expr = self.dec(ty.element, inner, stack)
        self.flush(inner)
        inner.emit(f"{out}.append({expr})")
        return out

    def dec_product(
        self,
        ty: ProductType,
        block: Block,
        stack: tuple[int, ...],
        binding: ProductBinding | None,
    ) -> str:
        kind = special_kind(ty)
        if binding is None and kind in SPECIAL_FIXED:
            fmt, size, cls, slot, convert, _ = SPECIAL_FIXED[kind]
            raw = self.add_fixed(block, fmt, size)
            out = self.tmp()
            # Set the slot directly: decoded values are valid, so skip the checking __init__
            # (and a Python-level call per value).
            make = f"_new({cls}); {out}.{slot} = {convert.format(raw)}"
            if self.interning and kind in INTERNED:
                # Bulk decoding: equal ids in one batch (a chat's few senders) share one
                # immutable object -- less memory, no int conversion for repeats.
                block.run.post.append(f"{out} = _ic.get({raw})")
                block.run.post.append(f"if {out} is None: {out} = _ic[{raw}] = {make}")
            else:
                block.run.post.append(f"{out} = {make}")
            return out
        exprs = [self.dec(el.algebraic_type, block, stack) for el in ty.elements]
        if binding is not None:
            cls = self.const(binding.cls, "_C")
            if not settable_slots(binding):
                return f"{cls}({', '.join(exprs)})"
            # A generated row class: no __init__ call, one slot store per field.
            out = self.tmp()
            stores = [f"{out} = _new({cls})"]
            stores += [f"{out}.{a} = {e}" for a, e in zip(binding.attrs, exprs, strict=True)]
            if block.run.fmt:
                block.run.post.extend(stores)  # after the open run's values are read
            else:
                for statement in stores:
                    block.emit(statement)
            return out
        if not ty.elements:
            return "()"
        keys = [el.name if el.name is not None else str(i) for i, el in enumerate(ty.elements)]
        return "{" + ", ".join(f"{k!r}: {e}" for k, e in zip(keys, exprs, strict=True)) + "}"

    def dec_sum(
        self,
        ty: SumType,
        block: Block,
        stack: tuple[int, ...],
        binding: SumBinding | None,
    ) -> str:
        kind = special_kind(ty) if binding is None else None
        tag = self.add_fixed(block, "B", 1)
        self.flush(block)
        self.materialize(block)
        out = self.tmp()
        what = {"option": "Option", "result": "Result", "schedule_at": "ScheduleAt"}.get(
            kind or "", "sum"
        )
        for i, variant in enumerate(ty.variants):
            block.emit(f"{'if' if i == 0 else 'elif'} {tag} == {i}:")
            inner = Block(block.lines, block.indent + 1)
            payload_ty = variant.algebraic_type
            if kind == "option" and i == 1:
                inner.emit(f"{out} = None")
                continue
            if binding is not None and i in binding.constants:
                inner.emit(f"{out} = {self.const(binding.constants[i])}")
                continue
            is_unit = payload_ty == UNIT
            expr = "()" if is_unit else self.dec(payload_ty, inner, stack)
            self.flush(inner)
            if binding is not None:
                wrap = self.const(binding.wrap[i], "_W")
                inner.emit(f"{out} = {wrap}({expr})")
            elif kind == "option":
                if self.may_be_none(payload_ty):
                    expr = f"_Some({expr})"
                inner.emit(f"{out} = {expr}")
            elif kind == "result":
                inner.emit(f"{out} = {'_Ok' if i == 0 else '_Err'}({expr})")
            elif kind == "schedule_at":
                inner.emit(f"{out} = _mk_schedule_at({expr})")
            else:
                inner.emit(f"{out} = _SumValue({i}, {variant.name!r}, {expr})")
        if ty.variants:
            block.emit("else:")
            block.emit(f"    raise _bad_tag(pos - 1, {tag}, {what!r}, {len(ty.variants)})")
        else:
            block.emit(f"raise _bad_tag(pos - 1, {tag}, 'empty sum', 0)")
        return out

    def many_function(self, ty: AlgebraicType) -> None:
        # The root decoder inlined in a loop: no call, tuple or wrapper per value.
        lines = [
            "def _dec_many(values):",
            "    out = []",
            "    _oa = out.append",
            "    _ic = {}",
            "    for buf in values:",
            "        blen = len(buf)",
        ]
        if self.zero_budget:
            lines.append("        zb = [blen + _ZA]")
        block = Block(lines, 2)
        self.interning = True
        self.known = ("", 0)
        try:
            expr = self.dec(ty, block, ())
            self.flush(block)
        finally:
            self.interning = False
            self.known = None
        block.emit(f"_oa({expr})")
        lines.append("    return out")
        self.sources.append("\n".join(lines))

    def fixed_many_function(self, ty: AlgebraicType) -> struct.Struct | None:
        """For a type that is one flat fixed-width run, emit ``_fixed_many(data)`` (values laid
        back to back -> list, one ``iter_unpack`` loop) and return the struct of one value."""
        lines: list[str] = ["def _fixed_many(data):", "    out = []", "    _oa = out.append"]
        lines.append("    _ic = {}")
        block = Block(lines, 2)
        self.interning = True
        try:
            expr = self.dec(ty, block, ())
        except TypeError:
            return None
        finally:
            self.interning = False
        run = block.run
        if len(lines) > 4 or not run.fmt:
            return None  # something variable-width (or a branch) was emitted
        fmt = "".join(run.fmt)
        lines.append(
            f"    for {', '.join(run.names)}, in {self.struct_name(fmt)}.iter_unpack(data):"
        )
        for name, _ in run.bool_names:
            block.emit(f"if {name} > 1: raise _bad_bool(-1, {name})")
        for statement in run.post:
            block.emit(statement)
        block.emit(f"_oa({expr})")
        lines.append("    return out")
        self.sources.append("\n".join(lines))
        return struct.Struct("<" + fmt)
