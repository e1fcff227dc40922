"""The codec never allocates more than its input justifies, and its validator agrees with it.

* Length prefixes are checked against what the rest of the input can hold before anything is
  built; arrays of zero-size elements (unit, empty products) draw on a per-value allowance.
  The cases that used to exhaust memory run in a child process with an address-space limit, so
  a regression fails the test instead of taking the machine down.
* ``BsatnCodec.validate`` / ``validate_spans`` accept exactly what ``decode`` accepts.
* A time-bounded fuzz run (fixed seed) feeds random and mutated input to many codecs.
"""

from __future__ import annotations

import random
import resource
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    STRING,
    U32,
    UNIT,
    AlgebraicType,
    ArrayType,
    ProductType,
    RefType,
    Typespace,
    array,
    option,
    product_of,
    sum_of,
)
from spacetimedb_sdk.bsatn import ZERO_SIZE_ELEMENT_ALLOWANCE, compile_codec
from spacetimedb_sdk.errors import BsatnDecodeError
from tests.test_bsatn_properties import draw_typed_value

REPO = Path(__file__).resolve().parent.parent
EMPTY = ProductType(())
HUGE = b"\xff\xff\xff\x7f"  # a u32 length prefix of 2**31 - 1


def run_limited(
    code: str, memory_mb: int = 1024, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child Python whose address space is capped at ``memory_mb``."""
    limit = memory_mb * 1024 * 1024
    capped = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
    return subprocess.run(
        [sys.executable, "-c", capped + textwrap.dedent(code)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


ZERO_SIZE_ARRAYS = {
    "unit": "ArrayType(UNIT)",
    "empty product": "ArrayType(ProductType(()))",
    "product of units": "ArrayType(product_of([('a', UNIT), ('b', ProductType(()))]))",
    "nested": "ArrayType(ArrayType(UNIT))",
    "in option": "option(ArrayType(UNIT))",
}


@pytest.mark.parametrize("expr", list(ZERO_SIZE_ARRAYS.values()), ids=list(ZERO_SIZE_ARRAYS))
def test_a_huge_zero_size_array_claim_fails_fast_in_bounded_memory(expr: str) -> None:
    # Before: 2**31 elements were built (MemoryError after seconds, or the OOM killer).
    proc = run_limited(
        f"""
        import time
        from spacetimedb_sdk.algebraic_type import *
        from spacetimedb_sdk.bsatn import compile_codec
        from spacetimedb_sdk.errors import BsatnDecodeError
        codec = compile_codec({expr})
        data = b"\\x00" * ({expr!r}.startswith("option")) + {HUGE!r}
        start = time.perf_counter()
        try:
            codec.decode(data)
        except BsatnDecodeError as exc:
            print("refused", round(time.perf_counter() - start, 3), exc)
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("refused"), proc.stdout
    assert "zero-size" in proc.stdout or "remain" in proc.stdout


def test_nested_zero_size_claims_share_one_allowance() -> None:
    # Many small inner arrays, each within any per-array cap, must not add up to gigabytes.
    inner = 60_000
    outer = 100_000
    data = struct.pack("<I", outer) + struct.pack("<I", inner) * outer
    codec = compile_codec(ArrayType(ArrayType(UNIT)))
    with pytest.raises(BsatnDecodeError, match="zero-size") as info:
        codec.decode(data)
    # Refused once the total passes the allowance plus the input length, not at the end.
    budget = ZERO_SIZE_ELEMENT_ALLOWANCE + len(data)
    assert info.value.offset is not None and info.value.offset <= 4 + 4 * (budget // inner + 1)


def test_zero_size_arrays_within_the_allowance_still_decode() -> None:
    codec = compile_codec(ArrayType(ArrayType(UNIT)))
    value = [[()] * 1000, [], [()] * (ZERO_SIZE_ELEMENT_ALLOWANCE - 1000)]
    assert codec.decode(codec.encode(value)) == value
    empty = compile_codec(ArrayType(EMPTY))
    assert empty.decode(struct.pack("<I", 3)) == [(), (), ()]


def test_array_count_is_checked_against_the_minimum_element_size() -> None:
    # {s: String, n: u32} needs at least 8 bytes per element: refused before any element.
    codec = compile_codec(ArrayType(product_of([("s", STRING), ("n", U32)])))
    data = struct.pack("<I", 1000) + b"\x00" * 7999
    with pytest.raises(BsatnDecodeError, match="at least 8 byte") as info:
        codec.decode(data)
    assert info.value.offset == 0
    ok = codec.encode([{"s": "", "n": 1}] * 1000)
    assert len(codec.decode(ok)) == 1000


def test_zero_size_values_laid_back_to_back_cannot_loop_forever() -> None:
    codec = compile_codec(UNIT)
    assert codec.decode_concatenated(b"") == []
    with pytest.raises(BsatnDecodeError):
        codec.decode_concatenated(b"\x00")  # before: an endless loop filling a list


def test_deep_recursion_is_a_decode_error() -> None:
    # list = Sum{nil: (), cons: {head: u32, tail: list}} nested far deeper than the stack.
    ts = Typespace(
        (sum_of([("nil", UNIT), ("cons", product_of([("head", U32), ("tail", RefType(0))]))]),)
    )
    codec = compile_codec(RefType(0), ts)
    data = b"\x01\x00\x00\x00\x00" * 100_000 + b"\x00"
    with pytest.raises(BsatnDecodeError, match="nested too deeply"):
        codec.decode(data)
    with pytest.raises(BsatnDecodeError, match="nested too deeply"):
        codec.validate(data)


# ------------------------------------------------------------------------------- the validator


def _outcome(fn: Any, data: bytes) -> str | None:
    try:
        fn(data)
    except BsatnDecodeError as exc:
        return exc.reason
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_validate_accepts_exactly_what_decode_accepts(data: st.DataObject) -> None:
    ty, value = draw_typed_value(data)
    codec = compile_codec(ty)
    encoded = codec.encode(value)
    codec.validate(encoded)
    variants = [encoded + b"\x00"]
    if encoded:
        variants.append(encoded[: data.draw(st.integers(0, len(encoded) - 1))])
        mutated = bytearray(encoded)
        mutated[data.draw(st.integers(0, len(encoded) - 1))] = data.draw(st.integers(0, 255))
        variants.append(bytes(mutated))
    for variant in variants:
        decoded = _outcome(codec.decode, variant)
        validated = _outcome(codec.validate, variant)
        assert (decoded is None) == (validated is None), (variant, decoded, validated)
    # Rows laid out as a row list: every span must hold exactly one value.
    spans = encoded * 3
    n = len(encoded)
    assert codec.split_validated(spans, [0, n, 2 * n], [n, 2 * n, 3 * n]) == [encoded] * 3


@pytest.mark.parametrize(
    ("ty", "bad", "reason"),
    [
        (
            product_of([("a", U32), ("b", STRING)]),
            b"\x01\x00\x00\x00\x02\x00\x00\x00\xc3(",
            "UTF-8",
        ),
        (
            product_of([("a", STRING), ("b", STRING)]),
            b"\x01\x00\x00\x00\xc3\x01\x00\x00\x00\xa9",
            "UTF-8",
        ),
        (array(option(STRING)), b"\x01\x00\x00\x00\x02", "sum tag"),
        (array(product_of([("x", U32), ("s", STRING)])), b"\x05\x00\x00\x00", "at least"),
    ],
)
def test_validate_reports_like_decode(ty: AlgebraicType, bad: bytes, reason: str) -> None:
    codec = compile_codec(ty)
    with pytest.raises(BsatnDecodeError, match=reason):
        codec.decode(bad)
    with pytest.raises(BsatnDecodeError, match=reason):
        codec.validate(bad)


def test_utf8_is_checked_per_string_not_across_neighbours() -> None:
    # "\xc3" ends one string and "\xa9" starts the next: joined they would read as "é".
    codec = compile_codec(STRING)
    data = b"\x01\x00\x00\x00\xc3" + b"\x01\x00\x00\x00\xa9"
    with pytest.raises(BsatnDecodeError, match="UTF-8") as info:
        codec.validate_spans(data, [0, 5], [5, 10])
    assert info.value.offset == 4
    with pytest.raises(BsatnDecodeError, match="UTF-8"):
        codec.validate_concatenated(data)


def test_fixed_size_rows_are_checked_by_stride() -> None:
    inner = product_of([("alive", BOOL), ("flag", sum_of([("a", UNIT), ("b", UNIT)]))])
    codec = compile_codec(product_of([("id", U32), ("state", inner)]))
    good = codec.encode({"id": 1, "state": {"alive": True, "flag": _sum(1)}})
    assert codec.fixed_size == len(good) == 6
    codec.validate_concatenated(good * 50)
    bad = bytearray(good * 50)
    bad[len(good) * 7 + 4] = 2  # the bool of row 7
    with pytest.raises(BsatnDecodeError, match="Bool") as info:
        codec.validate_concatenated(bytes(bad))
    assert info.value.offset == len(good) * 7 + 4
    bad = bytearray(good * 50)
    bad[len(good) * 7 + 5] = 2  # the sum tag of row 7
    with pytest.raises(BsatnDecodeError, match="sum tag") as info:
        codec.validate_concatenated(bytes(bad))
    assert info.value.offset == len(good) * 7 + 5
    with pytest.raises(BsatnDecodeError):
        codec.decode_concatenated(bytes(bad))


def _sum(tag: int) -> Any:
    from spacetimedb_sdk.values import SumValue

    return SumValue(tag, "ab"[tag], ())


# ------------------------------------------------------------------------------------ fuzzing

FUZZ_TYPES: list[AlgebraicType] = [
    array(UNIT),
    array(array(EMPTY)),
    array(STRING),
    array(option(array(UNIT))),
    product_of([("a", array(product_of([("x", U32), ("s", STRING)]))), ("b", option(STRING))]),
    array(sum_of([("u", UNIT), ("e", array(EMPTY)), ("s", STRING)])),
]


def test_fuzz_codecs_raise_only_decode_errors_in_bounded_memory() -> None:
    """About three seconds of random and mutated input (seed 10); memory stays bounded."""
    rng = random.Random(10)
    codecs = [compile_codec(t) for t in FUZZ_TYPES]
    seeds = [c.encode(v) for c, v in zip(codecs, _fuzz_values(), strict=True)]
    deadline = time.monotonic() + 3.0
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runs = errors = 0
    while time.monotonic() < deadline:
        i = rng.randrange(len(codecs))
        data = bytearray(seeds[i])
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(4)
            if op == 0 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif op == 1:
                at = rng.randrange(len(data) + 1)
                data[at:at] = rng.choice([HUGE, b"\xff\xff\x00\x00", rng.randbytes(4)])
            elif op == 2 and data:
                del data[rng.randrange(len(data)) :]
            else:
                data += rng.randbytes(rng.randint(0, 8))
        d = _outcome(codecs[i].decode, bytes(data))
        v = _outcome(codecs[i].validate, bytes(data))
        assert (d is None) == (v is None), (FUZZ_TYPES[i], bytes(data), d, v)
        runs += 1
        errors += d is not None
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert runs > 100 and errors > 0
    assert grown_mb < 200, f"peak RSS grew by {grown_mb:.0f} MB during the fuzz run"


def _fuzz_values() -> list[Any]:
    from spacetimedb_sdk.values import SumValue

    return [
        [()] * 3,
        [[()], [], [(), ()]],
        ["a", "é", ""],
        [None, [()]],
        {"a": [{"x": 1, "s": "hi"}], "b": "x"},
        [SumValue(0, "u", ()), SumValue(1, "e", [(), ()]), SumValue(2, "s", "z")],
    ]
