"""The codec generator: for one root type, the decode and encode functions (plus one per
recursive ref), the bulk decoder and, for flat fixed-width types, the loop over ``iter_unpack``;
their source is compiled and ``exec``'d once."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from spacetimedb_sdk.algebraic_type import AlgebraicType, RefType
from spacetimedb_sdk.bsatn.decoder import DecoderEmitter
from spacetimedb_sdk.bsatn.emitter import Block
from spacetimedb_sdk.bsatn.encoder import EncoderEmitter
from spacetimedb_sdk.bsatn.errors import type_name


@dataclass(frozen=True)
class GeneratedCodec:
    """The compiled functions of one type, ready to be wrapped in a ``BsatnCodec``."""

    decode_at: Callable[[Any, int], tuple[Any, int]]
    encode_into: Callable[[Any, bytearray], None]
    fixed_size: int | None
    fixed_format: struct.Struct | None
    #: For flat fixed-width types: concatenated values -> list, one ``iter_unpack`` loop.
    decode_fixed_many: Callable[[Any], list[Any]] | None
    source: str
    decode_many: Callable[[Sequence[bytes]], list[Any]]


class CodecGenerator(DecoderEmitter, EncoderEmitter):
    """Generates the decode and encode functions for one root type (and recursive refs)."""

    def function_pair(
        self,
        ty: AlgebraicType,
        dec_name: str,
        enc_name: str,
        stack: tuple[int, ...],
        root: bool = False,
    ) -> None:
        if not self.zero_budget:
            lines = [f"def {dec_name}(buf, pos):", "    blen = len(buf)"]
        elif root:
            lines = [
                f"def {dec_name}(buf, pos):",
                "    blen = len(buf)",
                "    zb = [blen - pos + _ZA]",
            ]
        else:
            lines = [f"def {dec_name}(buf, pos, zb):", "    blen = len(buf)"]
        block = Block(lines, 1)
        expr = self.dec(ty, block, stack)
        self.flush(block)
        block.emit(f"return {expr}, pos")
        self.sources.append("\n".join(lines))

        lines = [f"def {enc_name}(value, out):"]
        block = Block(lines, 1)
        self.enc(ty, "value", block, stack)
        self.eflush(block)
        block.emit("return None")
        self.sources.append("\n".join(lines))

    def build(self, ty: AlgebraicType) -> GeneratedCodec:
        """Generate, compile and run the code for ``ty``; return its functions."""
        self.zero_budget = self.has_zero_size_array(ty)
        self.function_pair(ty, "_dec_root", "_enc_root", (), root=True)
        self.many_function(ty)
        while self.pending_refs:
            index = self.pending_refs.pop()
            self.function_pair(RefType(index), *self.ref_funcs[index], ())
        fixed = self.fixed_many_function(ty)
        source = "\n\n".join(self.sources) + "\n"
        exec(compile(source, f"<bsatn codec {type_name(ty)[:60]}>", "exec"), self.ns)
        fixed_many = self.ns["_fixed_many"] if fixed is not None else None
        return GeneratedCodec(
            self.ns["_dec_root"],
            self.ns["_enc_root"],
            self.fixed_size(ty),
            fixed,
            fixed_many,
            source,
            self.ns["_dec_many"],
        )
