"""Our generator's bindings for each test module (made from the hosted port, as the suite
uses them) have the same public names as the bindings it makes from the official module's
TypeScript twin (tests/fixtures/module_defs/<name>-ts.moduledef.json): tables and their
index accessors, reducers and procedures with their parameters, types with their fields
and variants. Where the official Rust module (which the ports follow) and its twin differ,
the difference is listed with its reason."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.sdk_suite.harness import HostedModule

#: Modules with a TypeScript twin.
TWINS = [
    "sdk_test",
    "sdk_test_connect_disconnect",
    "sdk_test_procedure",
    "sdk_test_view_pk",
    "sdk_test_procedural_view_pk",
    "sdk_test_case_conversion",
]


def public_names(package: Any) -> set[str]:
    """Every public name the bindings expose, as ``kind:path`` strings."""
    names: set[str] = set()
    for table, member in vars(package.RemoteTables).items():
        if table.startswith("_"):
            continue
        names.add(f"table:{table}")
        handle: Any = None
        if isinstance(member, property) and member.fget is not None:
            annotation = inspect.signature(member.fget).return_annotation
            handle = (
                getattr(package, annotation, None) if isinstance(annotation, str) else annotation
            )
        if isinstance(handle, type):
            names.update(f"index:{table}.{n}" for n in vars(handle) if not n.startswith("_"))
    for kind, cls in (("reducer", package.RemoteReducers), ("procedure", package.RemoteProcedures)):
        for name, fn in vars(cls).items():
            if name.startswith("_") or not callable(fn):
                continue
            params = list(inspect.signature(fn).parameters)[1:]
            names.add(f"{kind}:{name}({', '.join(params)})")
    for name, value in vars(package.types).items():
        if (
            name.startswith("_")
            or not isinstance(value, type)
            or value.__module__ != package.types.__name__
        ):
            continue
        if issubclass(value, enum.Enum):
            names.add(f"type:{name}[{', '.join(m.name for m in value)}]")
        elif dataclasses.is_dataclass(value):
            names.add(f"type:{name}({', '.join(f.name for f in dataclasses.fields(value))})")
        else:
            names.add(f"type:{name}")
    return names


def _generate_from_fixture(module: str, out_root: Path) -> Any:
    fixture = FIXTURES / "module_defs" / f"{module.replace('_', '-')}-ts.moduledef.json"
    package = f"sdk_suite_{module}_ts_twin_bindings"
    subprocess.run(
        [
            *(sys.executable, "-m", "spacetimedb_sdk", "generate", "--lang", "python"),
            *("--out-dir", str(out_root / package), "--module-def", str(fixture)),
        ],
        check=True,
        capture_output=True,
    )
    if str(out_root) not in sys.path:
        sys.path.insert(0, str(out_root))
    return importlib.import_module(package)


#: Names only in our bindings / only in the twin's, with the reason (see also
#: tests/test_sdk_suite_module_defs.py, which compares the definitions themselves).
KNOWN: dict[str, tuple[set[str], set[str]]] = {
    # Rust `sdk-test-procedure` declares `PkUuid` without a primary key; the twin keys `u`.
    "sdk_test_procedure": (set(), {"index:pk_uuid.u"}),
    # The Rust module's row struct of table Player1Canonical is `Player1`; the twin's row
    # type is `t.row('PlayerRow', ...)`.
    "sdk_test_case_conversion": (
        {"type:Player1(player_1_id, player_name, current_level_2, status_3_field)"},
        {"type:PlayerRow(player_1_id, player_name, current_level_2, status_3_field)"},
    ),
}


def _delete_all_reducers(names: set[str]) -> set[str]:
    # The Rust macro gives the One*/Vec*/Option*/Unique*/Pk* tables a `delete_all_*` reducer;
    # the TypeScript twin has none.
    return {n for n in names if n.startswith("reducer:delete_all_")}


@pytest.mark.parametrize("module", TWINS)
def test_public_names_match_the_typescript_twin(
    module: str, hosted_module: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    hosted: HostedModule = hosted_module(module)
    ours = public_names(hosted.bindings)
    theirs = public_names(_generate_from_fixture(module, tmp_path_factory.mktemp("twin")))
    only_ours, only_theirs = ours - theirs, theirs - ours
    if module == "sdk_test":
        delete_all = _delete_all_reducers(only_ours)
        assert len(delete_all) == 92
        only_ours -= delete_all
    assert (only_ours, only_theirs) == KNOWN.get(module, (set(), set()))


def test_a_unit_struct_keeps_its_name(tmp_path_factory: pytest.TempPathFactory) -> None:
    """``UnitStruct {}``, a named product without fields, is a class of its own (as in the
    official Rust and TypeScript bindings), not an anonymous ``tuple[()]``. (Its values'
    round trip through the server: test_sdk_test.py::test_insert_struct.)"""
    bindings = _generate_from_fixture("sdk_test", tmp_path_factory.mktemp("unit"))
    unit_struct = bindings.types.UnitStruct
    assert dataclasses.is_dataclass(unit_struct) and dataclasses.fields(unit_struct) == ()
    assert [f.type for f in dataclasses.fields(bindings.types.OneUnitStruct)] == ["UnitStruct"]
    assert [f.type for f in dataclasses.fields(bindings.types.VecUnitStruct)] == [
        "list[UnitStruct]"
    ]
