"""Encoding reducer and procedure arguments, decoding their results; compiled once per function.

A function's arguments travel as the BSATN of its parameter product, which is the concatenation
of the parameters' encodings; arguments are passed positionally in declaration order.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spacetimedb_sdk.algebraic_type import STRING, UNIT, AlgebraicType
from spacetimedb_sdk.bsatn import Bindings, BsatnCodec, compile_codec
from spacetimedb_sdk.errors import BsatnEncodeError
from spacetimedb_sdk.schema import ModuleSchema, ParamSchema

__all__ = ["CallCodecs", "FunctionCodec"]


@dataclass(frozen=True)
class FunctionCodec:
    """The argument encoders of one reducer or procedure, and its result decoders."""

    name: str
    params: tuple[tuple[str, BsatnCodec[Any]], ...]
    #: Decodes the ok value (procedure return / reducer return); None for unit.
    ok: BsatnCodec[Any] | None
    #: Decodes a reducer's error value (a String today).
    err: BsatnCodec[Any] | None

    def encode_args(self, args: Sequence[Any]) -> bytes:
        """The BSATN of the parameter product for positional ``args``."""
        if len(args) != len(self.params):
            raise TypeError(
                f"{self.name}() takes {len(self.params)} argument(s) "
                f"({', '.join(n for n, _ in self.params) or 'none'}), got {len(args)}"
            )
        out = bytearray()
        for (pname, codec), value in zip(self.params, args, strict=True):
            try:
                codec.encode_into(value, out)
            except BsatnEncodeError as exc:
                raise BsatnEncodeError(f"{self.name}() argument {pname!r}: {exc}") from exc
        return bytes(out)


class CallCodecs:
    """Function codecs of a module, compiled on first use."""

    def __init__(self, schema: ModuleSchema, bindings: Bindings) -> None:
        self._schema = schema
        self._bindings = bindings
        self._reducers: dict[str, FunctionCodec] = {}
        self._procedures: dict[str, FunctionCodec] = {}
        self._lock = threading.Lock()

    def _codec(self, ty: AlgebraicType) -> BsatnCodec[Any]:
        return compile_codec(ty, self._schema.typespace, self._bindings)

    def _params(self, params: Sequence[ParamSchema]) -> tuple[tuple[str, BsatnCodec[Any]], ...]:
        return tuple((p.name, self._codec(p.algebraic_type)) for p in params)

    def reducer(self, name: str) -> FunctionCodec | None:
        """The codec of a reducer (canonical or accessor name); None if the module has none."""
        with self._lock:
            found = self._reducers.get(name)
            if found is None:
                info = self._schema.find_reducer(name)
                if info is None:
                    return None
                ok = None if info.ok_return_type == UNIT else self._codec(info.ok_return_type)
                err = None if info.err_return_type == STRING else self._codec(info.err_return_type)
                found = FunctionCodec(info.name, self._params(info.params), ok, err)
                self._reducers[name] = found
            return found

    def procedure(self, name: str) -> FunctionCodec | None:
        """The codec of a procedure (canonical or accessor name); None if unknown."""
        with self._lock:
            found = self._procedures.get(name)
            if found is None:
                info = self._schema.find_procedure(name)
                if info is None:
                    return None
                found = FunctionCodec(
                    info.name, self._params(info.params), self._codec(info.return_type), None
                )
                self._procedures[name] = found
            return found

    def codec_for(self, ty: AlgebraicType) -> BsatnCodec[Any]:
        """A codec for ``ty`` in this module's typespace and bindings."""
        return self._codec(ty)
