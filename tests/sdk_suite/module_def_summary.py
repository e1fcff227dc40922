"""A semantic summary of a module definition, for comparing our module ports with the official
TypeScript twins (tests/fixtures/module_defs).

Both sides go through what the schema endpoint does: validate and canonicalise the module's raw
def, re-export it (``version=10``), and read that back as canonical. The summary then names every
item by canonical name and keeps what clients and the server act on: columns and their types,
keys, constraints, indexes (by algorithm, columns and accessor, not by generated name), sequences,
defaults, access, schedules, functions with parameters and return types, views and RLS rules.
Named types appear by canonical name, with their definitions listed once under ``types``; lists
that the server keeps unordered are sorted.
"""

from __future__ import annotations

from typing import Any

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    special_kind,
)
from spacetimedb_sdk.raw_module_def import RawModuleDef
from spacetimedb_sdk.schema import ModuleSchema

__all__ = ["diff_summaries", "served_schema", "summarize"]


def served_schema(raw: RawModuleDef) -> ModuleSchema:
    """The schema a client reads from ``/schema?version=10`` for a module emitting ``raw``."""
    return ModuleSchema.from_raw(ModuleSchema.from_raw(raw).to_raw_v10(), canonical=True)


class _Types:
    def __init__(self, schema: ModuleSchema) -> None:
        self.schema = schema
        self.named: dict[str, Any] = {}

    def norm(self, ty: AlgebraicType) -> Any:
        if isinstance(ty, RefType):
            ts = self.schema.type_for_ref(ty.index)
            name = str(ts.name) if ts is not None else f"#{ty.index}"
            if name not in self.named:
                self.named[name] = None  # reserve first: recursive types terminate
                self.named[name] = self.norm(self.schema.typespace.types[ty.index])
            return name
        kind = special_kind(ty)
        if kind == "option" and isinstance(ty, SumType):
            return ["option", self.norm(ty.variants[0].algebraic_type)]
        if kind == "result" and isinstance(ty, SumType):
            return ["result", *(self.norm(v.algebraic_type) for v in ty.variants)]
        if kind is not None and kind != "bytes":
            return kind
        if isinstance(ty, PrimitiveType):
            return ty.name
        if isinstance(ty, ArrayType):
            return ["array", self.norm(ty.element)]
        if isinstance(ty, ProductType):
            return ["product", [[e.name, self.norm(e.algebraic_type)] for e in ty.elements]]
        if isinstance(ty, SumType):
            return ["sum", [[v.name, self.norm(v.algebraic_type)] for v in ty.variants]]
        return repr(ty)


def summarize(schema: ModuleSchema) -> dict[str, Any]:
    """The comparable summary of a canonical schema (JSON-like nested dicts and lists)."""
    types = _Types(schema)
    tables: dict[str, Any] = {}
    for t in schema.tables:
        cols = [c.name for c in t.columns]
        tables[t.name] = {
            "columns": [[c.name, types.norm(c.algebraic_type)] for c in t.columns],
            "primary_key": None if t.primary_key is None else cols[t.primary_key],
            "unique": sorted(sorted(cols[i] for i in c.columns) for c in t.constraints),
            "indexes": sorted(
                [ix.algorithm, [cols[i] for i in ix.columns], ix.accessor_name] for ix in t.indexes
            ),
            "sequences": sorted(
                [cols[s.column], s.start, s.min_value, s.max_value, s.increment]
                for s in t.sequences
            ),
            "defaults": {cols[i]: v.hex() for i, v in sorted(t.default_values.items())},
            "access": t.table_access.name,
            "table_type": t.table_type.name,
            "is_event": t.is_event,
            "schedule": None
            if t.schedule is None
            else [t.schedule.function_name, t.schedule.function_kind, cols[t.schedule.at_column]],
        }

    def params(ps: Any) -> list[Any]:
        return [[p.name, types.norm(p.algebraic_type)] for p in ps]

    reducers = {
        r.name: {
            "params": params(r.params),
            "visibility": r.visibility.name,
            "lifecycle": None if r.lifecycle is None else r.lifecycle.name,
        }
        for r in schema.reducers
    }
    procedures = {
        p.name: {
            "params": params(p.params),
            "return": types.norm(p.return_type),
            "visibility": p.visibility.name,
        }
        for p in schema.procedures
    }
    views = {}
    for v in schema.views:
        cols = [c.name for c in v.columns]
        views[v.name] = {
            "anonymous": v.is_anonymous,
            "public": v.is_public,
            "params": params(v.params),
            # A query view is "many rows", as an array view is (see diff_summaries).
            "returns": [v.return_shape, types.norm(RefType(v.product_type_ref))],
            "primary_key": None if v.primary_key is None else cols[v.primary_key],
        }
    return {
        "tables": tables,
        "reducers": reducers,
        "procedures": procedures,
        "views": views,
        "row_level_security": sorted(schema.row_level_security),
        "types": {k: types.named[k] for k in sorted(types.named)},
    }


def diff_summaries(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Every difference between two summaries, as ``path: ours != theirs`` lines."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out: list[str] = []
        for key in sorted(set(ours) | set(theirs), key=str):
            sub = f"{path}/{key}"
            if key not in theirs:
                out.append(f"{sub}: only in ours")
            elif key not in ours:
                out.append(f"{sub}: only in theirs")
            else:
                out.extend(diff_summaries(ours[key], theirs[key], sub))
        return out
    if ours != theirs:
        return [f"{path}: {ours!r} != {theirs!r}"]
    return []
