"""Index accessors follow one rule (spacetimedb_sdk.schema.accessors): the typed properties the
generator writes and ``handle.<name>`` on a run-time (dynamic) handle reach the same index."""

from __future__ import annotations

from typing import Any

import pytest

from spacetimedb_sdk.client.table import BTreeIndex, UniqueIndex
from spacetimedb_sdk.client.testing import build_offline
from spacetimedb_sdk.codegen import dynamic
from spacetimedb_sdk.codegen.plan import build_plan
from spacetimedb_sdk.schema import ModuleSchema
from tests.codegen_support import fixture_json, fixture_names


@pytest.mark.parametrize("name", fixture_names())
def test_generated_properties_and_run_time_handles_agree(name: str) -> None:
    data = fixture_json(name).read_bytes()
    schema = ModuleSchema.from_json(data)
    plan = build_plan(schema)
    module = dynamic.load_module(data, name=name)
    conn, _ = build_offline(module.builder().with_uri("ws://t").with_database_name(name))
    checked = 0
    for table in plan.tables:
        layout = conn.core.module.find(table.wire_name)
        assert layout is not None
        generated = {ix.target: ix for ix in table.indexes}
        run_time = {a.target: a for a in layout.accessors.values()}
        assert sorted(generated) == sorted(run_time), table.wire_name
        handle: Any = conn.db[table.wire_name]
        for target, accessor in run_time.items():
            through_name = getattr(handle, accessor.name)
            if generated[target].kind == "unique":
                expected: Any = handle._unique(target)
                assert isinstance(through_name, UniqueIndex)
            else:
                expected = handle._btree(target)
                assert isinstance(through_name, BTreeIndex)
            assert through_name is expected
            checked += 1
    assert checked or not any(t.indexes for t in plan.tables)
