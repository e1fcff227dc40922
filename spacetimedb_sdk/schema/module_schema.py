""":class:`ModuleSchema`: a validated, canonical module definition, and how to look things up in it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from spacetimedb_sdk.algebraic_type import AlgebraicType, Typespace
from spacetimedb_sdk.errors import ModuleDefError
from spacetimedb_sdk.raw_module_def import (
    CaseConversionPolicy,
    CaseConversionPolicySection,
    Lifecycle,
    RawModuleDef,
    RawModuleDefV9,
    RawModuleDefV10,
    decode_raw_module_def,
    raw_module_def_from_json,
)
from spacetimedb_sdk.schema.build_v9 import build_v9
from spacetimedb_sdk.schema.build_v10 import build_v10
from spacetimedb_sdk.schema.export import export_v9, export_v10
from spacetimedb_sdk.schema.model import (
    HttpHandlerSchema,
    HttpRouteSchema,
    ProcedureSchema,
    ReducerSchema,
    ScopedTypeName,
    SubmoduleSchema,
    TableSchema,
    TypeSchema,
    ViewSchema,
)

__all__ = ["ModuleSchema"]

T = TypeVar("T")


def _by_names(
    items: Sequence[T], primary: Callable[[T], str], secondary: Callable[[T], str]
) -> dict[str, T]:
    """name -> item, where every primary (canonical) name wins over any secondary (accessor) one."""
    out: dict[str, T] = {}
    for item in items:
        out.setdefault(primary(item), item)
    for item in items:
        out.setdefault(secondary(item), item)
    return out


def _require(by_name: Mapping[str, T], name: str, kind: str) -> T:
    """``by_name[name]``, or a KeyError naming what was looked for."""
    found = by_name.get(name)
    if found is None:
        raise KeyError(f"no {kind} named {name!r}")
    return found


@dataclass(frozen=True)
class ModuleSchema:
    """A validated, canonical module definition."""

    #: The case-converted (canonical) typespace.
    typespace: Typespace
    #: The typespace as the module sent it (accessor names of columns and fields).
    accessor_typespace: Typespace
    types: tuple[TypeSchema, ...]
    tables: tuple[TableSchema, ...]
    reducers: tuple[ReducerSchema, ...]
    procedures: tuple[ProcedureSchema, ...]
    views: tuple[ViewSchema, ...]
    http_handlers: tuple[HttpHandlerSchema, ...] = ()
    http_routes: tuple[HttpRouteSchema, ...] = ()
    row_level_security: tuple[str, ...] = ()
    case_conversion_policy: CaseConversionPolicy = CaseConversionPolicy.SNAKE_CASE
    #: 9 or 10: the raw def version this schema was built from.
    raw_version: int = 10
    submodules: tuple[SubmoduleSchema, ...] = ()

    # ------------------------------------------------------------------------------ construction
    @classmethod
    def from_raw(cls, raw: RawModuleDef, *, canonical: bool = False) -> ModuleSchema:
        """Validate and canonicalise a raw def.

        ``canonical=True`` declares a V10 def to be a server re-export (schema endpoint output):
        its typespace and type names are then used as they are. V9 defs are always canonical.
        """
        try:
            if isinstance(raw, RawModuleDefV10):
                return build_v10(raw, canonical, cls)
            if isinstance(raw, RawModuleDefV9):
                return build_v9(raw, cls)
        except RecursionError:
            raise ModuleDefError("module definition nests types too deeply") from None
        raise ModuleDefError(f"not a RawModuleDefV9 or RawModuleDefV10: {type(raw).__name__}")

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, canonical: bool = False
    ) -> ModuleSchema:
        """Build from the BSATN of a ``RawModuleDef`` (what ``__describe_module__`` returns)."""
        return cls.from_raw(decode_raw_module_def(data), canonical=canonical)

    @classmethod
    def from_json(cls, obj: Any, *, canonical: bool | None = None) -> ModuleSchema:
        """Build from SATS-JSON (object or text), enum-wrapped or bare.

        ``canonical=None`` decides from the form: a bare V10 body (``{"sections": ...}``) without
        a ``CaseConversionPolicy`` section is what the schema endpoint serves, so it is read as
        canonical; anything else (the enum-wrapped form, or a body carrying a policy, as modules
        emit) is read as a module's own output.
        """
        if isinstance(obj, (str, bytes, bytearray)):
            try:
                obj = json.loads(obj)
            except ValueError as exc:
                raise ModuleDefError(f"module definition is not valid JSON: {exc}") from exc
        raw = raw_module_def_from_json(obj)
        if canonical is None:
            canonical = (
                isinstance(obj, Mapping)
                and "sections" in obj
                and isinstance(raw, RawModuleDefV10)
                and raw.section(CaseConversionPolicySection) is None
            )
        return cls.from_raw(raw, canonical=canonical)

    # ----------------------------------------------------------------------------------- lookups
    @cached_property
    def _tables(self) -> dict[str, TableSchema]:
        return _by_names(self.tables, lambda t: t.name, lambda t: t.accessor_name)

    @cached_property
    def _reducers(self) -> dict[str, ReducerSchema]:
        return _by_names(self.reducers, lambda r: r.name, lambda r: r.accessor_name)

    @cached_property
    def _procedures(self) -> dict[str, ProcedureSchema]:
        return _by_names(self.procedures, lambda p: p.name, lambda p: p.accessor_name)

    @cached_property
    def _views(self) -> dict[str, ViewSchema]:
        return _by_names(self.views, lambda v: v.name, lambda v: v.accessor_name)

    @cached_property
    def _types(self) -> dict[str, TypeSchema]:
        return _by_names(self.types, lambda t: str(t.name), lambda t: str(t.source_name))

    @cached_property
    def _types_by_ref(self) -> dict[int, TypeSchema]:
        out: dict[int, TypeSchema] = {}
        for t in self.types:
            out.setdefault(t.ref, t)
        return out

    def find_table(self, name: str) -> TableSchema | None:
        """A table by canonical name (preferred) or accessor name, or None."""
        return self._tables.get(name)

    def table(self, name: str) -> TableSchema:
        """A table by canonical or accessor name (KeyError if absent)."""
        return _require(self._tables, name, "table")

    def find_reducer(self, name: str) -> ReducerSchema | None:
        """A reducer by canonical or accessor name, or None."""
        return self._reducers.get(name)

    def reducer(self, name: str) -> ReducerSchema:
        """A reducer by canonical or accessor name (KeyError if absent)."""
        return _require(self._reducers, name, "reducer")

    def find_procedure(self, name: str) -> ProcedureSchema | None:
        """A procedure by canonical or accessor name, or None."""
        return self._procedures.get(name)

    def procedure(self, name: str) -> ProcedureSchema:
        """A procedure by canonical or accessor name (KeyError if absent)."""
        return _require(self._procedures, name, "procedure")

    def find_view(self, name: str) -> ViewSchema | None:
        """A view by canonical or accessor name, or None."""
        return self._views.get(name)

    def view(self, name: str) -> ViewSchema:
        """A view by canonical or accessor name (KeyError if absent)."""
        return _require(self._views, name, "view")

    def find_type(self, name: str | ScopedTypeName) -> TypeSchema | None:
        """A named type by canonical or source scoped name (``"A.B"`` or ScopedTypeName), or None."""
        return self._types.get(str(name))

    def type(self, name: str | ScopedTypeName) -> TypeSchema:
        """A named type by canonical or source scoped name (KeyError if absent)."""
        found = self._types.get(str(name))
        if found is None:
            raise KeyError(f"no type named {str(name)!r}")
        return found

    def type_for_ref(self, ref: int) -> TypeSchema | None:
        """The type definition registered at typespace index ``ref``, or None."""
        return self._types_by_ref.get(ref)

    def resolve(self, ty: AlgebraicType) -> AlgebraicType:
        """Follow ``Ref``s through the canonical typespace."""
        return self.typespace.resolve(ty)

    @property
    def lifecycle_reducers(self) -> dict[Lifecycle, ReducerSchema]:
        """Lifecycle -> the reducer playing it, in Init/OnConnect/OnDisconnect order."""
        found = {r.lifecycle: r for r in self.reducers if r.lifecycle is not None}
        return {lc: found[lc] for lc in Lifecycle if lc in found}

    # ------------------------------------------------------------------------------- re-export
    def to_raw_v10(self) -> RawModuleDefV10:
        """The canonical def as the ``version=10`` schema endpoint serves it (docs/module-def.md#canonical-re-export)."""
        return export_v10(self)

    def to_raw_v9(self) -> RawModuleDefV9:
        """The canonical def as the ``version=9`` schema endpoint serves it (docs/module-def.md#canonical-re-export)."""
        return export_v9(self)
