"""Names: identifier rules, case conversion of names and typespaces, and server-generated names."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from spacetimedb_sdk.algebraic_type import (
    CONNECTION_ID,
    IDENTITY,
    TIME_DURATION,
    TIMESTAMP,
    UUID,
    AlgebraicType,
    ArrayType,
    ProductType,
    ProductTypeElement,
    SumType,
    SumTypeVariant,
    Typespace,
    special_kind,
)
from spacetimedb_sdk.case_conversion import to_camel_case, to_pascal_case, to_snake_case
from spacetimedb_sdk.raw_module_def import (
    CaseConversionPolicy,
    RawIndexAlgorithm,
    RawIndexAlgorithmBTree,
    RawIndexAlgorithmHash,
)
from spacetimedb_sdk.schema.model import IndexAlgorithmKind

__all__ = [
    "SPECIAL_PRODUCTS",
    "algorithm_parts",
    "convert_name",
    "convert_type_name",
    "convert_typespace",
    "generate_constraint_name",
    "generate_index_name",
    "generate_sequence_name",
    "is_special",
    "is_valid_identifier",
]


def is_valid_identifier(name: str) -> bool:
    """Non-empty, NFC, XID_Start or ``_`` then XID_Continue (docs/module-def.md#identifiers)."""
    return bool(name) and unicodedata.is_normalized("NFC", name) and name.isidentifier()


def convert_name(name: str, policy: CaseConversionPolicy) -> str:
    """The canonical form of a table, function, column or parameter name under ``policy``."""
    return to_snake_case(name) if policy is CaseConversionPolicy.SNAKE_CASE else name


def _convert_variant(name: str, policy: CaseConversionPolicy) -> str:
    return to_camel_case(name) if policy is CaseConversionPolicy.SNAKE_CASE else name


def convert_type_name(name: str, policy: CaseConversionPolicy) -> str:
    """The canonical form of one segment of a type name under ``policy``."""
    return to_pascal_case(name) if policy is CaseConversionPolicy.SNAKE_CASE else name


#: The special product types (Identity, ConnectionId, Timestamp, TimeDuration, Uuid).
SPECIAL_PRODUCTS = frozenset((IDENTITY, CONNECTION_ID, TIMESTAMP, TIME_DURATION, UUID))


def is_special(ty: AlgebraicType) -> bool:
    """The server's ``is_special``: the five special products and Option/Result/ScheduleAt."""
    if isinstance(ty, ProductType):
        return ty in SPECIAL_PRODUCTS
    if isinstance(ty, SumType):
        return special_kind(ty) in ("option", "result", "schedule_at")
    return False


def _convert_type(ty: AlgebraicType, policy: CaseConversionPolicy) -> AlgebraicType:
    if is_special(ty):
        return ty
    if isinstance(ty, ProductType):
        return ProductType(
            tuple(
                ProductTypeElement(
                    None if e.name is None else convert_name(e.name, policy),
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
    """The canonical typespace (docs/module-def.md#canonicalisation, step 2): element names ``convert``-ed, variants camelCased."""
    if policy is CaseConversionPolicy.NONE:
        return typespace
    return Typespace(tuple(_convert_type(t, policy) for t in typespace.types))


def _column_name(product: ProductType, col: int) -> str:
    if 0 <= col < len(product.elements):
        name = product.elements[col].name
        if name is not None:
            return name
    return f"col_{col}"


def algorithm_parts(algorithm: RawIndexAlgorithm) -> tuple[IndexAlgorithmKind, tuple[int, ...]]:
    """The kind and column list of an index algorithm."""
    if isinstance(algorithm, RawIndexAlgorithmBTree):
        return "btree", algorithm.columns
    if isinstance(algorithm, RawIndexAlgorithmHash):
        return "hash", algorithm.columns
    return "direct", (algorithm.column,)


def generate_index_name(table: str, product: ProductType, algorithm: RawIndexAlgorithm) -> str:
    """The name the server gives an index: ``{table}_{columns}_idx_{kind}``."""
    kind, cols = algorithm_parts(algorithm)
    return f"{table}_{'_'.join(_column_name(product, c) for c in cols)}_idx_{kind}"


def generate_constraint_name(table: str, product: ProductType, cols: Sequence[int]) -> str:
    """The name the server gives a unique constraint: ``{table}_{columns}_key``."""
    return f"{table}_{'_'.join(_column_name(product, c) for c in cols)}_key"


def generate_sequence_name(table: str, product: ProductType, col: int) -> str:
    """The name the server gives a sequence: ``{table}_{column}_seq``."""
    return f"{table}_{_column_name(product, col)}_seq"
