"""Helpers for the code generator tests: fixture module defs, generating and importing packages,
and sample values for any SATS type."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    special_kind,
)
from spacetimedb_sdk.codegen.generator import GeneratedPackage, generate_package
from spacetimedb_sdk.codegen.source import load_module_def_file
from spacetimedb_sdk.codegen.writer import write_package
from tests.conftest import FIXTURES, REPO_ROOT

MODULE_DEFS = FIXTURES / "module_defs"
CHAT_JSON = MODULE_DEFS / "chat-react-ts.moduledef.json"
CHAT_BSATN = MODULE_DEFS / "chat-react-ts.moduledef.bsatn"
GOLDEN_CHAT = REPO_ROOT / "tests" / "golden" / "chat"
PYPROJECT = REPO_ROOT / "pyproject.toml"


def fixture_names() -> list[str]:
    """Every module def fixture (``chat-react-ts``, ``module-test-ts``, ...)."""
    return sorted(p.name.split(".")[0] for p in MODULE_DEFS.glob("*.moduledef.json"))


def fixture_json(name: str) -> Path:
    """Path of a fixture's SATS-JSON module def."""
    return MODULE_DEFS / f"{name}.moduledef.json"


def package_name(name: str, include_private: bool = False) -> str:
    """A Python package name for a fixture's generated bindings."""
    return "gen_" + name.replace("-", "_") + ("_private" if include_private else "")


def generate_fixture(
    name: str, out_root: Path, *, include_private: bool = False
) -> tuple[Path, GeneratedPackage]:
    """Generate a fixture's bindings into ``out_root/<package>``; returns the package dir."""
    package = generate_package(
        load_module_def_file(fixture_json(name)), include_private=include_private
    )
    out = out_root / package_name(name, include_private)
    write_package(out, package.files)
    return out, package


@contextmanager
def imported(package_dir: Path) -> Iterator[ModuleType]:
    """Import a generated package from its directory; forget it (and its submodules) after."""
    name = package_dir.name

    def ours(key: str) -> bool:
        return key == name or key.startswith(name + ".")

    # Another test may have imported a package of the same name (e.g. client/module_bindings):
    # set it aside so this directory's package is the one imported, and put it back after.
    shadowed = {key: sys.modules.pop(key) for key in [k for k in sys.modules if ours(k)]}
    sys.path.insert(0, str(package_dir.parent))
    try:
        module = importlib.import_module(name)
        yield module
    finally:
        sys.path.remove(str(package_dir.parent))
        for key in [k for k in sys.modules if ours(k)]:
            del sys.modules[key]
        sys.modules.update(shadowed)


# ============================================================================ sample values

_INT_SAMPLES = {
    "I8": -5,
    "U8": 200,
    "I16": -300,
    "U16": 60000,
    "I32": -70000,
    "U32": 4000000000,
    "I64": -(2**40),
    "U64": 2**63 + 5,
    "I128": -(2**100),
    "U128": 2**127 + 3,
    "I256": -(2**200),
    "U256": 2**255 + 7,
}


