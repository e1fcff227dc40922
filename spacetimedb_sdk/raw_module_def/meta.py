"""The meta typespace: the wire layout of a module definition, declared once as SATS types.

``AlgebraicType`` itself is declared too, as a recursive sum expressed with refs. Each declared
type is bound to its dataclass with :class:`~spacetimedb_sdk.bsatn.ProductBinding` /
:class:`~spacetimedb_sdk.bsatn.SumBinding`, so this one declaration drives both the compiled BSATN
codec and the SATS-JSON reader/writer (see :mod:`spacetimedb_sdk.raw_module_def.codec`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    I128,
    PRIMITIVES,
    STRING,
    U8,
    U16,
    U32,
    UNIT,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    ProductTypeElement,
    RefType,
    SumType,
    SumTypeVariant,
    Typespace,
    array,
    option,
    product_of,
    sum_of,
)
from spacetimedb_sdk.bsatn import BsatnCodec, ProductBinding, SumBinding, compile_codec
from spacetimedb_sdk.raw_module_def.common import (
    RawIndexAlgorithmBTree,
    RawIndexAlgorithmDirect,
    RawIndexAlgorithmHash,
    RawRowLevelSecurityDefV9,
    RawUniqueConstraintDataV9,
)
from spacetimedb_sdk.raw_module_def.enums import (
    ANY_METHOD,
    ENUM_WIRE_NAMES,
    AnyMethod,
    CaseConversionPolicy,
    FunctionVisibility,
    HttpMethod,
    HttpMethodExtension,
    Lifecycle,
    TableAccess,
    TableType,
)
from spacetimedb_sdk.raw_module_def.v9 import (
    RawColumnDefaultValueV9,
    RawConstraintDefV9,
    RawIndexDefV9,
    RawModuleDefV9,
    RawProcedureDefV9,
    RawReducerDefV9,
    RawScheduleDefV9,
    RawScopedTypeNameV9,
    RawSequenceDefV9,
    RawTableDefV9,
    RawTypeDefV9,
    RawViewDefV9,
)
from spacetimedb_sdk.raw_module_def.v10 import (
    SECTION_CLASSES,
    SECTION_NAMES,
    ExplicitFunctionName,
    ExplicitIndexName,
    ExplicitNames,
    ExplicitTableName,
    RawColumnDefaultValueV10,
    RawConstraintDefV10,
    RawHttpHandlerDefV10,
    RawHttpRouteDefV10,
    RawIndexDefV10,
    RawLifeCycleReducerDefV10,
    RawModuleDefV10,
    RawProcedureDefV10,
    RawReducerDefV10,
    RawScheduleDefV10,
    RawScopedTypeNameV10,
    RawSequenceDefV10,
    RawSubmoduleV10,
    RawTableDefV10,
    RawTypeDefV10,
    RawViewDefV10,
    RawViewPrimaryKeyDefV10,
)

__all__ = ["Binding", "MetaCodecs", "algebraic_type_codec", "meta_codecs", "meta_typespace"]

#: How a meta type is bound to its Python class.
Binding = ProductBinding | SumBinding


class _MetaBuilder:
    """Collects named SATS types; ``ref(name)`` may be used before ``define(name, ...)``."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.types: dict[str, AlgebraicType] = {}
        self.bindings: dict[int, Binding] = {}

    def ref(self, name: str) -> RefType:
        if name not in self.order:
            self.order.append(name)
        return RefType(self.order.index(name))

    def define(self, name: str, ty: AlgebraicType, binding: Binding) -> None:
        index = self.ref(name).index
        self.types[name] = ty
        self.bindings[index] = binding

    def product(
        self, name: str, cls: type[Any], fields: Sequence[tuple[str, AlgebraicType]]
    ) -> None:
        """Define a product bound to dataclass ``cls`` whose attributes are the wire field names."""
        attrs = tuple(f.name for f in dataclasses.fields(cls))
        if attrs != tuple(n for n, _ in fields):
            raise AssertionError(f"{cls.__name__} fields {attrs} do not match the wire layout")
        self.define(name, product_of(fields), ProductBinding(_tupled(cls), attrs))

    def finish(self) -> tuple[Typespace, dict[int, Binding], dict[str, int]]:
        missing = [n for n in self.order if n not in self.types]
        if missing:
            raise AssertionError(f"meta types referenced but not defined: {missing}")
        ts = Typespace(tuple(self.types[n] for n in self.order))
        return ts, self.bindings, {n: i for i, n in enumerate(self.order)}


