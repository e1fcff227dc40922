"""SATS-JSON: the JSON form of SATS values, in both directions.

:func:`value_to_json` writes what the server emits for *typed* values: products as objects keyed
by field name, sums as ``{"variant": payload}``, units as ``[]``, byte arrays as lowercase hex,
128-bit integers as JSON numbers and 256-bit integers as ``"0x…"`` strings.

:func:`value_from_json` reads leniently, as the server does: products as objects or positional
arrays, sums as ``{"name": v}``, ``{"<tag>": v}`` or ``[tag_or_name, v]``, ``null`` for an Option
none, byte arrays as hex strings or number arrays, 256-bit integers as numbers, ``"0x…"`` or
decimal strings, non-finite floats as ``null`` or ``"NaN"``/``"Infinity"``/``"-Infinity"``.

Values use the same Python shapes as :mod:`spacetimedb_sdk.bsatn` (and the same bindings).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

from spacetimedb_sdk.algebraic_type import (
    INTEGER_RANGES,
    UNIT,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    SumType,
    Typespace,
    special_kind,
)
from spacetimedb_sdk.bsatn import Bindings, ProductBinding, SumBinding, resolve_binding
from spacetimedb_sdk.errors import SatsJsonError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.uuid import Uuid
from spacetimedb_sdk.values import Err, Ok, Some, SumValue

__all__ = ["value_from_json", "value_to_json"]


_SPECIAL_FIELDS = {
    "identity": ("__identity__", Identity, "U256"),
    "connection_id": ("__connection_id__", ConnectionId, "U128"),
    "uuid": ("__uuid__", Uuid, "U128"),
    "timestamp": ("__timestamp_micros_since_unix_epoch__", Timestamp, "I64"),
    "time_duration": ("__time_duration_micros__", TimeDuration, "I64"),
}

BigIntStyle = Literal["hex", "number"]
NonFiniteStyle = Literal["null", "string"]


class _Ctx:
    __slots__ = ("big_ints", "bindings", "non_finite", "ts")

    def __init__(
        self,
        ts: Typespace,
        bindings: Bindings,
        big_ints: BigIntStyle = "hex",
        non_finite: NonFiniteStyle = "null",
    ) -> None:
        self.ts = ts
        self.bindings = bindings
        self.big_ints = big_ints
        self.non_finite = non_finite

    def resolve(
        self, ty: AlgebraicType
    ) -> tuple[AlgebraicType, ProductBinding | SumBinding | None]:
        try:
            return resolve_binding(ty, self.ts, self.bindings)
        except ValueError as exc:
            raise SatsJsonError(str(exc)) from None


def _as_ts(typespace: Typespace | Sequence[AlgebraicType]) -> Typespace:
    return typespace if isinstance(typespace, Typespace) else Typespace(tuple(typespace))


# ------------------------------------------------------------------------------------- writing


def value_to_json(
    ty: AlgebraicType,
    value: Any,
    typespace: Typespace | Sequence[AlgebraicType] = (),
    bindings: Bindings | None = None,
    *,
    big_ints: BigIntStyle = "hex",
    non_finite: NonFiniteStyle = "null",
) -> Any:
    """Convert a Python value of type ``ty`` to SATS-JSON (typed form)."""
    ctx = _Ctx(_as_ts(typespace), bindings or {}, big_ints, non_finite)
    return _to_json(ty, value, ctx)


def _to_json(ty: AlgebraicType, value: Any, ctx: _Ctx) -> Any:
    ty, binding = ctx.resolve(ty)
    if isinstance(ty, PrimitiveType):
        return _prim_to_json(ty.name, value, ctx)
    if isinstance(ty, ArrayType):
        elem, _ = ctx.resolve(ty.element)
        if isinstance(elem, PrimitiveType) and elem.name == "U8":
            if not isinstance(value, (bytes, bytearray, memoryview, list, tuple)):
                raise SatsJsonError(f"Array<U8> needs bytes, got {type(value).__name__}")
            return bytes(value).hex()
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise SatsJsonError(f"Array needs a sequence, got {type(value).__name__}")
        return [_to_json(ty.element, v, ctx) for v in value]
    if isinstance(ty, ProductType):
        kind = special_kind(ty)
        if binding is None and kind in _SPECIAL_FIELDS:
            field, cls, prim = _SPECIAL_FIELDS[kind]
            if not isinstance(value, cls):
                raise SatsJsonError(f"expected {cls.__name__}, got {type(value).__name__}")
            raw = (
                value._micros
                if isinstance(value, (Timestamp, TimeDuration))
                else cast("Identity | ConnectionId | Uuid", value).value
            )
            return {field: _prim_to_json(prim, raw, ctx)}
        if not ty.elements:
            return []
        out: dict[str, Any] = {}
        for i, el in enumerate(ty.elements):
            key = el.name if el.name is not None else str(i)
            if isinstance(binding, ProductBinding):
                item = getattr(value, binding.attrs[i])
            else:
                if not isinstance(value, Mapping) or key not in value:
                    raise SatsJsonError(f"product value needs field {key!r}, got {value!r}")
                item = value[key]
            out[key] = _to_json(el.algebraic_type, item, ctx)
        return out
    if isinstance(ty, SumType):
        kind = special_kind(ty) if binding is None else None
        if kind == "option":
            if value is None:
                return {"none": []}
            inner = value.value if isinstance(value, Some) else value
            return {"some": _to_json(ty.variants[0].algebraic_type, inner, ctx)}
        if isinstance(binding, SumBinding):
            tag, payload = binding.unwrap(value)
        elif kind == "result":
            if isinstance(value, Ok):
                tag, payload = 0, value.value
            elif isinstance(value, Err):
                tag, payload = 1, value.error
            else:
                raise SatsJsonError(f"Result needs Ok or Err, got {value!r}")
        elif kind == "schedule_at":
            if not isinstance(value, ScheduleAt):
                raise SatsJsonError(f"expected ScheduleAt, got {value!r}")
            tag, payload = value.tag, value.value
        else:
            if not isinstance(value, SumValue):
                raise SatsJsonError(f"expected SumValue, got {value!r}")
            tag, payload = value.tag, value.value
        if not 0 <= tag < len(ty.variants):
            raise SatsJsonError(f"invalid tag {tag} for a sum of {len(ty.variants)} variants")
        variant = ty.variants[tag]
        payload_json = (
            [] if variant.algebraic_type == UNIT else _to_json(variant.algebraic_type, payload, ctx)
        )
        if variant.name is None:
            return [tag, payload_json]
        return {variant.name: payload_json}
    raise SatsJsonError(f"not an AlgebraicType: {ty!r}")


def _prim_to_json(name: str, value: Any, ctx: _Ctx) -> Any:
    if name == "String":
        if not isinstance(value, str):
            raise SatsJsonError(f"String needs str, got {type(value).__name__}")
        return value
    if name == "Bool":
        if not isinstance(value, bool):
            raise SatsJsonError(f"Bool needs bool, got {type(value).__name__}")
        return value
    if name in ("F32", "F64"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SatsJsonError(f"{name} needs a float, got {type(value).__name__}")
        f = float(value)
        if math.isfinite(f):
            return _shortest_f32(f) if name == "F32" else f
        if ctx.non_finite == "null":
            return None
        return "NaN" if math.isnan(f) else ("Infinity" if f > 0 else "-Infinity")
    if not isinstance(value, int) or isinstance(value, bool):
        raise SatsJsonError(f"{name} needs an int, got {type(value).__name__}")
    lo, hi = INTEGER_RANGES[name]
    if not lo <= value <= hi:
        raise SatsJsonError(f"{value} is out of range for {name}")
    if name in ("I256", "U256") and ctx.big_ints == "hex":
        return f"-0x{-value:x}" if value < 0 else f"0x{value:x}"
    return value


def _shortest_f32(f: float) -> float:
    """The shortest decimal that reads back as the same f32 (what Rust prints for an f32)."""
    try:
        bits = struct.pack("<f", f)
    except OverflowError:
        raise SatsJsonError(f"{f} does not fit in an F32") from None
    for digits in range(1, 10):
        candidate = float(f"{f:.{digits}g}")
        try:
            if struct.pack("<f", candidate) == bits:
                return candidate
        except OverflowError:
            continue
    return float(struct.unpack("<f", bits)[0])


# ------------------------------------------------------------------------------------- reading


def value_from_json(
    ty: AlgebraicType,
    obj: Any,
    typespace: Typespace | Sequence[AlgebraicType] = (),
    bindings: Bindings | None = None,
) -> Any:
    """Convert SATS-JSON (any accepted form) to a Python value of type ``ty``."""
    ctx = _Ctx(_as_ts(typespace), bindings or {})
    return _from_json(ty, obj, ctx)


def _from_json(ty: AlgebraicType, obj: Any, ctx: _Ctx) -> Any:
    ty, binding = ctx.resolve(ty)
    if isinstance(ty, PrimitiveType):
        return _prim_from_json(ty.name, obj)
    if isinstance(ty, ArrayType):
        elem, _ = ctx.resolve(ty.element)
        if isinstance(elem, PrimitiveType) and elem.name == "U8":
            if isinstance(obj, str):
                try:
                    return bytes.fromhex(obj[2:] if obj.startswith("0x") else obj)
                except ValueError:
                    raise SatsJsonError(f"Array<U8> hex string is not valid hex: {obj!r}") from None
            if isinstance(obj, list):
                return bytes(_prim_from_json("U8", b) for b in obj)
            raise SatsJsonError(f"Array<U8> needs a hex string or a number array, got {obj!r}")
        if not isinstance(obj, list):
            raise SatsJsonError(f"Array needs a JSON array, got {obj!r}")
        return [_from_json(ty.element, v, ctx) for v in obj]
    if isinstance(ty, ProductType):
        return _product_from_json(
            ty, obj, ctx, binding if isinstance(binding, ProductBinding) else None
        )
    if isinstance(ty, SumType):
        return _sum_from_json(ty, obj, ctx, binding if isinstance(binding, SumBinding) else None)
    raise SatsJsonError(f"not an AlgebraicType: {ty!r}")


def _product_from_json(ty: ProductType, obj: Any, ctx: _Ctx, binding: ProductBinding | None) -> Any:
    n = len(ty.elements)
    if n == 0 and obj in ([], {}):
        return binding.cls() if binding else ()
    if isinstance(obj, list):
        if len(obj) != n:
            raise SatsJsonError(f"product needs {n} element(s), got {len(obj)}")
        items = obj
    elif isinstance(obj, Mapping):
        keys = [el.name if el.name is not None else str(i) for i, el in enumerate(ty.elements)]
        missing = [k for k in keys if k not in obj]
        extra = [k for k in obj if k not in keys]
        if missing or extra:
            raise SatsJsonError(f"product fields mismatch: missing {missing}, unexpected {extra}")
        items = [obj[k] for k in keys]
    else:
        raise SatsJsonError(f"product needs a JSON object or array, got {obj!r}")
    values = [
        _from_json(el.algebraic_type, item, ctx)
        for el, item in zip(ty.elements, items, strict=True)
    ]
    if binding is not None:
        return binding.cls(*values)
    kind = special_kind(ty)
    if kind in _SPECIAL_FIELDS:
        cls = _SPECIAL_FIELDS[kind][1]
        return cls(values[0])
    keys = [el.name if el.name is not None else str(i) for i, el in enumerate(ty.elements)]
    return dict(zip(keys, values, strict=True))


def _sum_from_json(ty: SumType, obj: Any, ctx: _Ctx, binding: SumBinding | None) -> Any:
    kind = special_kind(ty) if binding is None else None
    if obj is None and kind == "option":
        return None
    if isinstance(obj, Mapping) and len(obj) == 1:
        ((key, payload),) = obj.items()
        tag = _variant_index(ty, key)
    elif isinstance(obj, list) and len(obj) == 2:
        tag = _variant_index(ty, obj[0])
        payload = obj[1]
    else:
        raise SatsJsonError(f"sum needs {{variant: payload}} or [tag, payload], got {obj!r}")
    variant_ty = ty.variants[tag].algebraic_type
    value = _from_json(variant_ty, payload, ctx)
    if binding is not None:
        if tag in binding.constants:
            return binding.constants[tag]
        return binding.wrap[tag](value)
    if kind == "option":
        if tag == 1:
            return None
        resolved, inner_binding = ctx.resolve(variant_ty)
        if inner_binding is None and special_kind(resolved) == "option":
            return Some(value)
        return value
    if kind == "result":
        return Ok(value) if tag == 0 else Err(value)
    if kind == "schedule_at":
        return ScheduleAt(value)
    return SumValue(tag, ty.variants[tag].name, value)


def _variant_index(ty: SumType, key: Any) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        index = key
    elif isinstance(key, str):
        for i, v in enumerate(ty.variants):
            if v.name == key:
                return i
        if not key.isdigit():
            raise SatsJsonError(f"unknown variant {key!r}")
        index = int(key)
    else:
        raise SatsJsonError(f"a sum tag must be a variant name or number, got {key!r}")
    if not 0 <= index < len(ty.variants):
        raise SatsJsonError(f"sum tag {index} out of range for {len(ty.variants)} variants")
    return index


def _prim_from_json(name: str, obj: Any) -> Any:
    if name == "String":
        if not isinstance(obj, str):
            raise SatsJsonError(f"String needs a JSON string, got {obj!r}")
        return obj
    if name == "Bool":
        if not isinstance(obj, bool):
            raise SatsJsonError(f"Bool needs true or false, got {obj!r}")
        return obj
    if name in ("F32", "F64"):
        if obj is None:
            return math.nan
        if isinstance(obj, str):
            special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
            if obj in special:
                return special[obj]
            raise SatsJsonError(f"{name} needs a number, got {obj!r}")
        if not isinstance(obj, (int, float)) or isinstance(obj, bool):
            raise SatsJsonError(f"{name} needs a number, got {obj!r}")
        return float(obj)
    if isinstance(obj, bool):
        raise SatsJsonError(f"{name} needs an integer, got {obj!r}")
    if isinstance(obj, int):
        value = obj
    elif isinstance(obj, float) and obj.is_integer():
        value = int(obj)
    elif isinstance(obj, str):
        text = obj.strip()
        try:
            base = 16 if text.lower().startswith(("0x", "-0x")) else 10
            value = int(text, base)
        except ValueError:
            raise SatsJsonError(f"{name} needs an integer, got {obj!r}") from None
    else:
        raise SatsJsonError(f"{name} needs an integer, got {obj!r}")
    lo, hi = INTEGER_RANGES[name]
    if not lo <= value <= hi:
        raise SatsJsonError(f"{value} is out of range for {name}")
    return value
