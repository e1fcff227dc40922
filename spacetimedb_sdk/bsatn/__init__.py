"""BSATN: the binary encoding of SATS values, compiled once per type.

:func:`compile_codec` turns an :class:`~spacetimedb_sdk.algebraic_type.AlgebraicType` (plus its
typespace and optional Python-class bindings) into a :class:`BsatnCodec` whose ``encode`` and
``decode`` are specialised Python functions generated for that type:

* consecutive fixed-width fields (integers, floats, bools, Identity, Timestamp, the length prefix
  of the next string, the tag of the next sum, ...) are read or written with one precompiled
  ``struct.Struct`` call, so a row such as ``{id: u64, x: f32, y: f32, z: f32, hp: u32}`` costs one
  ``unpack_from``;
* there is no per-field type dispatch at run time: the type was resolved when the code was
  generated;
* non-recursive ``Ref``\\ s are inlined; recursive ones become calls to their own function.

Decoding is strict. Truncated input, trailing bytes, an unknown sum tag, a bool byte other than
0/1 and invalid UTF-8 all raise :class:`~spacetimedb_sdk.errors.BsatnDecodeError` naming the
problem and its byte offset; nothing else escapes.

Value shapes: see :mod:`spacetimedb_sdk.values`. Bindings (:class:`ProductBinding`,
:class:`SumBinding`) let generated code decode straight into its own classes.
"""

from spacetimedb_sdk.bsatn.bindings import Bindings, ProductBinding, SumBinding, resolve_binding
from spacetimedb_sdk.bsatn.codec import BsatnCodec, compile_codec, decode, encode
from spacetimedb_sdk.bsatn.layout import ZERO_SIZE_ELEMENT_ALLOWANCE

__all__ = [
    "ZERO_SIZE_ELEMENT_ALLOWANCE",
    "Bindings",
    "BsatnCodec",
    "ProductBinding",
    "SumBinding",
    "compile_codec",
    "decode",
    "encode",
    "resolve_binding",
]