def _tupled(cls: Callable[..., Any]) -> Callable[..., Any]:
    """A constructor that turns decoded lists into tuples so the dataclasses stay hashable."""

    def build(*args: Any) -> Any:
        return cls(*[tuple(a) if type(a) is list else a for a in args])

    build.__name__ = f"build_{getattr(cls, '__name__', 'value')}"
    return build


def _enum_binding(enum_cls: type[Enum]) -> tuple[SumType, SumBinding]:
    members = list(enum_cls)
    names = ENUM_WIRE_NAMES[enum_cls]
    if [m.value for m in members] != list(range(len(names))):
        raise AssertionError(f"{enum_cls.__name__} values must be its wire tags")
    ty = sum_of([(n, UNIT) for n in names])

    def unwrap(member: Enum) -> tuple[int, Any]:
        if not isinstance(member, enum_cls):
            raise TypeError(f"expected {enum_cls.__name__}, got {member!r}")
        return int(member.value), ()

    wrap = tuple(_const(m) for m in members)
    return ty, SumBinding(wrap, unwrap, dict(enumerate(members)))


def _const(value: Any) -> Callable[[Any], Any]:
    return lambda _payload: value


def _by_class(
    classes: tuple[type[Any], ...], payload: Callable[[Any], Any] = lambda x: x
) -> Callable[[Any], tuple[int, Any]]:
    """An ``unwrap`` for sums whose variants are distinguished by Python class."""
    tags = {cls: i for i, cls in enumerate(classes)}

    def unwrap(obj: Any) -> tuple[int, Any]:
        tag = tags.get(type(obj))
        if tag is None:
            raise TypeError(f"expected one of {[c.__name__ for c in classes]}, got {obj!r}")
        return tag, payload(obj)

    return unwrap


def _unwrap_algebraic_type(ty: Any) -> tuple[int, Any]:
    if isinstance(ty, RefType):
        return 0, ty.index
    if isinstance(ty, SumType):
        return 1, ty
    if isinstance(ty, ProductType):
        return 2, ty
    if isinstance(ty, ArrayType):
        return 3, ty.element
    if isinstance(ty, PrimitiveType):
        return ty.tag, ()
    raise TypeError(f"not an AlgebraicType: {ty!r}")


def _identity(x: Any) -> Any:
    return x


