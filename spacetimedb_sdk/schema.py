"""The normalised module schema used by codegen, the client runtime and the local server.

:class:`ModuleSchema` is built from a ``RawModuleDefV9`` or ``RawModuleDefV10`` by the same
validation and canonicalisation the server performs (MODULE_DEF.md §4.3):

* the typespace is case-converted (element names ``snake_case``, variant names ``camelCase``,
  special types untouched) while the untouched copy keeps the *accessor* names of columns;
* tables, reducers, procedures, views and HTTP handlers get canonical names from
  ``ExplicitNames`` or ``convert(source name)``; types get ``PascalCase`` scoped names;
* index, unique-constraint, sequence and schedule names are generated where the server
  generates them;
* lifecycle and scheduled functions become ``Private``.

A def that the server would reject raises :class:`ModuleValidationError` listing every problem.

Names from a V9 def are taken as already canonical (the server validates V9 with the ``None``
policy). The bare ``{"sections": [...]}`` form served by the schema endpoint is likewise
canonical: its typespace and type names are used as they are (MODULE_DEF.md §3.2 note; camel
and Pascal conversion are not idempotent, e.g. ``aX`` → ``AX`` → ``Ax``), which
:meth:`ModuleSchema.from_json` does by default for that form.

:meth:`ModuleSchema.to_raw_v10` and :meth:`ModuleSchema.to_raw_v9` re-export the canonical def
exactly as the schema endpoint does (§3.2). Lists the server keeps in hash maps (tables, types,
indexes, constraints, sequences) are emitted sorted by canonical name.
"""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from typing import Any, Literal, TypeVar

from spacetimedb_sdk.algebraic_type import (
    CONNECTION_ID,
    IDENTITY,
    STRING,
    TIME_DURATION,
    TIMESTAMP,
    U64,
    UNIT,
    UUID,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    ProductTypeElement,
    RefType,
    SumType,
    SumTypeVariant,
    Typespace,
    special_kind,
)
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.case_conversion import to_camel_case, to_pascal_case, to_snake_case
from spacetimedb_sdk.errors import ModuleDefError, SpacetimeDBError
from spacetimedb_sdk.raw_module_def import (
    AnyMethod,
    CaseConversionPolicy,
    CaseConversionPolicySection,
    ExplicitFunctionName,
    ExplicitNameEntry,
    ExplicitNames,
    ExplicitNamesSection,
    ExplicitTableName,
    FunctionVisibility,
    HttpHandlersSection,
    HttpRoutesSection,
    Lifecycle,
    LifeCycleReducersSection,
    MethodOrAny,
    ProceduresSection,
    RawColumnDefaultValueV9,
    RawColumnDefaultValueV10,
    RawConstraintDefV9,
    RawConstraintDefV10,
    RawHttpHandlerDefV10,
    RawHttpRouteDefV10,
    RawIndexAlgorithm,
    RawIndexAlgorithmBTree,
    RawIndexAlgorithmDirect,
    RawIndexAlgorithmHash,
    RawIndexDefV9,
    RawIndexDefV10,
    RawLifeCycleReducerDefV10,
    RawMiscModuleExportV9,
    RawModuleDef,
    RawModuleDefV9,
    RawModuleDefV10,
    RawModuleDefV10Section,
    RawProcedureDefV9,
    RawProcedureDefV10,
    RawReducerDefV9,
    RawReducerDefV10,
    RawRowLevelSecurityDefV9,
    RawScheduleDefV9,
    RawScheduleDefV10,
    RawScopedTypeNameV9,
    RawScopedTypeNameV10,
    RawSequenceDefV9,
    RawSequenceDefV10,
    RawSubmoduleV10,
    RawTableDefV9,
    RawTableDefV10,
    RawTypeDefV9,
    RawTypeDefV10,
    RawUniqueConstraintDataV9,
    RawViewDefV9,
    RawViewDefV10,
    RawViewPrimaryKeyDefV10,
    ReducersSection,
    RowLevelSecuritySection,
    SchedulesSection,
    SubmodulesSection,
    TableAccess,
    TablesSection,
    TableType,
    TypespaceSection,
    TypesSection,
    ViewPrimaryKeysSection,
    ViewsSection,
    decode_raw_module_def,
    raw_module_def_from_json,
)

__all__ = [
    "ColumnSchema",
    "FunctionKind",
    "HttpHandlerSchema",
    "HttpRouteSchema",
    "IndexAlgorithmKind",
    "IndexSchema",
    "ModuleSchema",
    "ModuleValidationError",
    "ParamSchema",
    "ProcedureSchema",
    "ReducerSchema",
    "ScheduleSchema",
    "ScopedTypeName",
    "SequenceSchema",
    "SubmoduleSchema",
    "TableSchema",
    "TypeSchema",
    "UniqueConstraintSchema",
    "ViewReturnShape",
    "ViewSchema",
    "convert_typespace",
    "is_valid_identifier",
]

IndexAlgorithmKind = Literal["btree", "hash", "direct"]
ViewReturnShape = Literal["option", "array", "query"]
FunctionKind = Literal["reducer", "procedure"]

QUERY_VIEW_RETURN_TAG = "__query__"


