"""What the decoder and encoder generators share: blocks of lines, pending fixed-width runs,
fresh names, and the namespace the generated code runs in."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from spacetimedb_sdk.algebraic_type import Typespace
from spacetimedb_sdk.bsatn import errors, runtime
from spacetimedb_sdk.bsatn.bindings import Bindings
from spacetimedb_sdk.bsatn.layout import ZERO_SIZE_ELEMENT_ALLOWANCE, TypeLayout
from spacetimedb_sdk.errors import BsatnEncodeError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.uuid import Uuid
from spacetimedb_sdk.values import Err, Ok, Some, SumValue


@dataclass
class Run:
    """Fixed-width items waiting to be read (decode) or written (encode) with one struct call."""

    fmt: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    bool_names: list[tuple[str, int]] = field(default_factory=list)  # (name, offset in run)
    # Statements run right after the unpack (building special values without a call).
    post: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Bytes the run covers."""
        return sum(self.sizes)


class Block:
    """Lines of generated code at one indentation, with the fixed-width run still open in it."""

    def __init__(self, lines: list[str], indent: int) -> None:
        self.lines = lines
        self.indent = indent
        self.run = Run()

    def emit(self, line: str) -> None:
        """Append ``line`` at this block's indentation."""
        self.lines.append("    " * self.indent + line)


class CodeEmitter(TypeLayout):
    """State of one generation: names handed out, constants and structs bound, refs pending."""

    def __init__(self, typespace: Typespace, bindings: Bindings) -> None:
        super().__init__(typespace, bindings)
        self.ns: dict[str, Any] = {
            "_unpack_from": struct.unpack_from,
            "_pack": struct.pack,
            "_from_bytes": int.from_bytes,
            "_new": object.__new__,
            "_mk_schedule_at": runtime.mk_schedule_at,
            "Identity": Identity,
            "ConnectionId": ConnectionId,
            "Uuid": Uuid,
            "Timestamp": Timestamp,
            "TimeDuration": TimeDuration,
            "ScheduleAt": ScheduleAt,
            "_Some": Some,
            "_Ok": Ok,
            "_Err": Err,
            "_SumValue": SumValue,
            "_truncated": errors.truncated,
            "_bad_bool": errors.bad_bool,
            "_bad_tag": errors.bad_tag,
            "_bad_utf8": errors.bad_utf8,
            "_EncodeError": BsatnEncodeError,
            "_check_wide": runtime.check_wide,
            "_encode_bytes": runtime.encode_bytes,
            "_too_many": errors.too_many,
            "_zero_size_exhausted": errors.zero_size_exhausted,
            "_ZA": ZERO_SIZE_ELEMENT_ALLOWANCE,
        }
        #: Whether generated functions carry ``zb``, the zero-size element budget (a one-item
        #: list shared with recursive calls): only types with arrays of zero-size elements.
        self.zero_budget = False
        self.counter = 0
        self.sources: list[str] = []
        self.ref_funcs: dict[int, tuple[str, str]] = {}  # ref index -> (decode fn, encode fn)
        self.pending_refs: list[int] = []
        self.structs: dict[str, str] = {}

    def tmp(self, prefix: str = "t") -> str:
        """A fresh local name."""
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: object, prefix: str = "_k") -> str:
        """Bind ``value`` in the namespace under a fresh name; return the name."""
        name = self.tmp(prefix)
        self.ns[name] = value
        return name

    def struct_name(self, fmt: str) -> str:
        """The name of the (shared) precompiled little-endian ``struct.Struct`` for ``fmt``."""
        name = self.structs.get(fmt)
        if name is None:
            name = self.tmp("_S")
            self.structs[fmt] = name
            self.ns[name] = struct.Struct("<" + fmt)
        return name

    def ref_function(self, index: int) -> tuple[str, str]:
        """Names of the decode and encode functions of recursive ``Ref(index)`` (queued once)."""
        names = self.ref_funcs.get(index)
        if names is None:
            names = (f"_dec_ref{index}", f"_enc_ref{index}")
            self.ref_funcs[index] = names
            self.pending_refs.append(index)
        return names