def _build_meta() -> tuple[Typespace, dict[int, Binding], dict[str, int]]:
    b = _MetaBuilder()
    ref = b.ref
    col_list = array(U16)
    opt_name = option(STRING)
    opt_i128 = option(I128)
    bytes_ty = array(U8)
    at = ref("AlgebraicType")

    # -- AlgebraicType and friends
    primitives = sorted(PRIMITIVES.values(), key=lambda p: p.tag)
    b.define(
        "AlgebraicType",
        sum_of(
            [("Ref", U32), ("Sum", ref("SumType")), ("Product", ref("ProductType")), ("Array", at)]
            + [(p.name, UNIT) for p in primitives]
        ),
        SumBinding(
            (RefType, _identity, _identity, ArrayType, *(_const(p) for p in primitives)),
            _unwrap_algebraic_type,
            {p.tag: p for p in primitives},
        ),
    )
    b.define(
        "SumType",
        product_of([("variants", array(ref("SumTypeVariant")))]),
        ProductBinding(lambda variants: SumType(tuple(variants)), ("variants",)),
    )
    b.product("SumTypeVariant", SumTypeVariant, [("name", opt_name), ("algebraic_type", at)])
    b.define(
        "ProductType",
        product_of([("elements", array(ref("ProductTypeElement")))]),
        ProductBinding(lambda elements: ProductType(tuple(elements)), ("elements",)),
    )
    b.product(
        "ProductTypeElement", ProductTypeElement, [("name", opt_name), ("algebraic_type", at)]
    )
    b.define(
        "Typespace",
        product_of([("types", array(at))]),
        ProductBinding(lambda types: Typespace(tuple(types)), ("types",)),
    )
    product_ty = ref("ProductType")

    # -- unit enums
    for enum_cls, name in (
        (TableType, "TableType"),
        (TableAccess, "TableAccess"),
        (Lifecycle, "Lifecycle"),
        (FunctionVisibility, "FunctionVisibility"),
        (CaseConversionPolicy, "CaseConversionPolicy"),
    ):
        ty, binding = _enum_binding(enum_cls)
        b.define(name, ty, binding)

    # -- shared
    b.define(
        "RawIndexAlgorithm",
        sum_of([("BTree", col_list), ("Hash", col_list), ("Direct", U16)]),
        SumBinding(
            (
                lambda cols: RawIndexAlgorithmBTree(tuple(cols)),
                lambda cols: RawIndexAlgorithmHash(tuple(cols)),
                RawIndexAlgorithmDirect,
            ),
            _by_class(
                (RawIndexAlgorithmBTree, RawIndexAlgorithmHash, RawIndexAlgorithmDirect),
                lambda a: a.column if isinstance(a, RawIndexAlgorithmDirect) else a.columns,
            ),
        ),
    )
    b.product("RawUniqueConstraintDataV9", RawUniqueConstraintDataV9, [("columns", col_list)])
    b.define(
        "RawConstraintDataV9",
        sum_of([("Unique", ref("RawUniqueConstraintDataV9"))]),
        SumBinding((_identity,), _by_class((RawUniqueConstraintDataV9,))),
    )
    b.product("RawRowLevelSecurityDefV9", RawRowLevelSecurityDefV9, [("sql", STRING)])

    # -- V9
    b.product(
        "RawScopedTypeNameV9", RawScopedTypeNameV9, [("scope", array(STRING)), ("name", STRING)]
    )
    b.product(
        "RawTypeDefV9",
        RawTypeDefV9,
        [("name", ref("RawScopedTypeNameV9")), ("ty", U32), ("custom_ordering", BOOL)],
    )
    b.product(
        "RawIndexDefV9",
        RawIndexDefV9,
        [("name", opt_name), ("accessor_name", opt_name), ("algorithm", ref("RawIndexAlgorithm"))],
    )
    b.product(
        "RawConstraintDefV9",
        RawConstraintDefV9,
        [("name", opt_name), ("data", ref("RawConstraintDataV9"))],
    )
    sequence_tail = [
        ("column", U16),
        ("start", opt_i128),
        ("min_value", opt_i128),
        ("max_value", opt_i128),
        ("increment", I128),
    ]
    b.product("RawSequenceDefV9", RawSequenceDefV9, [("name", opt_name), *sequence_tail])
    b.product(
        "RawScheduleDefV9",
        RawScheduleDefV9,
        [("name", opt_name), ("reducer_name", STRING), ("scheduled_at_column", U16)],
    )
    b.product(
        "RawTableDefV9",
        RawTableDefV9,
        [
            ("name", STRING),
            ("product_type_ref", U32),
            ("primary_key", col_list),
            ("indexes", array(ref("RawIndexDefV9"))),
            ("constraints", array(ref("RawConstraintDefV9"))),
            ("sequences", array(ref("RawSequenceDefV9"))),
            ("schedule", option(ref("RawScheduleDefV9"))),
            ("table_type", ref("TableType")),
            ("table_access", ref("TableAccess")),
        ],
    )
    b.product(
        "RawReducerDefV9",
        RawReducerDefV9,
        [("name", STRING), ("params", product_ty), ("lifecycle", option(ref("Lifecycle")))],
    )
    b.product(
        "RawColumnDefaultValueV9",
        RawColumnDefaultValueV9,
        [("table", STRING), ("col_id", U16), ("value", bytes_ty)],
    )
    b.product(
        "RawProcedureDefV9",
        RawProcedureDefV9,
        [("name", STRING), ("params", product_ty), ("return_type", at)],
    )
    view_tail = [
        ("index", U32),
        ("is_public", BOOL),
        ("is_anonymous", BOOL),
        ("params", product_ty),
        ("return_type", at),
    ]
    b.product("RawViewDefV9", RawViewDefV9, [("name", STRING), *view_tail])
    misc_classes = (RawColumnDefaultValueV9, RawProcedureDefV9, RawViewDefV9)
    b.define(
        "RawMiscModuleExportV9",
        sum_of(
            [
                ("ColumnDefaultValue", ref("RawColumnDefaultValueV9")),
                ("Procedure", ref("RawProcedureDefV9")),
                ("View", ref("RawViewDefV9")),
            ]
        ),
        SumBinding((_identity, _identity, _identity), _by_class(misc_classes)),
    )
    b.product(
        "RawModuleDefV9",
        RawModuleDefV9,
        [
            ("typespace", ref("Typespace")),
            ("tables", array(ref("RawTableDefV9"))),
            ("reducers", array(ref("RawReducerDefV9"))),
            ("types", array(ref("RawTypeDefV9"))),
            ("misc_exports", array(ref("RawMiscModuleExportV9"))),
            ("row_level_security", array(ref("RawRowLevelSecurityDefV9"))),
        ],
    )

    # -- V10
    b.product(
        "RawScopedTypeNameV10",
        RawScopedTypeNameV10,
        [("scope", array(STRING)), ("source_name", STRING)],
    )
    b.product(
        "RawTypeDefV10",
        RawTypeDefV10,
        [("source_name", ref("RawScopedTypeNameV10")), ("ty", U32), ("custom_ordering", BOOL)],
    )
    b.product(
        "RawIndexDefV10",
        RawIndexDefV10,
        [
            ("source_name", opt_name),
            ("accessor_name", opt_name),
            ("algorithm", ref("RawIndexAlgorithm")),
        ],
    )
    b.product(
        "RawConstraintDefV10",
        RawConstraintDefV10,
        [("source_name", opt_name), ("data", ref("RawConstraintDataV9"))],
    )
    b.product("RawSequenceDefV10", RawSequenceDefV10, [("source_name", opt_name), *sequence_tail])
    b.product(
        "RawColumnDefaultValueV10", RawColumnDefaultValueV10, [("col_id", U16), ("value", bytes_ty)]
    )
    b.product(
        "RawTableDefV10",
        RawTableDefV10,
        [
            ("source_name", STRING),
            ("product_type_ref", U32),
            ("primary_key", col_list),
            ("indexes", array(ref("RawIndexDefV10"))),
            ("constraints", array(ref("RawConstraintDefV10"))),
            ("sequences", array(ref("RawSequenceDefV10"))),
            ("table_type", ref("TableType")),
            ("table_access", ref("TableAccess")),
            ("default_values", array(ref("RawColumnDefaultValueV10"))),
            ("is_event", BOOL),
        ],
    )
    b.product(
        "RawReducerDefV10",
        RawReducerDefV10,
        [
            ("source_name", STRING),
            ("params", product_ty),
            ("visibility", ref("FunctionVisibility")),
            ("ok_return_type", at),
            ("err_return_type", at),
        ],
    )
    b.product(
        "RawProcedureDefV10",
        RawProcedureDefV10,
        [
            ("source_name", STRING),
            ("params", product_ty),
            ("return_type", at),
            ("visibility", ref("FunctionVisibility")),
        ],
    )
    b.product("RawViewDefV10", RawViewDefV10, [("source_name", STRING), *view_tail])
    b.product(
        "RawScheduleDefV10",
        RawScheduleDefV10,
        [
            ("source_name", opt_name),
            ("table_name", STRING),
            ("schedule_at_col", U16),
            ("function_name", STRING),
        ],
    )
    b.product(
        "RawLifeCycleReducerDefV10",
        RawLifeCycleReducerDefV10,
        [("lifecycle_spec", ref("Lifecycle")), ("function_name", STRING)],
    )
    mapping = [("source_name", STRING), ("canonical_name", STRING)]
    # Three identical NameMapping products so that each binds to its own entry class.
    b.product("NameMapping.Table", ExplicitTableName, mapping)
    b.product("NameMapping.Function", ExplicitFunctionName, mapping)
    b.product("NameMapping.Index", ExplicitIndexName, mapping)
    name_classes = (ExplicitTableName, ExplicitFunctionName, ExplicitIndexName)
    b.define(
        "ExplicitNameEntry",
        sum_of(
            [
                ("Table", ref("NameMapping.Table")),
                ("Function", ref("NameMapping.Function")),
                ("Index", ref("NameMapping.Index")),
            ]
        ),
        SumBinding((_identity, _identity, _identity), _by_class(name_classes)),
    )
    b.product("ExplicitNames", ExplicitNames, [("entries", array(ref("ExplicitNameEntry")))])
    b.product(
        "RawViewPrimaryKeyDefV10",
        RawViewPrimaryKeyDefV10,
        [("view_source_name", STRING), ("columns", array(STRING))],
    )
    b.product("RawHttpHandlerDefV10", RawHttpHandlerDefV10, [("source_name", STRING)])
    _, method_enum_binding = _enum_binding(HttpMethod)
    b.define(
        "Method",
        sum_of([*((n, UNIT) for n in ENUM_WIRE_NAMES[HttpMethod]), ("Extension", STRING)]),
        SumBinding(
            (*method_enum_binding.wrap, HttpMethodExtension),
            _unwrap_method,
            method_enum_binding.constants,
        ),
    )
    b.define(
        "MethodOrAny",
        sum_of([("Any", UNIT), ("Method", ref("Method"))]),
        SumBinding(
            (_const(ANY_METHOD), _identity),
            lambda m: (0, ()) if isinstance(m, AnyMethod) else (1, m),
            {0: ANY_METHOD},
        ),
    )
    b.product(
        "RawHttpRouteDefV10",
        RawHttpRouteDefV10,
        [("handler_function", STRING), ("method", ref("MethodOrAny")), ("path", STRING)],
    )
    b.product(
        "RawSubmoduleV10",
        RawSubmoduleV10,
        [("namespace", STRING), ("module", ref("RawModuleDefV10"))],
    )
    section_payloads: list[tuple[str, AlgebraicType]] = [
        ("Typespace", ref("Typespace")),
        ("Types", array(ref("RawTypeDefV10"))),
        ("Tables", array(ref("RawTableDefV10"))),
        ("Reducers", array(ref("RawReducerDefV10"))),
        ("Procedures", array(ref("RawProcedureDefV10"))),
        ("Views", array(ref("RawViewDefV10"))),
        ("Schedules", array(ref("RawScheduleDefV10"))),
        ("LifeCycleReducers", array(ref("RawLifeCycleReducerDefV10"))),
        ("RowLevelSecurity", array(ref("RawRowLevelSecurityDefV9"))),
        ("CaseConversionPolicy", ref("CaseConversionPolicy")),
        ("ExplicitNames", ref("ExplicitNames")),
        ("HttpHandlers", array(ref("RawHttpHandlerDefV10"))),
        ("HttpRoutes", array(ref("RawHttpRouteDefV10"))),
        ("ViewPrimaryKeys", array(ref("RawViewPrimaryKeyDefV10"))),
        ("Submodules", array(ref("RawSubmoduleV10"))),
    ]
    if tuple(n for n, _ in section_payloads) != SECTION_NAMES:
        raise AssertionError("section names out of order")
    b.define(
        "RawModuleDefV10Section",
        sum_of(section_payloads),
        SumBinding(
            tuple(_tupled(cls) for cls in SECTION_CLASSES),
            _unwrap_section,
        ),
    )
    b.product(
        "RawModuleDefV10", RawModuleDefV10, [("sections", array(ref("RawModuleDefV10Section")))]
    )
    return b.finish()


