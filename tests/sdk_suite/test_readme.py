"""tests/sdk_suite/README.md keeps the status of all 83 official scenarios: each row names a
test that exists here (unless the scenario is not ported yet), once."""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROW = re.compile(r"^\| (\d+) \| ([\w-]+) \| `(test_\w+)` \| (.+) \|$")


def _test_functions() -> set[str]:
    names: set[str] = set()
    for path in HERE.glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names.update(
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        )
    return names


def test_readme_table_covers_the_83_scenarios() -> None:
    rows = [
        m.groups()
        for line in (HERE / "README.md").read_text(encoding="utf-8").splitlines()
        if (m := ROW.match(line))
    ]
    assert [int(r[0]) for r in rows] == list(range(1, 84))
    names = [r[2] for r in rows]
    assert len(set(names)) == 83
    defined = _test_functions()
    for _, module, name, status in rows:
        if status == "not yet ported":
            continue
        assert name in defined, f"{module}: {name} is listed as {status!r} but not defined"
        assert status.startswith(("passing", "xfail", "skipped")), status
