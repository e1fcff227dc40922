"""The encoder generator: straight-line Python that appends one value's BSATN to a bytearray.

Fixed-width items are queued and packed by one precompiled ``struct`` call; values are checked
as they are read (wrong types and out-of-range integers raise
:class:`~spacetimedb_sdk.errors.BsatnEncodeError`).
"""

from __future__ import annotations

from typing import cast

from spacetimedb_sdk.algebraic_type import (
    INTEGER_RANGES,
    UNIT,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    special_kind,
)
from spacetimedb_sdk.bsatn.bindings import ProductBinding, SumBinding
from spacetimedb_sdk.bsatn.emitter import Block, CodeEmitter, Run
from spacetimedb_sdk.bsatn.layout import FIXED_FORMATS, SPECIAL_FIXED, WIDE_BYTES, WIDE_SIGNED


def is_simple(expr: str) -> bool:
    """True if ``expr`` is a name or a literal integer (safe to use more than once)."""
    return expr.isidentifier() or expr.isdigit()


class EncoderEmitter(CodeEmitter):
    """Emits encoding code (mixed into :class:`~spacetimedb_sdk.bsatn.generator.CodecGenerator`)."""

    def eflush(self, block: Block) -> None:
        run = block.run
        if not run.fmt:
            return
        sname = self.struct_name("".join(run.fmt))
        block.emit(f"out += {sname}.pack({', '.join(run.names)})")
        block.run = Run()

    def eadd(self, block: Block, fmt: str, size: int, expr: str) -> None:
        """Queue ``expr`` to be packed with the open run."""
        run = block.run
        if not is_simple(expr):
            name = self.tmp("v")
            block.emit(f"{name} = {expr}")
            expr = name
        run.fmt.append(fmt)
        run.names.append(expr)
        run.sizes.append(size)

    def enc(self, ty: AlgebraicType, value: str, block: Block, stack: tuple[int, ...]) -> None:
        """Emit code appending the BSATN of the value held in variable ``value``."""
        binding: ProductBinding | SumBinding | None = None
        if isinstance(ty, RefType):
            if ty.index in stack:
                self.eflush(block)
                fn = self.ref_function(ty.index)[1]
                block.emit(f"{fn}({value}, out)")
                return
            index = ty.index
            ty, binding = self.resolve(ty)
            stack = (*stack, index)
        if isinstance(ty, PrimitiveType):
            self.enc_primitive(ty, value, block)
        elif isinstance(ty, ArrayType):
            self.enc_array(ty, value, block, stack)
        elif isinstance(ty, ProductType):
            self.enc_product(ty, value, block, stack, cast("ProductBinding | None", binding))
        elif isinstance(ty, SumType):
            self.enc_sum(ty, value, block, stack, cast("SumBinding | None", binding))
        else:
            raise TypeError(f"not an AlgebraicType: {ty!r}")

    def enc_primitive(self, ty: PrimitiveType, value: str, block: Block) -> None:
        if ty.name == "String":
            data = self.tmp("b")
            block.emit(f"{data} = {value}.encode('utf-8')")
            self.eadd(block, "I", 4, f"len({data})")
            self.eflush(block)
            block.emit(f"out += {data}")
            return
        fmt, size = FIXED_FORMATS[ty.name]
        if ty.name == "Bool":
            flag = self.tmp("v")
            block.emit(f"if {value} is True: {flag} = 1")
            block.emit(f"elif {value} is False: {flag} = 0")
            block.emit(f"else: raise _EncodeError('Bool needs True or False, got %r' % ({value},))")
            self.eadd(block, fmt, size, flag)
            return
        if ty.name in WIDE_SIGNED:
            lo, hi = INTEGER_RANGES[ty.name]
            expr = f"_check_wide({value}, {lo}, {hi}, {ty.name!r}).to_bytes({WIDE_BYTES[ty.name]}, 'little', signed={WIDE_SIGNED[ty.name]})"
            self.eadd(block, fmt, size, expr)
            return
        self.eadd(block, fmt, size, value)

    def enc_array(self, ty: ArrayType, value: str, block: Block, stack: tuple[int, ...]) -> None:
        elem, _ = self.resolve(ty.element)
        if (
            isinstance(elem, PrimitiveType)
            and elem.name == "U8"
            and not isinstance(ty.element, RefType)
        ):
            data = self.tmp("b")
            block.emit(f"{data} = _encode_bytes({value})")
            self.eadd(block, "I", 4, f"len({data})")
            self.eflush(block)
            block.emit(f"out += {data}")
            return
        seq = self.tmp("s")
        block.emit(f"{seq} = {value}")
        block.emit(
            f"if isinstance({seq}, (str, bytes, dict)): raise _EncodeError('Array needs a sequence, got %r' % (type({seq}).__name__,))"
        )
        self.eadd(block, "I", 4, f"len({seq})")
        self.eflush(block)
        if (
            isinstance(elem, PrimitiveType)
            and elem.name in FIXED_FORMATS
            and elem.name not in WIDE_SIGNED
            and elem.name != "Bool"
            and not isinstance(ty.element, RefType)
        ):
            fmt, _ = FIXED_FORMATS[elem.name]
            block.emit(f"out += _pack('<%d{fmt}' % len({seq}), *{seq})")
            return
        item = self.tmp("x")
        block.emit(f"for {item} in {seq}:")
        inner = Block(block.lines, block.indent + 1)
        self.enc(ty.element, item, inner, stack)
        self.eflush(inner)
        if len(inner.lines) and inner.lines[-1].endswith(":"):
            inner.emit("pass")

    def enc_product(
        self,
        ty: ProductType,
        value: str,
        block: Block,
        stack: tuple[int, ...],
        binding: ProductBinding | None,
    ) -> None:
        kind = special_kind(ty)
        if binding is None and kind in SPECIAL_FIXED:
            fmt, size, cls, _, _, enc_expr = SPECIAL_FIXED[kind]
            block.emit(
                f"if not isinstance({value}, {cls}): "
                f"raise _EncodeError('expected {cls}, got %r' % (type({value}).__name__,))"
            )
            self.eadd(block, fmt, size, enc_expr.format(value))
            return
        if not ty.elements:
            return
        for i, el in enumerate(ty.elements):
            if binding is not None:
                attr = binding.attrs[i]
                access = f"{value}.{attr}" if attr.isidentifier() else f"getattr({value}, {attr!r})"
            else:
                key = el.name if el.name is not None else str(i)
                access = f"{value}[{key!r}]"
            item = self.tmp("x")
            block.emit(f"{item} = {access}")
            self.enc(el.algebraic_type, item, block, stack)

    def enc_sum(
        self,
        ty: SumType,
        value: str,
        block: Block,
        stack: tuple[int, ...],
        binding: SumBinding | None,
    ) -> None:
        kind = special_kind(ty) if binding is None else None
        if kind == "option":
            payload = self.tmp("p")
            self.eflush(block)  # what is queued precedes the tag byte
            block.emit(f"if {value} is None:")
            block.emit("    out.append(1)")
            block.emit("else:")
            some_block = Block(block.lines, block.indent + 1)
            some_block.emit(f"{payload} = {value}.value if isinstance({value}, _Some) else {value}")
            self.eadd(some_block, "B", 1, "0")
            self.enc(ty.variants[0].algebraic_type, payload, some_block, stack)
            self.eflush(some_block)
            return
        tag = self.tmp("g")
        payload = self.tmp("p")
        if binding is not None:
            unwrap = self.const(binding.unwrap, "_U")
            block.emit(f"{tag}, {payload} = {unwrap}({value})")
        elif kind == "result":
            block.emit(f"if isinstance({value}, _Ok): {tag}, {payload} = 0, {value}.value")
            block.emit(f"elif isinstance({value}, _Err): {tag}, {payload} = 1, {value}.error")
            block.emit(
                f"else: raise _EncodeError('Result needs Ok(...) or Err(...), got %r' % ({value},))"
            )
        elif kind == "schedule_at":
            block.emit(
                f"if not isinstance({value}, ScheduleAt): raise _EncodeError('expected ScheduleAt, got %r' % ({value},))"
            )
            block.emit(f"{tag}, {payload} = {value}.tag, {value}.value")
        else:
            block.emit(
                f"if not isinstance({value}, _SumValue): raise _EncodeError('expected SumValue, got %r' % ({value},))"
            )
            block.emit(f"{tag}, {payload} = {value}.tag, {value}.value")
        self.eadd(block, "B", 1, tag)
        self.eflush(block)
        for i, variant in enumerate(ty.variants):
            block.emit(f"{'if' if i == 0 else 'elif'} {tag} == {i}:")
            inner = Block(block.lines, block.indent + 1)
            if variant.algebraic_type == UNIT:
                inner.emit("pass")
                continue
            self.enc(variant.algebraic_type, payload, inner, stack)
            self.eflush(inner)
        if ty.variants:
            block.emit("else:")
            block.emit(
                f"    raise _EncodeError('invalid tag %r for a sum of {len(ty.variants)} variant(s)' % ({tag},))"
            )
        else:
            block.emit("raise _EncodeError('the empty sum has no values')")