def _unwrap_method(m: Any) -> tuple[int, Any]:
    if isinstance(m, HttpMethod):
        return m.value, ()
    if isinstance(m, HttpMethodExtension):
        return 9, m.name
    raise TypeError(f"expected HttpMethod or HttpMethodExtension, got {m!r}")


def _unwrap_section(section: Any) -> tuple[int, Any]:
    cls = type(section)
    if cls not in SECTION_CLASSES:
        raise TypeError(f"not a RawModuleDefV10 section: {section!r}")
    field = dataclasses.fields(section)[0].name
    return int(cls.TAG), getattr(section, field)


@dataclass(frozen=True)
class MetaCodecs:
    """The meta typespace and the BSATN codecs compiled from it."""

    typespace: Typespace
    bindings: dict[int, Binding]
    refs: dict[str, int]
    v9: BsatnCodec[RawModuleDefV9]
    v10: BsatnCodec[RawModuleDefV10]
    algebraic_type: BsatnCodec[AlgebraicType]


@functools.cache
def meta_codecs() -> MetaCodecs:
    """The meta typespace and its codecs, built once on first use."""
    ts, bindings, refs = _build_meta()
    return MetaCodecs(
        ts,
        bindings,
        refs,
        compile_codec(RefType(refs["RawModuleDefV9"]), ts, bindings),
        compile_codec(RefType(refs["RawModuleDefV10"]), ts, bindings),
        compile_codec(RefType(refs["AlgebraicType"]), ts, bindings),
    )


def meta_typespace() -> tuple[Typespace, dict[str, int]]:
    """The SATS description of the module-definition types: the typespace and ``name -> ref``."""
    meta = meta_codecs()
    return meta.typespace, dict(meta.refs)


def algebraic_type_codec() -> BsatnCodec[AlgebraicType]:
    """The BSATN codec of ``AlgebraicType`` itself (bound to the ``algebraic_type`` classes)."""
    return meta_codecs().algebraic_type