def sample_json(ty: AlgebraicType, typespace: Typespace, variant: int = 0, depth: int = 0) -> Any:
    """A SATS-JSON value of ``ty``; ``variant`` picks which sum variant (mod the count) is
    used, so different calls exercise different payloads. Recursion is cut at depth 4."""
    if isinstance(ty, RefType):
        return sample_json(typespace.types[ty.index], typespace, variant, depth + 1)
    if isinstance(ty, PrimitiveType):
        if ty.name in _INT_SAMPLES:
            return _INT_SAMPLES[ty.name] + variant
        return {"Bool": variant % 2 == 0, "String": f"s{variant} ✓", "F32": 1.5, "F64": -2.25}[
            ty.name
        ]
    kind = special_kind(ty)
    if kind == "bytes":
        return "00ff10" if variant % 2 == 0 else ""
    if kind == "option":
        assert isinstance(ty, SumType)
        if depth > 4 or variant % 2 == 1:
            return {"none": []}
        return {"some": sample_json(ty.variants[0].algebraic_type, typespace, variant, depth + 1)}
    if isinstance(ty, ArrayType):
        if depth > 4:
            return []
        return [sample_json(ty.element, typespace, variant + i, depth + 1) for i in range(2)]
    if isinstance(ty, ProductType):
        return {
            (e.name or str(i)): sample_json(e.algebraic_type, typespace, variant + i, depth + 1)
            for i, e in enumerate(ty.elements)
        }
    if isinstance(ty, SumType):
        if not ty.variants:
            raise ValueError("no value of the never type")
        index = variant % len(ty.variants)
        if depth > 4:
            units = [i for i, v in enumerate(ty.variants) if v.algebraic_type == ProductType(())]
            index = units[0] if units else 0
        v = ty.variants[index]
        return {
            (v.name or str(index)): sample_json(v.algebraic_type, typespace, variant, depth + 1)
        }
    raise TypeError(f"no sample for {ty!r}")


# ======================================================================== tricky names


def _el(name: str, ty: Any) -> dict[str, Any]:
    return {"name": {"some": name}, "algebraic_type": ty}


def _product(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"Product": {"elements": list(elements)}}


def _table(
    source: str,
    ref: int,
    pk: list[int],
    indexes: list[tuple[str, str, list[int]]],
    unique: list[int],
) -> dict[str, Any]:
    return {
        "source_name": source,
        "product_type_ref": ref,
        "primary_key": pk,
        "indexes": [
            {"source_name": {"some": s}, "accessor_name": {"some": a}, "algorithm": {"BTree": cols}}
            for s, a, cols in indexes
        ],
        "constraints": [
            {"source_name": {"none": []}, "data": {"Unique": {"columns": [c]}}} for c in unique
        ],
        "sequences": [],
        "table_type": {"User": []},
        "table_access": {"Public": []},
        "default_values": [],
        "is_event": False,
    }


def _reducer(source: str, *params: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_name": source,
        "params": {"elements": list(params)},
        "visibility": {"ClientCallable": []},
        "ok_return_type": _product(),
        "err_return_type": {"String": []},
    }


