"""Every value vector produced by the official TypeScript library round-trips byte for byte."""

from __future__ import annotations

import math
from typing import Any

import pytest

from spacetimedb_sdk.algebraic_type import type_from_json
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.sats_json import value_from_json, value_to_json
from tests.conftest import load_fixture

VECTORS: list[dict[str, Any]] = load_fixture("vectors", "bsatn_values.json")["values"]


def _same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN (the vectors contain NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_round_trips(vector: dict[str, Any]) -> None:
    ty = type_from_json(vector["type"])
    codec = compile_codec(ty)
    data = bytes.fromhex(vector["hex"])

    decoded = codec.decode(data)
    assert codec.encode(decoded) == data  # bytes -> value -> the same bytes

    from_json = value_from_json(ty, vector["value"])
    assert codec.encode(from_json) == data  # the fixture's JSON value encodes to its bytes
    assert _same(codec.decode(codec.encode(from_json)), decoded)

    # Writing JSON back gives the fixture's JSON (its convention: 256-bit ints as numbers and
    # non-finite floats as strings; our default is the server's "0x…" and null).
    as_json = value_to_json(ty, decoded, big_ints="number", non_finite="string")
    assert _same(as_json, vector["value"])
