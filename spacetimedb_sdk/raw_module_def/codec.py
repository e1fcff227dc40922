"""Reading and writing a ``RawModuleDef`` as BSATN or SATS-JSON.

Both directions go through the meta typespace's bindings, so they round-trip byte for byte.
``V8BackCompat`` is rejected with :class:`~spacetimedb_sdk.errors.ModuleDefError`; no 2.x binding
emits it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, TypeAlias

from spacetimedb_sdk.algebraic_type import RefType
from spacetimedb_sdk.bsatn import BsatnCodec
from spacetimedb_sdk.errors import BsatnDecodeError, ModuleDefError, SatsJsonError, SpacetimeDBError
from spacetimedb_sdk.raw_module_def.meta import meta_codecs
from spacetimedb_sdk.raw_module_def.v9 import RawModuleDefV9
from spacetimedb_sdk.raw_module_def.v10 import RawModuleDefV10
from spacetimedb_sdk.sats_json import value_from_json, value_to_json

__all__ = [
    "RawModuleDef",
    "decode_raw_module_def",
    "encode_raw_module_def",
    "raw_module_def_from_json",
    "raw_module_def_to_json",
]

#: A decoded ``RawModuleDef`` enum value: its V9 or V10 payload (V8 is rejected).
RawModuleDef: TypeAlias = "RawModuleDefV9 | RawModuleDefV10"

_VARIANT_TAGS: Final = {"V8BackCompat": 0, "V9": 1, "V10": 2}


def decode_raw_module_def(data: bytes | bytearray | memoryview) -> RawModuleDef:
    """Decode the BSATN of the ``RawModuleDef`` enum (what ``__describe_module__`` returns)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BsatnDecodeError(f"BSATN input must be bytes-like, not {type(data).__name__}")
    if len(data) == 0:
        raise BsatnDecodeError("input truncated: RawModuleDef needs a tag byte", 0)
    tag = data[0]
    if tag == 0:
        raise ModuleDefError(
            "RawModuleDef::V8BackCompat is not supported (no 2.x binding emits it)"
        )
    if tag not in (1, 2):
        raise BsatnDecodeError(
            f"invalid RawModuleDef tag {tag} (known: 0=V8BackCompat, 1=V9, 2=V10)", 0
        )
    meta = meta_codecs()
    codec: BsatnCodec[Any] = meta.v9 if tag == 1 else meta.v10
    try:
        value, end = codec.decode_from(data, 1)
    except SpacetimeDBError:
        raise
    except RecursionError:
        raise BsatnDecodeError("module definition nests types too deeply") from None
    except (TypeError, ValueError, KeyError, IndexError) as exc:  # defensive: keep the error family
        raise ModuleDefError(f"malformed module definition: {exc}") from exc
    if end != len(data):
        raise BsatnDecodeError(f"{len(data) - end} trailing byte(s) after the RawModuleDef", end)
    return value  # type: ignore[no-any-return]


def encode_raw_module_def(raw: RawModuleDef) -> bytes:
    """Encode ``raw`` as the BSATN of the ``RawModuleDef`` enum."""
    meta = meta_codecs()
    if isinstance(raw, RawModuleDefV10):
        return b"\x02" + meta.v10.encode(raw)
    if isinstance(raw, RawModuleDefV9):
        return b"\x01" + meta.v9.encode(raw)
    raise ModuleDefError(f"not a RawModuleDefV9 or RawModuleDefV10: {type(raw).__name__}")


_V9_KEYS: Final = frozenset(
    ("typespace", "tables", "reducers", "types", "misc_exports", "row_level_security")
)


def raw_module_def_from_json(obj: Any) -> RawModuleDef:
    """Read a module def from SATS-JSON (a parsed object, or JSON text).

    Accepts the enum-wrapped form (``{"V10": {...}}``, ``{"V9": {...}}``, as ``extract-schema``
    and ``spacetime generate --module-def`` use) and the bare forms the schema endpoint serves
    (``{"sections": [...]}`` for V10, ``{"typespace": ..., "tables": ..., ...}`` for V9).
    """
    if isinstance(obj, (str, bytes, bytearray)):
        try:
            obj = json.loads(obj)
        except ValueError as exc:
            raise ModuleDefError(f"module definition is not valid JSON: {exc}") from exc
    if not isinstance(obj, Mapping):
        raise ModuleDefError(f"a module definition is a JSON object, got {type(obj).__name__}")
    if len(obj) == 1:
        ((key, payload),) = obj.items()
        if key in _VARIANT_TAGS:
            if key == "V8BackCompat":
                raise ModuleDefError(
                    "RawModuleDef::V8BackCompat is not supported (no 2.x binding emits it)"
                )
            return _from_json_body(key, payload)
    if "sections" in obj:
        return _from_json_body("V10", obj)
    if "typespace" in obj and set(obj) <= _V9_KEYS:
        return _from_json_body("V9", obj)
    keys = ", ".join(sorted(map(str, obj)))
    raise ModuleDefError(
        f"not a RawModuleDef (expected V9/V10 wrapper, 'sections' or V9 keys); keys: {keys}"
    )


def _from_json_body(variant: str, body: Any) -> RawModuleDef:
    meta = meta_codecs()
    root = RefType(meta.refs["RawModuleDefV10" if variant == "V10" else "RawModuleDefV9"])
    try:
        value = value_from_json(root, body, meta.typespace, meta.bindings)
    except SatsJsonError as exc:
        raise ModuleDefError(f"malformed {variant} module definition: {exc}") from exc
    except RecursionError:
        raise ModuleDefError("module definition nests types too deeply") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ModuleDefError(f"malformed {variant} module definition: {exc}") from exc
    return value  # type: ignore[no-any-return]


def raw_module_def_to_json(raw: RawModuleDef, wrapped: bool = True) -> dict[str, Any]:
    """Write ``raw`` as SATS-JSON: ``{"V10": {...}}`` when ``wrapped``, else the bare body.

    The bare V10/V9 body is exactly what the schema endpoint serves for ``version=10``/``9``.
    """
    meta = meta_codecs()
    if isinstance(raw, RawModuleDefV10):
        variant, root = "V10", meta.refs["RawModuleDefV10"]
    elif isinstance(raw, RawModuleDefV9):
        variant, root = "V9", meta.refs["RawModuleDefV9"]
    else:
        raise ModuleDefError(f"not a RawModuleDefV9 or RawModuleDefV10: {type(raw).__name__}")
    try:
        body = value_to_json(RefType(root), raw, meta.typespace, meta.bindings, big_ints="number")
    except SatsJsonError as exc:
        raise ModuleDefError(f"cannot write module definition: {exc}") from exc
    return {variant: body} if wrapped else dict(body)