def tricky_module_def(policy: str = "SnakeCase") -> dict[str, Any]:
    """A V10 module def whose names collide with Python keywords, builtins, runtime members
    and each other: the generated code must still import, type-check and lint."""
    u32: dict[str, Any] = {"U32": []}
    string: dict[str, Any] = {"String": []}
    unit = _product()
    option_none = {
        "Sum": {
            "variants": [
                {"name": {"some": "some"}, "algebraic_type": {"Ref": 1}},
                {"name": {"some": "none"}, "algebraic_type": unit},
            ]
        }
    }
    row = _product(
        _el("class", u32),
        _el("from", string),
        _el("self", {"Bool": []}),
        _el("int", {"I64": []}),
        _el("l", {"U8": []}),
        _el("data", string),
        _el("iter", {"U16": []}),
        _el("Weird", string),
        _el("playerId", {"Array": {"U8": []}}),
        _el("maybe", option_none),
        _el(
            "nested",
            {
                "Sum": {
                    "variants": [
                        {
                            "name": {"some": "some"},
                            "algebraic_type": {
                                "Sum": {
                                    "variants": [
                                        {"name": {"some": "some"}, "algebraic_type": u32},
                                        {"name": {"some": "none"}, "algebraic_type": unit},
                                    ]
                                }
                            },
                        },
                        {"name": {"some": "none"}, "algebraic_type": unit},
                    ]
                }
            },
        ),
    )
    none_sum = {
        "Sum": {
            "variants": [
                {"name": {"some": "None"}, "algebraic_type": unit},
                {"name": {"some": "someThing"}, "algebraic_type": u32},
                {"name": {"some": "TAG"}, "algebraic_type": {"Ref": 0}},
            ]
        }
    }
    plain_enum = {
        "Sum": {
            "variants": [
                {"name": {"some": "value"}, "algebraic_type": unit},
                {"name": {"some": "name"}, "algebraic_type": unit},
            ]
        }
    }
    clash = _product(_el("value", u32))
    types = [row, none_sum, plain_enum, clash, _product(_el("x", u32))]
    sections: list[dict[str, Any]] = [
        {"Typespace": {"types": types}},
        {
            "Types": [
                {
                    "source_name": {"scope": [], "source_name": "Weird"},
                    "ty": 0,
                    "custom_ordering": True,
                },
                {
                    "source_name": {"scope": ["ns"], "source_name": "None"},
                    "ty": 1,
                    "custom_ordering": True,
                },
                {
                    "source_name": {"scope": [], "source_name": "DbConnection"},
                    "ty": 2,
                    "custom_ordering": True,
                },
                {
                    "source_name": {"scope": [], "source_name": "NoneSomeThing"},
                    "ty": 3,
                    "custom_ordering": True,
                },
                {
                    "source_name": {"scope": [], "source_name": "WeirdTable"},
                    "ty": 4,
                    "custom_ordering": True,
                },
            ]
        },
        {
            "Tables": [
                _table(
                    "table",
                    0,
                    [0],
                    [
                        ("table_class_idx_btree", "name", [0]),
                        ("table_from_idx_btree", "count", [1]),
                        ("table_self_int_idx_btree", "iter", [2, 3]),
                    ],
                    [0],
                ),
                _table("weird", 4, [], [], []),
            ]
        },
        {
            "Reducers": [
                _reducer(
                    "call", _el("self", u32), _el("class", {"Ref": 1}), _el("cls", {"Ref": 2})
                ),
                _reducer("reducer_name"),
                _reducer("register_on_x", _el("callback", string)),
            ]
        },
        {
            "Procedures": [
                {
                    "source_name": "import",
                    "params": {"elements": [_el("data", {"Ref": 3})]},
                    "return_type": option_none,
                    "visibility": {"ClientCallable": []},
                },
            ]
        },
        {"ExplicitNames": {"entries": []}},
    ]
    if policy != "SnakeCase":
        sections.append({"CaseConversionPolicy": {policy: []}})
    return {"V10": {"sections": sections}}


def generate_tricky(out_root: Path, policy: str) -> tuple[Path, GeneratedPackage]:
    """Generate the bindings of :func:`tricky_module_def` into ``out_root/gen_tricky_<policy>``."""
    import json

    from spacetimedb_sdk.codegen.source import module_def_from_bytes

    data = json.dumps(tricky_module_def(policy)).encode()
    source = module_def_from_bytes(data, origin="tricky module def", name=f"tricky-{policy}")
    package = generate_package(source, include_private=True)
    out = out_root / f"gen_tricky_{policy.lower()}"
    write_package(out, package.files)
    return out, package


def generate_reexport(name: str, out_root: Path, version: int) -> tuple[Path, GeneratedPackage]:
    """Generate a fixture's bindings from the body the schema endpoint would serve for it
    (bare ``version=10`` or ``version=9`` JSON, canonical names)."""
    import json

    from spacetimedb_sdk.codegen.source import module_def_from_bytes
    from spacetimedb_sdk.raw_module_def import raw_module_def_to_json
    from spacetimedb_sdk.schema import ModuleSchema

    schema = ModuleSchema.from_json(fixture_json(name).read_text())
    raw = schema.to_raw_v10() if version == 10 else schema.to_raw_v9()
    data = json.dumps(raw_module_def_to_json(raw, wrapped=False)).encode()
    source = module_def_from_bytes(data, origin=f"schema v{version} of {name}", name=name)
    package = generate_package(source)
    out = out_root / f"gen_{name.replace('-', '_')}_v{version}"
    write_package(out, package.files)
    return out, package
