"""Validation of a module definition: the checks V9 and V10 share, in :class:`SchemaValidator`.

Problems are collected rather than raised one by one, so a rejected definition reports every
problem at once in a :class:`ModuleValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise

from spacetimedb_sdk.algebraic_type import (
    U64,
    UNIT,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    special_kind,
)
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.errors import ModuleDefError, SpacetimeDBError
from spacetimedb_sdk.raw_module_def import (
    CaseConversionPolicy,
    RawIndexAlgorithm,
    RawIndexAlgorithmDirect,
    RawSequenceDefV9,
    RawUniqueConstraintDataV9,
)
from spacetimedb_sdk.schema.model import (
    ColumnSchema,
    IndexSchema,
    ParamSchema,
    ScheduleSchema,
    ScopedTypeName,
    SequenceSchema,
    TypeSchema,
    UniqueConstraintSchema,
    ViewReturnShape,
    ViewSchema,
)
from spacetimedb_sdk.schema.naming import (
    algorithm_parts,
    convert_name,
    generate_sequence_name,
    is_valid_identifier,
)
from spacetimedb_sdk.schema.type_use import TypeUseChecker, type_label

__all__ = ["QUERY_VIEW_RETURN_TAG", "ModuleValidationError", "SchemaValidator", "check_ident"]

#: The single element name marking a query view's return type (a product wrapping the row ref).
QUERY_VIEW_RETURN_TAG = "__query__"


class ModuleValidationError(ModuleDefError):
    """The module definition is invalid; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        listing = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"invalid module definition ({len(self.errors)} error(s)):\n{listing}")


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


class _Names:
    """The server's global namespace of table-level names (docs/module-def.md#canonicalisation, step 9)."""

    def __init__(self, errors: list[str]) -> None:
        self.seen: set[str] = set()
        self.errors = errors

    def add(self, name: str, what: str) -> None:
        if name in self.seen:
            self.errors.append(f"duplicate name {name!r} ({what})")
        else:
            self.seen.add(name)


def check_ident(name: str, what: str, errors: list[str]) -> str:
    """``name``, after recording an error if it is not a valid identifier."""
    if not is_valid_identifier(name):
        errors.append(f"{what} {name!r} is not a valid identifier")
    return name


class SchemaValidator:
    """Shared validation for V9 and V10 (the canonicalisation steps that do not differ)."""

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
        self.uses = TypeUseChecker(raw_typespace, definitions, self.errors)

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
            check_ident(a.name, f"{owner}: column", self.errors)
            check_ident(c.name, f"{owner}: canonical column name", self.errors)
            self.uses.use(a.algebraic_type, f"{owner}, column {a.name!r}")
            out.append(ColumnSchema(c.name, a.name, c.algebraic_type, i))
        return tuple(out)

    def params(self, owner: str, params: ProductType) -> tuple[ParamSchema, ...]:
        out: list[ParamSchema] = []
        for i, el in enumerate(params.elements):
            if el.name is None:
                self.errors.append(f"{owner}: parameter {i} has no name")
                continue
            canonical = check_ident(
                convert_name(el.name, self.policy), f"{owner}: parameter", self.errors
            )
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
        kind, cols = algorithm_parts(algorithm)
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
            check_ident(accessor_name, f"table {table!r}: index accessor", self.errors)
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
            seq.name if seq.name is not None else generate_sequence_name(table, product, seq.column)
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
        check_ident(name, "schedule name", self.errors)
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
            check_ident(part, "type name segment", self.errors)
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

    def view(
        self,
        *,
        name: str,
        accessor_name: str,
        index: int,
        is_public: bool,
        is_anonymous: bool,
        params: ProductType,
        return_type: AlgebraicType,
    ) -> ViewSchema | None:
        """A view's schema (no primary key yet), or None after recording why it is invalid."""
        where = f"view {accessor_name!r}"
        shape = _view_return(return_type)
        if shape is None:
            self.errors.append(
                f"{where}: return type {type_label(return_type)} must be Option<T>, Vec<T> or a query"
            )
            return None
        ref, kind = shape
        row = self.product_at(ref, self.ts)
        if row is None or self.product_at(ref, self.raw_ts) is None:
            self.errors.append(f"{where}: Ref({ref}) does not point at a product type")
            return None
        param_schemas = self.params(where, params)
        self.uses.use(
            ArrayType(RefType(ref)) if kind == "query" else return_type, f"{where}, return type"
        )
        self.names.add(name, "view")
        columns = self.columns(where, ref)
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