class ModuleValidationError(ModuleDefError):
    """The module definition is invalid; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        listing = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"invalid module definition ({len(self.errors)} error(s)):\n{listing}")


# =============================================================================== the schema model


@dataclass(frozen=True, slots=True, order=True)
class ScopedTypeName:
    """A type name with its scope segments; orders like the server (scope first, then name)."""

    scope: tuple[str, ...]
    name: str

    def __str__(self) -> str:
        return ".".join((*self.scope, self.name))


@dataclass(frozen=True, slots=True)
class ColumnSchema:
    """A column of a table or view row."""

    #: Canonical name (SQL, wire, case-converted typespace).
    name: str
    #: Name as written in module source (the untouched typespace).
    accessor_name: str
    algebraic_type: AlgebraicType
    position: int
    #: BSATN of the column's default value, if the module declared one.
    default_value: bytes | None = None


@dataclass(frozen=True, slots=True)
class IndexSchema:
    """An index of a table."""

    #: Canonical (generated or explicit) index name.
    name: str
    #: The index name the module sent (V10 ``source_name``; equals ``name`` for V9).
    source_name: str
    #: Accessor for client codegen, verbatim; None for system-generated indexes.
    accessor_name: str | None
    algorithm: IndexAlgorithmKind
    columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class UniqueConstraintSchema:
    """A unique constraint; ``columns`` is a set, kept sorted."""

    name: str
    columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SequenceSchema:
    """An auto-increment sequence."""

    name: str
    column: int
    start: int | None
    min_value: int | None
    max_value: int | None
    increment: int


@dataclass(frozen=True, slots=True)
class ScheduleSchema:
    """The schedule of a schedule table."""

    name: str
    #: Canonical name of the reducer or procedure it calls.
    function_name: str
    function_kind: FunctionKind
    #: Column holding the ``ScheduleAt``.
    at_column: int
    #: The ``u64`` primary-key column.
    id_column: int


@dataclass(frozen=True)
class TableSchema:
    """A table: canonical and accessor names, columns, keys, indexes and constraints."""

    name: str
    accessor_name: str
    product_type_ref: int
    #: The row type from the canonical typespace.
    row_type: ProductType
    columns: tuple[ColumnSchema, ...]
    primary_key: int | None
    indexes: tuple[IndexSchema, ...]
    constraints: tuple[UniqueConstraintSchema, ...]
    sequences: tuple[SequenceSchema, ...]
    schedule: ScheduleSchema | None
    table_type: TableType
    table_access: TableAccess
    is_event: bool

    @property
    def is_public(self) -> bool:
        """True for ``Public`` tables."""
        return self.table_access is TableAccess.PUBLIC

    @property
    def primary_key_column(self) -> ColumnSchema | None:
        """The primary-key column, if any."""
        return None if self.primary_key is None else self.columns[self.primary_key]

    @property
    def default_values(self) -> dict[int, bytes]:
        """Column position -> BSATN default value."""
        return {c.position: c.default_value for c in self.columns if c.default_value is not None}

    @cached_property
    def _columns_by_name(self) -> dict[str, ColumnSchema]:
        out = {c.accessor_name: c for c in self.columns}
        out.update({c.name: c for c in self.columns})
        return out

    def column(self, name: str) -> ColumnSchema:
        """A column by canonical or accessor name (KeyError if absent)."""
        try:
            return self._columns_by_name[name]
        except KeyError:
            raise KeyError(f"table {self.name!r} has no column {name!r}") from None

    def index(self, name: str) -> IndexSchema:
        """An index by canonical name, source name or accessor name (KeyError if absent)."""
        for by in ("name", "source_name", "accessor_name"):
            for ix in self.indexes:
                if getattr(ix, by) == name:
                    return ix
        raise KeyError(f"table {self.name!r} has no index {name!r}")

    def unique_column_sets(self) -> list[tuple[int, ...]]:
        """The column sets of the unique constraints (the primary key's among them)."""
        return [c.columns for c in self.constraints]


@dataclass(frozen=True, slots=True)
class ParamSchema:
    """A reducer/procedure/view parameter."""

    #: Name as the module wrote it (stored verbatim by the server).
    name: str
    #: ``convert(name)``: what client codegen uses.
    canonical_name: str
    algebraic_type: AlgebraicType
    position: int


@dataclass(frozen=True, slots=True)
class ReducerSchema:
    """A reducer."""

    name: str
    accessor_name: str
    #: Position in the module's reducer list (the wire reducer id).
    reducer_id: int
    params: tuple[ParamSchema, ...]
    #: The parameters' product type, verbatim.
    params_type: ProductType
    lifecycle: Lifecycle | None
    visibility: FunctionVisibility
    is_scheduled: bool
    ok_return_type: AlgebraicType = UNIT
    err_return_type: AlgebraicType = STRING

    @property
    def is_client_callable(self) -> bool:
        """True if ordinary clients may call it."""
        return self.visibility is FunctionVisibility.CLIENT_CALLABLE


@dataclass(frozen=True, slots=True)
class ProcedureSchema:
    """A procedure."""

    name: str
    accessor_name: str
    params: tuple[ParamSchema, ...]
    params_type: ProductType
    return_type: AlgebraicType
    visibility: FunctionVisibility
    is_scheduled: bool

    @property
    def is_client_callable(self) -> bool:
        """True if ordinary clients may call it."""
        return self.visibility is FunctionVisibility.CLIENT_CALLABLE


@dataclass(frozen=True)
class ViewSchema:
    """A view: a read-only, table-like result of a function."""

    name: str
    accessor_name: str
    #: The view's function index (authenticated and anonymous views are numbered separately).
    index: int
    is_public: bool
    is_anonymous: bool
    params: tuple[ParamSchema, ...]
    params_type: ProductType
    return_type: AlgebraicType
    #: ``option`` (at most one row), ``array`` (many rows) or ``query`` (a query-builder view).
    return_shape: ViewReturnShape
    product_type_ref: int
    row_type: ProductType
    columns: tuple[ColumnSchema, ...]
    primary_key: int | None

    @property
    def is_procedural(self) -> bool:
        """True for views returning ``Option``/``Array`` (not query views)."""
        return self.return_shape != "query"

    @cached_property
    def _columns_by_name(self) -> dict[str, ColumnSchema]:
        out = {c.accessor_name: c for c in self.columns}
        out.update({c.name: c for c in self.columns})
        return out

    def column(self, name: str) -> ColumnSchema:
        """A column by canonical or accessor name (KeyError if absent)."""
        try:
            return self._columns_by_name[name]
        except KeyError:
            raise KeyError(f"view {self.name!r} has no column {name!r}") from None


@dataclass(frozen=True, slots=True)
class TypeSchema:
    """A named type definition."""

    #: Canonical scoped name (PascalCase under the default policy).
    name: ScopedTypeName
    #: Scoped name as the module wrote it.
    source_name: ScopedTypeName
    ref: int
    #: The definition from the canonical typespace.
    algebraic_type: AlgebraicType
    #: The definition from the untouched typespace (module-source field names).
    source_algebraic_type: AlgebraicType
    custom_ordering: bool
    #: A sum whose variants are all unit.
    is_plain_enum: bool


@dataclass(frozen=True, slots=True)
class HttpHandlerSchema:
    """An HTTP handler function."""

    name: str
    accessor_name: str


@dataclass(frozen=True, slots=True)
class HttpRouteSchema:
    """An HTTP route."""

    handler_name: str
    method: MethodOrAny
    path: str


@dataclass(frozen=True, slots=True)
class SubmoduleSchema:
    """A submodule mounted under ``namespace`` (validated in isolation, local names)."""

    namespace: str
    schema: ModuleSchema


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
                return _build_v10(raw, canonical)
            if isinstance(raw, RawModuleDefV9):
                return _build_v9(raw)
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
        """The canonical def as the ``version=10`` schema endpoint serves it (§3.2)."""
        return _export_v10(self)

    def to_raw_v9(self) -> RawModuleDefV9:
        """The canonical def as the ``version=9`` schema endpoint serves it (§3.2)."""
        return _export_v9(self)


# ================================================================================ name helpers


def is_valid_identifier(name: str) -> bool:
    """MODULE_DEF.md §4.4: non-empty, NFC, XID_Start or ``_`` then XID_Continue characters."""
    return bool(name) and unicodedata.is_normalized("NFC", name) and name.isidentifier()


def _convert(name: str, policy: CaseConversionPolicy) -> str:
    return to_snake_case(name) if policy is CaseConversionPolicy.SNAKE_CASE else name


def _convert_variant(name: str, policy: CaseConversionPolicy) -> str:
    return to_camel_case(name) if policy is CaseConversionPolicy.SNAKE_CASE else name


def _convert_type_name(name: str, policy: CaseConversionPolicy) -> str:
    return to_pascal_case(name) if policy is CaseConversionPolicy.SNAKE_CASE else name


_SPECIAL_PRODUCTS = frozenset((IDENTITY, CONNECTION_ID, TIMESTAMP, TIME_DURATION, UUID))


def _is_special(ty: AlgebraicType) -> bool:
    """The server's ``is_special``: the five special products and Option/Result/ScheduleAt."""
    if isinstance(ty, ProductType):
        return ty in _SPECIAL_PRODUCTS
    if isinstance(ty, SumType):
        return special_kind(ty) in ("option", "result", "schedule_at")
    return False


def _convert_type(ty: AlgebraicType, policy: CaseConversionPolicy) -> AlgebraicType:
    if _is_special(ty):
        return ty
    if isinstance(ty, ProductType):
        return ProductType(
            tuple(
                ProductTypeElement(
                    None if e.name is None else _convert(e.name, policy),
                    _convert_type(e.algebraic_type, policy),
                )
                for e in ty.elements
            )
        )
    if isinstance(ty, SumType):
        return SumType(
            tuple(
                SumTypeVariant(
                    None if v.name is None else _convert_variant(v.name, policy),
                    _convert_type(v.algebraic_type, policy),
                )
                for v in ty.variants
            )
        )
    if isinstance(ty, ArrayType):
        return ArrayType(_convert_type(ty.element, policy))
    return ty


def convert_typespace(typespace: Typespace, policy: CaseConversionPolicy) -> Typespace:
    """The canonical typespace (§4.3 step 1): element names ``convert``-ed, variants camelCased."""
    if policy is CaseConversionPolicy.NONE:
        return typespace
    return Typespace(tuple(_convert_type(t, policy) for t in typespace.types))


def _column_name(product: ProductType, col: int) -> str:
    if 0 <= col < len(product.elements):
        name = product.elements[col].name
        if name is not None:
            return name
    return f"col_{col}"


def _algorithm_parts(algorithm: RawIndexAlgorithm) -> tuple[IndexAlgorithmKind, tuple[int, ...]]:
    if isinstance(algorithm, RawIndexAlgorithmBTree):
        return "btree", algorithm.columns
    if isinstance(algorithm, RawIndexAlgorithmHash):
        return "hash", algorithm.columns
    return "direct", (algorithm.column,)


def _generate_index_name(table: str, product: ProductType, algorithm: RawIndexAlgorithm) -> str:
    kind, cols = _algorithm_parts(algorithm)
    return f"{table}_{'_'.join(_column_name(product, c) for c in cols)}_idx_{kind}"


def _generate_constraint_name(table: str, product: ProductType, cols: Sequence[int]) -> str:
    return f"{table}_{'_'.join(_column_name(product, c) for c in cols)}_key"


def _generate_sequence_name(table: str, product: ProductType, col: int) -> str:
    return f"{table}_{_column_name(product, col)}_seq"


def _view_return(return_type: AlgebraicType) -> tuple[int, ViewReturnShape] | None:
    """The row type ref and shape of a view's return type, or None if it is not a valid one."""
    if (
        isinstance(return_type, ProductType)
        and len(return_type.elements) == 1
        and return_type.elements[0].name == QUERY_VIEW_RETURN_TAG
        and isinstance(return_type.elements[0].algebraic_type, RefType)
    ):
        return return_type.elements[0].algebraic_type.index, "query"
    if isinstance(return_type, SumType) and special_kind(return_type) == "option":
        inner = return_type.variants[0].algebraic_type
        if isinstance(inner, RefType):
            return inner.index, "option"
        return None
    if isinstance(return_type, ArrayType) and isinstance(return_type.element, RefType):
        return return_type.element.index, "array"
    return None


_INTEGER_TYPES = frozenset(
    ("I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64", "I128", "U128", "I256", "U256")
)


def _is_integer(ty: AlgebraicType) -> bool:
    return isinstance(ty, PrimitiveType) and ty.name in _INTEGER_TYPES


def _is_simple_enum(ty: AlgebraicType) -> bool:
    return isinstance(ty, SumType) and all(v.algebraic_type == UNIT for v in ty.variants)


def _type_label(ty: AlgebraicType) -> str:
    from spacetimedb_sdk.algebraic_type import type_to_json

    text = json.dumps(type_to_json(ty), separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."


# ================================================================================== validation


class _UseChecker:
    """Client-codegen validity of types (MODULE_DEF.md §2.4), over the untouched typespace."""

    def __init__(self, typespace: Typespace, definitions: Iterable[int], errors: list[str]) -> None:
        self.ts = typespace
        self.defs = set(definitions)
        self.errors = errors
        self.known_uses: set[int] = set()
        self.touching: set[int] = set()

    def use(self, ty: AlgebraicType, where: str) -> bool:
        problem = self._use(ty)
        if problem is not None:
            self.errors.append(f"{where}: {problem}")
            return False
        return True

    def _use(self, ty: AlgebraicType) -> str | None:
        kind = special_kind(ty)
        if kind == "unit" or (isinstance(ty, ProductType) and ty in _SPECIAL_PRODUCTS):
            return None
        if isinstance(ty, SumType) and not ty.variants:
            return None  # never
        if isinstance(ty, SumType) and kind == "option":
            return self._use(ty.variants[0].algebraic_type)
        if isinstance(ty, SumType) and kind == "result":
            return self._use(ty.variants[0].algebraic_type) or self._use(
                ty.variants[1].algebraic_type
            )
        if isinstance(ty, SumType) and kind == "schedule_at":
            return None
        if isinstance(ty, RefType):
            return self._ref(ty.index)
        if isinstance(ty, ArrayType):
            return self._use(ty.element)
        if isinstance(ty, PrimitiveType):
            return None
        return f"non-special product or sum type {_type_label(ty)} cannot be used here (it must be a Ref)"

    def _ref(self, index: int) -> str | None:
        if index in self.defs or index in self.known_uses:
            return None
        if not 0 <= index < len(self.ts):
            return f"type reference Ref({index}) is outside the typespace of {len(self.ts)}"
        target = self.ts.types[index]
        if target == RefType(index) or index in self.touching:
            return f"recursive type reference Ref({index}) through a non-definition"
        self.touching.add(index)
        try:
            problem = self._use(target)
        finally:
            self.touching.discard(index)
        if problem is None:
            self.known_uses.add(index)
        return problem

    def definition(self, index: int, where: str) -> None:
        if not 0 <= index < len(self.ts):
            self.errors.append(f"{where}: type reference Ref({index}) is outside the typespace")
            return
        ty = self.ts.types[index]
        members: Sequence[ProductTypeElement | SumTypeVariant]
        if isinstance(ty, ProductType) and not _is_special(ty):
            members = ty.elements
        elif isinstance(ty, SumType) and not _is_special(ty):
            members = ty.variants
        else:
            self.errors.append(
                f"{where}: type {_type_label(ty)} is not valid for a type definition"
            )
            return
        for m in members:
            if m.name is None:
                self.errors.append(f"{where}: all elements of a type definition must be named")
            elif not is_valid_identifier(m.name):
                self.errors.append(f"{where}: element name {m.name!r} is not a valid identifier")
            self.use(m.algebraic_type, f"{where}, element {m.name!r}")


class _Names:
    """The server's global namespace of table-level names (§4.3 step 9a)."""

    def __init__(self, errors: list[str]) -> None:
        self.seen: set[str] = set()
        self.errors = errors

    def add(self, name: str, what: str) -> None:
        if name in self.seen:
            self.errors.append(f"duplicate name {name!r} ({what})")
        else:
            self.seen.add(name)


def _ident(name: str, what: str, errors: list[str]) -> str:
    if not is_valid_identifier(name):
        errors.append(f"{what} {name!r} is not a valid identifier")
    return name


class _Builder:
    """Shared validation for V9 and V10 (the parts of §4.3 that do not differ)."""

    def __init__(
        self,
        raw_typespace: Typespace,
        typespace: Typespace,
        definitions: Iterable[int],
        policy: CaseConversionPolicy,
    ) -> None:
        self.errors: list[str] = []
        self.raw_ts = raw_typespace
        self.ts = typespace
        self.policy = policy
        self.names = _Names(self.errors)
        self.uses = _UseChecker(raw_typespace, definitions, self.errors)

    def fail_if_errors(self) -> None:
        if self.errors:
            raise ModuleValidationError(list(dict.fromkeys(self.errors)))

    # -- columns and params
    def product_at(self, ref: int, ts: Typespace) -> ProductType | None:
        if 0 <= ref < len(ts) and isinstance(ts.types[ref], ProductType):
            ty = ts.types[ref]
            assert isinstance(ty, ProductType)
            return ty
        return None

    def columns(self, owner: str, ref: int) -> tuple[ColumnSchema, ...]:
        canonical = self.product_at(ref, self.ts)
        accessor = self.product_at(ref, self.raw_ts)
        assert canonical is not None and accessor is not None
        out: list[ColumnSchema] = []
        for i, (c, a) in enumerate(zip(canonical.elements, accessor.elements, strict=True)):
            if a.name is None or c.name is None:
                self.errors.append(f"{owner}: column {i} has no name")
                continue
            _ident(a.name, f"{owner}: column", self.errors)
            _ident(c.name, f"{owner}: canonical column name", self.errors)
            self.uses.use(a.algebraic_type, f"{owner}, column {a.name!r}")
            out.append(ColumnSchema(c.name, a.name, c.algebraic_type, i))
        return tuple(out)

    def params(self, owner: str, params: ProductType) -> tuple[ParamSchema, ...]:
        out: list[ParamSchema] = []
        for i, el in enumerate(params.elements):
            if el.name is None:
                self.errors.append(f"{owner}: parameter {i} has no name")
                continue
            canonical = _ident(_convert(el.name, self.policy), f"{owner}: parameter", self.errors)
            self.uses.use(el.algebraic_type, f"{owner}, parameter {el.name!r}")
            out.append(ParamSchema(el.name, canonical, el.algebraic_type, i))
        return tuple(out)

    # -- table parts
    def index(
        self,
        table: str,
        product: ProductType,
        name: str,
        source_name: str,
        accessor_name: str | None,
        algorithm: RawIndexAlgorithm,
    ) -> IndexSchema | None:
        kind, cols = _algorithm_parts(algorithm)
        ok = self.check_columns(table, f"index {name!r}", product, cols)
        if ok and isinstance(algorithm, RawIndexAlgorithmDirect):
            ty = product.elements[algorithm.column].algebraic_type
            good = (isinstance(ty, PrimitiveType) and ty.name in ("U8", "U16", "U32", "U64")) or (
                _is_simple_enum(self.ts.types[ty.index])
                if isinstance(ty, RefType) and 0 <= ty.index < len(self.ts)
                else _is_simple_enum(ty)
            )
            if not good:
                self.errors.append(
                    f"table {table!r}: direct index {name!r} needs a u8/u16/u32/u64 or plain-enum column"
                )
                ok = False
        if accessor_name is not None:
            _ident(accessor_name, f"table {table!r}: index accessor", self.errors)
        return IndexSchema(name, source_name, accessor_name, kind, tuple(cols)) if ok else None

    def check_columns(
        self, table: str, what: str, product: ProductType, cols: Sequence[int]
    ) -> bool:
        bad = [c for c in cols if not 0 <= c < len(product.elements)]
        if bad:
            self.errors.append(f"table {table!r}: {what} refers to missing column(s) {bad}")
            return False
        if len(set(cols)) != len(cols):
            self.errors.append(f"table {table!r}: {what} repeats a column in {list(cols)}")
            return False
        return True

    def constraint(
        self, table: str, product: ProductType, name: str, data: RawUniqueConstraintDataV9
    ) -> UniqueConstraintSchema | None:
        self.names.add(name, f"constraint of table {table!r}")
        if not self.check_columns(table, f"constraint {name!r}", product, data.columns):
            return None
        return UniqueConstraintSchema(name, tuple(sorted(data.columns)))

    def sequence(
        self, table: str, product: ProductType, seq: RawSequenceDefV9, used: set[int]
    ) -> SequenceSchema | None:
        name = (
            seq.name
            if seq.name is not None
            else _generate_sequence_name(table, product, seq.column)
        )
        ok = True
        if not 0 <= seq.column < len(product.elements):
            self.errors.append(
                f"table {table!r}: sequence {name!r} refers to missing column {seq.column}"
            )
            ok = False
        elif not _is_integer(product.elements[seq.column].algebraic_type):
            self.errors.append(f"table {table!r}: sequence {name!r} is on a non-integer column")
            ok = False
        elif seq.column in used:
            self.errors.append(f"table {table!r}: more than one sequence on column {seq.column}")
            ok = False
        else:
            used.add(seq.column)

        def le(lo: int | None, hi: int | None) -> bool:
            return lo is None or hi is None or lo <= hi

        if not (
            le(seq.min_value, seq.start)
            and le(seq.start, seq.max_value)
            and le(seq.min_value, seq.max_value)
        ):
            self.errors.append(
                f"table {table!r}: sequence {name!r} has an invalid min/start/max range"
            )
            ok = False
        self.names.add(name, f"sequence of table {table!r}")
        if not ok:
            return None
        return SequenceSchema(
            name, seq.column, seq.start, seq.min_value, seq.max_value, seq.increment
        )

    def keys_and_backing(
        self,
        table: str,
        primary_key: tuple[int, ...],
        constraints: Sequence[UniqueConstraintSchema],
        indexes: Sequence[IndexSchema],
        product: ProductType,
    ) -> int | None:
        pk: int | None = None
        if len(primary_key) > 1:
            self.errors.append(f"table {table!r}: a primary key may have only one column")
        elif primary_key:
            col = primary_key[0]
            if not 0 <= col < len(product.elements):
                self.errors.append(f"table {table!r}: primary key refers to missing column {col}")
            elif not any(c.columns == (col,) for c in constraints):
                self.errors.append(
                    f"table {table!r}: primary key column {col} has no unique constraint"
                )
            else:
                pk = col
        for c in constraints:
            if not any(set(ix.columns) == set(c.columns) for ix in indexes):
                self.errors.append(
                    f"table {table!r}: unique constraint {c.name!r} is not backed by an index"
                )
        return pk

    def default_value(self, table: str, product: ProductType, col_id: int, value: bytes) -> bool:
        if not 0 <= col_id < len(product.elements):
            self.errors.append(f"table {table!r}: default value for missing column {col_id}")
            return False
        ty = product.elements[col_id].algebraic_type
        try:
            compile_codec(ty, self.ts).decode(value)
        except (SpacetimeDBError, ValueError, TypeError) as exc:
            self.errors.append(
                f"table {table!r}: default value of column {col_id} is malformed: {exc}"
            )
            return False
        return True

    def schedule(
        self,
        table: str,
        product: ProductType,
        primary_key: int | None,
        name: str,
        function_name: str,
        at_col: int,
    ) -> ScheduleSchema | None:
        at_ok = (
            0 <= at_col < len(product.elements)
            and special_kind(product.elements[at_col].algebraic_type) == "schedule_at"
        )
        id_ok = primary_key is not None and product.elements[primary_key].algebraic_type == U64
        self.names.add(name, f"schedule of table {table!r}")
        _ident(name, "schedule name", self.errors)
        if not (at_ok and id_ok):
            self.errors.append(
                f"table {table!r}: a schedule table needs a ScheduleAt column at {at_col} and a u64 primary key"
            )
            return None
        assert primary_key is not None
        return ScheduleSchema(name, function_name, "reducer", at_col, primary_key)

    def type_def(
        self, source: ScopedTypeName, ref: int, custom_ordering: bool, convert: Callable[[str], str]
    ) -> TypeSchema | None:
        name = ScopedTypeName(tuple(convert(s) for s in source.scope), convert(source.name))
        for part in (*name.scope, name.name):
            _ident(part, "type name segment", self.errors)
        where = f"type {str(source)!r}"
        if not 0 <= ref < len(self.ts):
            self.errors.append(f"{where}: Ref({ref}) is outside the typespace")
            return None
        ty = self.ts.types[ref]
        if not custom_ordering and not _has_default_ordering(ty):
            self.errors.append(f"{where}: elements are not in the default (sorted) order")
        self.uses.definition(ref, where)
        is_plain_enum = isinstance(ty, SumType) and all(
            v.algebraic_type == UNIT for v in ty.variants
        )
        return TypeSchema(
            name, source, ref, ty, self.raw_ts.types[ref], custom_ordering, is_plain_enum
        )


def _has_default_ordering(ty: AlgebraicType) -> bool:
    names: list[str | None]
    if isinstance(ty, ProductType):
        names = [e.name for e in ty.elements]
    elif isinstance(ty, SumType):
        names = [v.name for v in ty.variants]
    else:
        return True
    # Unnamed members (by position) sort before named ones (by name).
    labels = [(0, i, "") if n is None else (1, 0, n) for i, n in enumerate(names)]
    return all(a <= b for a, b in pairwise(labels))


def _check_unique_types(types: Sequence[TypeSchema], errors: list[str]) -> None:
    seen: set[ScopedTypeName] = set()
    for t in types:
        if t.name in seen:
            errors.append(f"duplicate type name {str(t.name)!r}")
        seen.add(t.name)


def _check_function_names(
    reducers: Sequence[ReducerSchema],
    procedures: Sequence[ProcedureSchema],
    views: Sequence[ViewSchema],
    errors: list[str],
) -> None:
    seen: set[str] = set()
    for name in [r.name for r in reducers] + [p.name for p in procedures] + [v.name for v in views]:
        if name in seen:
            errors.append(f"duplicate function name {name!r}")
        seen.add(name)


def _attach_schedule_targets(
    builder: _Builder,
    tables: list[TableSchema],
    reducers: list[ReducerSchema],
    procedures: list[ProcedureSchema],
) -> None:
    """Resolve each schedule's function (reducer first), check its params, mark it scheduled."""
    red_index = {r.name: i for i, r in reversed(list(enumerate(reducers)))}
    proc_index = {p.name: i for i, p in reversed(list(enumerate(procedures)))}
    for ti, table in enumerate(tables):
        sched = table.schedule
        if sched is None:
            continue
        params: ProductType
        if sched.function_name in red_index:
            kind: FunctionKind = "reducer"
            params = reducers[red_index[sched.function_name]].params_type
        elif sched.function_name in proc_index:
            kind = "procedure"
            params = procedures[proc_index[sched.function_name]].params_type
        else:
            builder.errors.append(
                f"schedule {sched.name!r} calls {sched.function_name!r}, which is no reducer or procedure"
            )
            continue
        if not (
            len(params.elements) == 1
            and params.elements[0].algebraic_type == RefType(table.product_type_ref)
        ):
            builder.errors.append(
                f"scheduled {kind} {sched.function_name!r} must take exactly one parameter of the row type "
                f"Ref({table.product_type_ref}) of table {table.name!r}"
            )
            continue
        tables[ti] = _replace(table, schedule=_replace(sched, function_kind=kind))


def _replace(obj: T, **changes: Any) -> T:
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


def _mark_scheduled_and_private(
    tables: Sequence[TableSchema],
    reducers: list[ReducerSchema],
    procedures: list[ProcedureSchema],
    adjust_visibility: bool,
) -> None:
    reducer_targets = {
        t.schedule.function_name
        for t in tables
        if t.schedule and t.schedule.function_kind == "reducer"
    }
    procedure_targets = {
        t.schedule.function_name
        for t in tables
        if t.schedule and t.schedule.function_kind == "procedure"
    }
    private = FunctionVisibility.PRIVATE
    for i, r in enumerate(reducers):
        scheduled = r.name in reducer_targets
        visibility = r.visibility
        if adjust_visibility and (scheduled or r.lifecycle is not None):
            visibility = private
        reducers[i] = _replace(r, is_scheduled=scheduled, visibility=visibility)
    for i, p in enumerate(procedures):
        scheduled = p.name in procedure_targets
        visibility = private if adjust_visibility and scheduled else p.visibility
        procedures[i] = _replace(p, is_scheduled=scheduled, visibility=visibility)


def _view(
    builder: _Builder,
    *,
    name: str,
    accessor_name: str,
    index: int,
    is_public: bool,
    is_anonymous: bool,
    params: ProductType,
    return_type: AlgebraicType,
) -> ViewSchema | None:
    where = f"view {accessor_name!r}"
    shape = _view_return(return_type)
    if shape is None:
        builder.errors.append(
            f"{where}: return type {_type_label(return_type)} must be Option<T>, Vec<T> or a query"
        )
        return None
    ref, kind = shape
    row = builder.product_at(ref, builder.ts)
    if row is None or builder.product_at(ref, builder.raw_ts) is None:
        builder.errors.append(f"{where}: Ref({ref}) does not point at a product type")
        return None
    param_schemas = builder.params(where, params)
    builder.uses.use(
        ArrayType(RefType(ref)) if kind == "query" else return_type, f"{where}, return type"
    )
    builder.names.add(name, "view")
    columns = builder.columns(where, ref)
    return ViewSchema(
        name=name,
        accessor_name=accessor_name,
        index=index,
        is_public=is_public,
        is_anonymous=is_anonymous,
        params=param_schemas,
        params_type=params,
        return_type=return_type,
        return_shape=kind,
        product_type_ref=ref,
        row_type=row,
        columns=columns,
        primary_key=None,
    )


# ------------------------------------------------------------------------------------------ V10


def _build_v10(raw: RawModuleDefV10, canonical: bool) -> ModuleSchema:
    policy = raw.case_conversion_policy
    tables_map: dict[str, str] = {}
    functions_map: dict[str, str] = {}
    indexes_map: dict[str, str] = {}
    for entry in raw.explicit_names.entries:
        target = (
            tables_map
            if isinstance(entry, ExplicitTableName)
            else functions_map
            if isinstance(entry, ExplicitFunctionName)
            else indexes_map
        )
        target[entry.source_name] = entry.canonical_name

    raw_ts = raw.typespace
    ts = raw_ts if canonical else convert_typespace(raw_ts, policy)
    type_policy = CaseConversionPolicy.NONE if canonical else policy
    b = _Builder(raw_ts, ts, (t.ty for t in raw.types), policy)
    errors = b.errors

    def table_ident(source: str) -> str:
        return tables_map.get(source, _convert(source, policy))

    def function_ident(source: str) -> str:
        return functions_map.get(source, _convert(source, policy))

    # -- reducers
    reducers: list[ReducerSchema] = []
    for i, r in enumerate(raw.reducers):
        where = f"reducer {r.source_name!r}"
        _ident(r.source_name, "reducer name", errors)
        name = _ident(function_ident(r.source_name), "canonical reducer name", errors)
        params = b.params(where, r.params)
        if not (r.ok_return_type == UNIT and r.err_return_type == STRING):
            errors.append(f"{where}: reducers must return Result<(), String>")
        reducers.append(
            ReducerSchema(
                name, r.source_name, i, params, r.params, None, r.visibility, False,
                r.ok_return_type, r.err_return_type,
            )
        )  # fmt: skip

    # -- procedures
    procedures: list[ProcedureSchema] = []
    for p in raw.procedures:
        where = f"procedure {p.source_name!r}"
        params = b.params(where, p.params)
        b.uses.use(p.return_type, f"{where}, return type")
        _ident(p.source_name, "procedure name", errors)
        name = _ident(function_ident(p.source_name), "canonical procedure name", errors)
        procedures.append(
            ProcedureSchema(
                name, p.source_name, params, p.params, p.return_type, p.visibility, False
            )
        )

    # -- HTTP handlers and routes
    handlers: list[HttpHandlerSchema] = []
    handler_names: set[str] = set()
    for h in raw.http_handlers:
        _ident(h.source_name, "HTTP handler name", errors)
        name = _ident(function_ident(h.source_name), "canonical HTTP handler name", errors)
        if name in handler_names:
            errors.append(f"duplicate HTTP handler name {name!r}")
        handler_names.add(name)
        handlers.append(HttpHandlerSchema(name, h.source_name))
    routes: list[HttpRouteSchema] = []
    for route in raw.http_routes:
        path = route.path
        if (path and not path.startswith("/")) or not all(
            c.isascii() and (c.islower() or c.isdigit() or c in "-_~/") for c in path
        ):
            errors.append(f"invalid HTTP route path {path!r}")
            continue
        handler = function_ident(route.handler_function)
        if handler not in handler_names:
            errors.append(f"HTTP route {path!r} names a missing handler {route.handler_function!r}")
            continue
        new = HttpRouteSchema(handler, route.method, path)
        if any(
            old.path == new.path
            and (
                isinstance(old.method, AnyMethod)
                or isinstance(new.method, AnyMethod)
                or old.method == new.method
            )
            for old in routes
        ):
            errors.append(f"duplicate HTTP route {path!r}")
        routes.append(new)

    # -- views
    views: list[ViewSchema] = []
    for v in raw.views:
        name = _ident(function_ident(v.source_name), "canonical view name", errors)
        _ident(v.source_name, "view name", errors)
        view = _view(
            b,
            name=name,
            accessor_name=v.source_name,
            index=v.index,
            is_public=v.is_public,
            is_anonymous=v.is_anonymous,
            params=v.params,
            return_type=v.return_type,
        )
        if view is not None:
            views.append(view)

    # -- tables
    tables: list[TableSchema] = []
    for t in raw.tables:
        table = _table_v10(b, t, table_ident, indexes_map)
        if table is not None:
            tables.append(table)

    # -- types
    types: list[TypeSchema] = []
    for td in raw.types:
        source = ScopedTypeName(td.source_name.scope, td.source_name.source_name)
        ts_def = b.type_def(
            source, td.ty, td.custom_ordering, lambda s: _convert_type_name(s, type_policy)
        )
        if ts_def is not None:
            types.append(ts_def)
    _check_unique_types(types, errors)

    # -- schedules
    by_name = {tb.name: i for i, tb in enumerate(tables)}
    for s in raw.schedules:
        tname = table_ident(s.table_name)
        if tname not in by_name:
            errors.append(f"schedule names a missing table {s.table_name!r}")
            continue
        ti = by_name[tname]
        table = tables[ti]
        sched = b.schedule(
            table.name, table.row_type, table.primary_key, f"{tname}_sched", function_ident(s.function_name),
            s.schedule_at_col,
        )  # fmt: skip
        if sched is None:
            continue
        if table.schedule is not None:
            errors.append(f"table {table.name!r} has more than one schedule")
            continue
        tables[ti] = _replace(table, schedule=sched)

    # -- lifecycle
    lifecycle_of: dict[int, Lifecycle] = {}
    seen_lifecycles: set[Lifecycle] = set()
    for lc in raw.lifecycle_reducers:
        fname = function_ident(lc.function_name)
        pos = next((i for i, r in enumerate(reducers) if r.name == fname), None)
        if pos is None:
            errors.append(
                f"lifecycle {lc.lifecycle_spec.name} names a missing reducer {lc.function_name!r}"
            )
            continue
        if lc.lifecycle_spec in seen_lifecycles:
            errors.append(f"duplicate lifecycle {lc.lifecycle_spec.name}")
            continue
        seen_lifecycles.add(lc.lifecycle_spec)
        if pos in lifecycle_of:
            errors.append(f"reducer {reducers[pos].name!r} has more than one lifecycle")
            continue
        lifecycle_of[pos] = lc.lifecycle_spec
    for pos, spec in lifecycle_of.items():
        reducers[pos] = _replace(reducers[pos], lifecycle=spec)

    _check_function_names(reducers, procedures, views, errors)
    _attach_schedule_targets(b, tables, reducers, procedures)
    _mark_scheduled_and_private(tables, reducers, procedures, adjust_visibility=True)
    _attach_view_primary_keys(b, views, raw.view_primary_keys)
    _infer_query_view_primary_keys(tables, views)

    # -- submodules
    submodules: list[SubmoduleSchema] = []
    namespaces: set[str] = set()
    for sub in raw.submodules:
        if len(sub.namespace.encode()) > 63:
            errors.append(f"submodule namespace {sub.namespace!r} is longer than 63 bytes")
        if not is_valid_identifier(sub.namespace):
            errors.append(f"submodule namespace {sub.namespace!r} is not a valid identifier")
            continue
        if sub.namespace in namespaces:
            errors.append(f"duplicate submodule namespace {sub.namespace!r}")
            continue
        namespaces.add(sub.namespace)
        try:
            sub_schema = _build_v10(sub.module, canonical)
        except ModuleValidationError as exc:
            errors.extend(f"submodule {sub.namespace!r}: {e}" for e in exc.errors)
            continue
        if sub_schema.lifecycle_reducers:
            errors.append(
                f"submodule {sub.namespace!r} declares lifecycle reducers (only the root may)"
            )
        submodules.append(SubmoduleSchema(sub.namespace, sub_schema))

    b.fail_if_errors()
    return ModuleSchema(
        typespace=ts,
        accessor_typespace=raw_ts,
        types=tuple(types),
        tables=tuple(tables),
        reducers=tuple(reducers),
        procedures=tuple(procedures),
        views=tuple(views),
        http_handlers=tuple(handlers),
        http_routes=tuple(routes),
        row_level_security=tuple(dict.fromkeys(r.sql for r in raw.row_level_security)),
        case_conversion_policy=policy,
        raw_version=10,
        submodules=tuple(submodules),
    )


def _table_v10(
    b: _Builder,
    t: RawTableDefV10,
    table_ident: Callable[[str], str],
    indexes_map: Mapping[str, str],
) -> TableSchema | None:
    errors = b.errors
    where = f"table {t.source_name!r}"
    product = b.product_at(t.product_type_ref, b.ts)
    if product is None or b.product_at(t.product_type_ref, b.raw_ts) is None:
        errors.append(
            f"{where}: product_type_ref Ref({t.product_type_ref}) does not point at a product type"
        )
        return None
    name = table_ident(t.source_name)
    columns = b.columns(where, t.product_type_ref)

    indexes: list[IndexSchema] = []
    for ix in t.indexes:
        if ix.source_name is None:
            errors.append(f"{where}: an index has no source_name")
            continue
        b.names.add(ix.source_name, f"index of {where}")
        ix_name = (
            indexes_map[ix.source_name]
            if ix.source_name in indexes_map
            else _generate_index_name(name, product, ix.algorithm)
        )
        _ident(ix_name, f"{where}: index name", errors)
        if ix_name != ix.source_name:
            b.names.add(ix_name, f"index of {where}")
        schema = b.index(name, product, ix_name, ix.source_name, ix.accessor_name, ix.algorithm)
        if schema is not None:
            indexes.append(schema)

    constraints: list[UniqueConstraintSchema] = []
    for c in t.constraints:
        cname = _generate_constraint_name(name, product, c.data.columns)
        cs = b.constraint(name, product, cname, c.data)
        if cs is not None:
            constraints.append(cs)
    pk = b.keys_and_backing(name, t.primary_key, constraints, indexes, product)

    sequences: list[SequenceSchema] = []
    used: set[int] = set()
    for s in t.sequences:
        seq = b.sequence(
            name,
            product,
            RawSequenceDefV9(
                s.source_name, s.column, s.start, s.min_value, s.max_value, s.increment
            ),
            used,
        )
        if seq is not None:
            sequences.append(seq)

    _ident(t.source_name, "table name", errors)
    b.names.add(t.source_name, "table")
    _ident(name, "canonical table name", errors)
    if t.table_type is not TableType.SYSTEM and name.startswith("st_"):
        errors.append(f"{where}: table names starting with 'st_' are reserved for system tables")
    if name != t.source_name:
        b.names.add(name, "table")

    defaults: dict[int, bytes] = {}
    for dv in t.default_values:
        if b.default_value(name, product, dv.col_id, dv.value):
            defaults[dv.col_id] = dv.value
    columns = tuple(_replace(c, default_value=defaults.get(c.position)) for c in columns)

    return TableSchema(
        name=name,
        accessor_name=t.source_name,
        product_type_ref=t.product_type_ref,
        row_type=product,
        columns=columns,
        primary_key=pk,
        indexes=tuple(indexes),
        constraints=tuple(constraints),
        sequences=tuple(sequences),
        schedule=None,
        table_type=t.table_type,
        table_access=t.table_access,
        is_event=t.is_event,
    )


def _attach_view_primary_keys(
    b: _Builder, views: list[ViewSchema], keys: Sequence[RawViewPrimaryKeyDefV10]
) -> None:
    seen: set[str] = set()
    for key in keys:
        if key.view_source_name in seen:
            b.errors.append(
                f"view {key.view_source_name!r} declares its primary key more than once"
            )
            continue
        seen.add(key.view_source_name)
        if len(key.columns) > 1:
            b.errors.append(
                f"view {key.view_source_name!r}: only single-column primary keys are supported"
            )
            continue
        if not key.columns:
            continue
        pos = next(
            (i for i, v in enumerate(views) if v.accessor_name == key.view_source_name), None
        )
        if pos is None:
            b.errors.append(f"primary key declared for a missing view {key.view_source_name!r}")
            continue
        col = next((c for c in views[pos].columns if c.accessor_name == key.columns[0]), None)
        if col is None:
            b.errors.append(f"view {key.view_source_name!r} has no column {key.columns[0]!r}")
            continue
        views[pos] = _replace(views[pos], primary_key=col.position)


def _infer_query_view_primary_keys(tables: Sequence[TableSchema], views: list[ViewSchema]) -> None:
    """A query view inherits the primary key of the tables sharing its row type, if unambiguous."""
    for i, view in enumerate(views):
        if view.return_shape != "query" or view.primary_key is not None:
            continue
        found: int | None = None
        ambiguous = False
        for t in tables:
            if t.product_type_ref != view.product_type_ref or t.primary_key is None:
                continue
            if found is None:
                found = t.primary_key
            elif found != t.primary_key:
                ambiguous = True
        if found is not None and not ambiguous:
            views[i] = _replace(view, primary_key=found)


# ------------------------------------------------------------------------------------------- V9


def _build_v9(raw: RawModuleDefV9) -> ModuleSchema:
    # The server validates V9 with the None policy: every name is already canonical.
    policy = CaseConversionPolicy.NONE
    ts = raw.typespace
    b = _Builder(ts, ts, (t.ty for t in raw.types), policy)
    errors = b.errors

    reducers: list[ReducerSchema] = []
    seen_lifecycles: set[Lifecycle] = set()
    for i, r in enumerate(raw.reducers):
        params = b.params(f"reducer {r.name!r}", r.params)
        _ident(r.name, "reducer name", errors)
        if r.lifecycle is not None:
            if r.lifecycle in seen_lifecycles:
                errors.append(f"duplicate lifecycle {r.lifecycle.name}")
            seen_lifecycles.add(r.lifecycle)
        reducers.append(
            ReducerSchema(
                r.name,
                r.name,
                i,
                params,
                r.params,
                r.lifecycle,
                FunctionVisibility.CLIENT_CALLABLE,
                False,
            )
        )

    procedures: list[ProcedureSchema] = []
    views: list[ViewSchema] = []
    defaults: list[RawColumnDefaultValueV9] = []
    for export in raw.misc_exports:
        if isinstance(export, RawProcedureDefV9):
            where = f"procedure {export.name!r}"
            params = b.params(where, export.params)
            b.uses.use(export.return_type, f"{where}, return type")
            _ident(export.name, "procedure name", errors)
            procedures.append(
                ProcedureSchema(
                    export.name, export.name, params, export.params, export.return_type,
                    FunctionVisibility.CLIENT_CALLABLE, False,
                )
            )  # fmt: skip
        elif isinstance(export, RawViewDefV9):
            _ident(export.name, "view name", errors)
            view = _view(
                b,
                name=export.name,
                accessor_name=export.name,
                index=export.index,
                is_public=export.is_public,
                is_anonymous=export.is_anonymous,
                params=export.params,
                return_type=export.return_type,
            )
            if view is not None:
                views.append(view)
        else:
            defaults.append(export)

    tables: list[TableSchema] = []
    for t in raw.tables:
        table = _table_v9(b, t)
        if table is not None:
            tables.append(table)

    types: list[TypeSchema] = []
    for td in raw.types:
        source = ScopedTypeName(td.name.scope, td.name.name)
        ts_def = b.type_def(source, td.ty, td.custom_ordering, lambda s: s)
        if ts_def is not None:
            types.append(ts_def)
    _check_unique_types(types, errors)

    _check_function_names(reducers, procedures, views, errors)

    by_name = {tb.name: i for i, tb in enumerate(tables)}
    with_default: set[tuple[int, int]] = set()
    for dv in defaults:
        if dv.table not in by_name:
            errors.append(f"default value for a missing table {dv.table!r}")
            continue
        ti = by_name[dv.table]
        table = tables[ti]
        if not b.default_value(table.name, table.row_type, dv.col_id, dv.value):
            continue
        if (ti, dv.col_id) in with_default:
            errors.append(
                f"table {table.name!r}: more than one default value for column {dv.col_id}"
            )
            continue
        with_default.add((ti, dv.col_id))
        cols = list(table.columns)
        cols[dv.col_id] = _replace(cols[dv.col_id], default_value=dv.value)
        tables[ti] = _replace(table, columns=tuple(cols))

    _attach_schedule_targets(b, tables, reducers, procedures)
    # V9 validation leaves visibility alone (everything is ClientCallable); only mark targets.
    _mark_scheduled_and_private(tables, reducers, procedures, adjust_visibility=False)

    b.fail_if_errors()
    return ModuleSchema(
        typespace=ts,
        accessor_typespace=ts,
        types=tuple(types),
        tables=tuple(tables),
        reducers=tuple(reducers),
        procedures=tuple(procedures),
        views=tuple(views),
        row_level_security=tuple(dict.fromkeys(r.sql for r in raw.row_level_security)),
        case_conversion_policy=policy,
        raw_version=9,
    )


def _table_v9(b: _Builder, t: RawTableDefV9) -> TableSchema | None:
    errors = b.errors
    where = f"table {t.name!r}"
    product = b.product_at(t.product_type_ref, b.ts)
    if product is None:
        errors.append(
            f"{where}: product_type_ref Ref({t.product_type_ref}) does not point at a product type"
        )
        return None
    name = t.name
    columns = b.columns(where, t.product_type_ref)

    indexes: list[IndexSchema] = []
    for ix in t.indexes:
        ix_name = (
            ix.name if ix.name is not None else _generate_index_name(name, product, ix.algorithm)
        )
        b.names.add(ix_name, f"index of {where}")
        schema = b.index(name, product, ix_name, ix_name, ix.accessor_name, ix.algorithm)
        if schema is not None:
            indexes.append(schema)

    constraints: list[UniqueConstraintSchema] = []
    for c in t.constraints:
        cname = (
            c.name
            if c.name is not None
            else _generate_constraint_name(name, product, c.data.columns)
        )
        cs = b.constraint(name, product, cname, c.data)
        if cs is not None:
            constraints.append(cs)
    pk = b.keys_and_backing(name, t.primary_key, constraints, indexes, product)

    sequences: list[SequenceSchema] = []
    used: set[int] = set()
    for s in t.sequences:
        seq = b.sequence(name, product, s, used)
        if seq is not None:
            sequences.append(seq)

    schedule: ScheduleSchema | None = None
    if t.schedule is not None:
        sname = t.schedule.name if t.schedule.name is not None else f"{name}_sched"
        schedule = b.schedule(
            name, product, pk, sname, t.schedule.reducer_name, t.schedule.scheduled_at_column
        )

    b.names.add(name, "table")
    _ident(name, "table name", errors)
    if t.table_type is not TableType.SYSTEM and name.startswith("st_"):
        errors.append(f"{where}: table names starting with 'st_' are reserved for system tables")

    return TableSchema(
        name=name,
        accessor_name=name,
        product_type_ref=t.product_type_ref,
        row_type=product,
        columns=columns,
        primary_key=pk,
        indexes=tuple(indexes),
        constraints=tuple(constraints),
        sequences=tuple(sequences),
        schedule=schedule,
        table_type=t.table_type,
        table_access=t.table_access,
        is_event=False,
    )


# ==================================================================================== re-export


def _raw_algorithm(ix: IndexSchema) -> RawIndexAlgorithm:
    if ix.algorithm == "btree":
        return RawIndexAlgorithmBTree(ix.columns)
    if ix.algorithm == "hash":
        return RawIndexAlgorithmHash(ix.columns)
    return RawIndexAlgorithmDirect(ix.columns[0])


def _sorted_tables(schema: ModuleSchema) -> list[TableSchema]:
    return sorted(schema.tables, key=lambda t: t.name)


def _sorted_types(schema: ModuleSchema) -> list[TypeSchema]:
    return sorted(schema.types, key=lambda t: t.name)


def _export_v10(schema: ModuleSchema) -> RawModuleDefV10:
    sections: list[RawModuleDefV10Section] = [TypespaceSection(schema.typespace)]
    explicit: list[ExplicitNameEntry] = []

    types = tuple(
        RawTypeDefV10(RawScopedTypeNameV10(t.name.scope, t.name.name), t.ref, t.custom_ordering)
        for t in _sorted_types(schema)
    )
    if types:
        sections.append(TypesSection(types))

    schedules: list[RawScheduleDefV10] = []
    raw_tables: list[RawTableDefV10] = []
    for t in _sorted_tables(schema):
        explicit.append(ExplicitTableName(t.accessor_name, t.name))
        if t.schedule is not None:
            schedules.append(
                RawScheduleDefV10(
                    t.schedule.name, t.name, t.schedule.at_column, t.schedule.function_name
                )
            )
        raw_tables.append(
            RawTableDefV10(
                source_name=t.accessor_name,
                product_type_ref=t.product_type_ref,
                primary_key=() if t.primary_key is None else (t.primary_key,),
                indexes=tuple(
                    RawIndexDefV10(ix.source_name, ix.accessor_name, _raw_algorithm(ix))
                    for ix in sorted(t.indexes, key=lambda ix: ix.name)
                ),
                constraints=tuple(
                    RawConstraintDefV10(c.name, RawUniqueConstraintDataV9(c.columns))
                    for c in sorted(t.constraints, key=lambda c: c.name)
                ),
                sequences=tuple(
                    RawSequenceDefV10(
                        s.name, s.column, s.start, s.min_value, s.max_value, s.increment
                    )
                    for s in sorted(t.sequences, key=lambda s: s.name)
                ),
                table_type=t.table_type,
                table_access=t.table_access,
                default_values=tuple(
                    RawColumnDefaultValueV10(c.position, c.default_value)
                    for c in t.columns
                    if c.default_value is not None
                ),
                is_event=t.is_event,
            )
        )
    if raw_tables:
        sections.append(TablesSection(tuple(raw_tables)))

    if schema.reducers:
        sections.append(
            ReducersSection(
                tuple(
                    RawReducerDefV10(
                        r.accessor_name,
                        r.params_type,
                        r.visibility,
                        r.ok_return_type,
                        r.err_return_type,
                    )
                    for r in schema.reducers
                )
            )
        )
        explicit.extend(ExplicitFunctionName(r.accessor_name, r.name) for r in schema.reducers)
    if schema.procedures:
        sections.append(
            ProceduresSection(
                tuple(
                    RawProcedureDefV10(p.accessor_name, p.params_type, p.return_type, p.visibility)
                    for p in schema.procedures
                )
            )
        )
        explicit.extend(ExplicitFunctionName(p.accessor_name, p.name) for p in schema.procedures)
    if schema.http_handlers:
        sections.append(
            HttpHandlersSection(
                tuple(RawHttpHandlerDefV10(h.accessor_name) for h in schema.http_handlers)
            )
        )
    if schema.http_routes:
        sections.append(
            HttpRoutesSection(
                tuple(
                    RawHttpRouteDefV10(r.handler_name, r.method, r.path) for r in schema.http_routes
                )
            )
        )
    view_keys: list[RawViewPrimaryKeyDefV10] = []
    if schema.views:
        raw_views: list[RawViewDefV10] = []
        for v in schema.views:
            explicit.append(ExplicitFunctionName(v.accessor_name, v.name))
            if v.is_procedural and v.primary_key is not None:
                view_keys.append(
                    RawViewPrimaryKeyDefV10(v.accessor_name, (v.columns[v.primary_key].name,))
                )
            raw_views.append(
                RawViewDefV10(
                    v.accessor_name,
                    v.index,
                    v.is_public,
                    v.is_anonymous,
                    v.params_type,
                    v.return_type,
                )
            )
        sections.append(ViewsSection(tuple(raw_views)))
    if view_keys:
        sections.append(ViewPrimaryKeysSection(tuple(view_keys)))
    if schedules:
        sections.append(SchedulesSection(tuple(schedules)))
    lifecycle = tuple(
        RawLifeCycleReducerDefV10(lc, r.name) for lc, r in schema.lifecycle_reducers.items()
    )
    if lifecycle:
        sections.append(LifeCycleReducersSection(lifecycle))
    if schema.row_level_security:
        sections.append(
            RowLevelSecuritySection(
                tuple(RawRowLevelSecurityDefV9(s) for s in schema.row_level_security)
            )
        )
    sections.append(ExplicitNamesSection(ExplicitNames(tuple(explicit))))
    if schema.submodules:
        sections.append(
            SubmodulesSection(
                tuple(
                    RawSubmoduleV10(s.namespace, _export_v10(s.schema)) for s in schema.submodules
                )
            )
        )
    return RawModuleDefV10(tuple(sections))


def _export_v9(schema: ModuleSchema) -> RawModuleDefV9:
    tables = _sorted_tables(schema)
    raw_tables = tuple(
        RawTableDefV9(
            name=t.name,
            product_type_ref=t.product_type_ref,
            primary_key=() if t.primary_key is None else (t.primary_key,),
            indexes=tuple(
                RawIndexDefV9(ix.name, ix.accessor_name, _raw_algorithm(ix))
                for ix in sorted(t.indexes, key=lambda ix: ix.name)
            ),
            constraints=tuple(
                RawConstraintDefV9(c.name, RawUniqueConstraintDataV9(c.columns))
                for c in sorted(t.constraints, key=lambda c: c.name)
            ),
            sequences=tuple(
                RawSequenceDefV9(s.name, s.column, s.start, s.min_value, s.max_value, s.increment)
                for s in sorted(t.sequences, key=lambda s: s.name)
            ),
            schedule=None
            if t.schedule is None
            else RawScheduleDefV9(t.schedule.name, t.schedule.function_name, t.schedule.at_column),
            table_type=t.table_type,
            table_access=t.table_access,
        )
        for t in tables
    )
    misc: list[RawMiscModuleExportV9] = [
        RawColumnDefaultValueV9(t.name, c.position, c.default_value)
        for t in tables
        for c in t.columns
        if c.default_value is not None
    ]
    misc.extend(RawProcedureDefV9(p.name, p.params_type, p.return_type) for p in schema.procedures)
    misc.extend(
        RawViewDefV9(v.name, v.index, v.is_public, v.is_anonymous, v.params_type, v.return_type)
        for v in schema.views
    )
    return RawModuleDefV9(
        typespace=schema.typespace,
        tables=raw_tables,
        reducers=tuple(
            RawReducerDefV9(r.name, r.params_type, r.lifecycle) for r in schema.reducers
        ),
        types=tuple(
            RawTypeDefV9(RawScopedTypeNameV9(t.name.scope, t.name.name), t.ref, t.custom_ordering)
            for t in _sorted_types(schema)
        ),
        misc_exports=tuple(misc),
        row_level_security=tuple(RawRowLevelSecurityDefV9(s) for s in schema.row_level_security),
    )
