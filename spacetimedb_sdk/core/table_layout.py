"""What the client cache needs to know about one table, compiled once per module.

A :class:`TableLayout` holds the table's row codec (bound to the generated row class, if any),
its primary key, its unique and B-tree indexes, and a *key extractor* per key: a function from a
row's BSATN bytes to the key value. Extractors read only the key columns: a column whose byte
offset is fixed (every column before it is fixed-width) is decoded in place; otherwise the row is
decoded up to the last key column and no further. So keys can be computed for rows that were
never decoded (the cache decodes rows lazily).

:func:`compile_module` builds every layout of a module once and memoises the result per
``(schema, bindings)`` pair.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
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
from spacetimedb_sdk.bsatn import Bindings, BsatnCodec, compile_codec
from spacetimedb_sdk.core.call_codecs import CallCodecs
from spacetimedb_sdk.core.key_order import OrderKey, order_key
from spacetimedb_sdk.schema import ModuleSchema, TableSchema, ViewSchema
from spacetimedb_sdk.schema.accessors import IndexAccessor, index_accessors

__all__ = [
    "CompiledModule",
    "IndexLayout",
    "KeyExtractor",
    "TableLayout",
    "compile_module",
]

#: Maps a row's BSATN bytes to a key value (one column's value, or a tuple for several).
KeyExtractor = Callable[[bytes], Any]


@dataclass(frozen=True)
class IndexLayout:
    """One index the client cache can maintain: its names, columns and key extractor."""

    #: Canonical index name (or a synthetic ``<table>_<cols>_unique`` for unique constraints).
    name: str
    #: Other names the index may be asked for by (source name, accessor name, column name).
    aliases: tuple[str, ...]
    columns: tuple[int, ...]
    column_names: tuple[str, ...]
    unique: bool
    key_of: KeyExtractor
    #: Per column: its value's stand-in in the server's order (:mod:`.key_order`), or None
    #: where the value already orders that way.
    order_keys: tuple[OrderKey | None, ...]


@dataclass(frozen=True)
class TableLayout:
    """Everything the cache and the dispatcher need for one table or view."""

    name: str
    accessor_name: str
    row_type: ProductType
    codec: BsatnCodec[Any]
    is_event: bool
    is_view: bool
    primary_key: int | None
    #: Primary-key extractor (None when the table has no primary key).
    pk_of: KeyExtractor | None
    indexes: tuple[IndexLayout, ...]
    #: Column accessor names (module source), and the attribute each column has on a row
    #: object of the bound class (the canonical name for dict rows).
    accessor_columns: tuple[str, ...] = ()
    row_attrs: tuple[str, ...] = ()
    #: The handle's index accessors (:mod:`spacetimedb_sdk.schema.accessors`): name -> the
    #: accessor's kind and target (canonical column or index name).
    accessors: dict[str, IndexAccessor] = field(default_factory=dict, repr=False)
    #: Row bytes -> a value equal for two rows exactly when their primary keys are (pairs
    #: updates): the key's own bytes when it has a fixed offset and size, sliced in C.
    update_key_of: KeyExtractor | None = None
    _by_name: dict[str, IndexLayout] = field(default_factory=dict, repr=False)

    def index(self, name: str) -> IndexLayout:
        """An index by canonical name, source name, accessor name or (single) column name."""
        found = self._by_name.get(name)
        if found is None:
            raise KeyError(f"table {self.name!r} has no index {name!r}")
        return found

    def unique_index_on(self, column: str) -> IndexLayout:
        """The unique index whose only column is ``column`` (canonical or accessor name)."""
        for ix in self.indexes:
            if ix.unique and len(ix.columns) == 1 and column in ix.aliases:
                return ix
        raise KeyError(f"table {self.name!r} has no unique index on column {column!r}")


@dataclass(frozen=True)
class CompiledModule:
    """The layouts of every table and view of a module (by canonical and accessor name), and
    the codecs of its reducers and procedures."""

    schema: ModuleSchema
    bindings: Bindings
    tables: dict[str, TableLayout]
    calls: CallCodecs

    def find(self, name: str) -> TableLayout | None:
        """The layout for a table or view name as it appears on the wire, or None."""
        return self.tables.get(name)


# ------------------------------------------------------------------------------------ compiling


def key_extractor(
    row_type: ProductType,
    columns: tuple[int, ...],
    typespace: Typespace,
    bindings: Bindings,
) -> KeyExtractor:
    """A function from row bytes to the value of ``columns`` (a tuple when several)."""
    elements = row_type.elements
    last = max(columns)
    offsets: list[int | None] = []
    pos: int | None = 0
    for el in elements[: last + 1]:
        offsets.append(pos)
        size = compile_codec(el.algebraic_type, typespace).fixed_size
        pos = None if pos is None or size is None else pos + size
    fixed = [offsets[c] for c in columns]
    if all(off is not None for off in fixed):
        readers = [
            (compile_codec(elements[c].algebraic_type, typespace, bindings).decode_from, off or 0)
            for c, off in zip(columns, fixed, strict=True)
        ]
        if len(readers) == 1:
            ((decode_from, offset),) = readers

            def single(row: bytes) -> Any:
                return decode_from(row, offset)[0]

            return single

        def several(row: bytes) -> Any:
            return tuple(decode_from(row, off)[0] for decode_from, off in readers)

        return several
    # Some key column sits behind a variable-width column: decode the prefix up to it.
    prefix = ProductType(elements[: last + 1])
    decode_prefix = compile_codec(prefix, typespace, bindings).decode_from
    names = [elements[c].name or str(c) for c in columns]
    if len(names) == 1:
        (only,) = names

        def from_prefix(row: bytes) -> Any:
            return decode_prefix(row, 0)[0][only]

        return from_prefix

    def from_prefix_tuple(row: bytes) -> Any:
        values = decode_prefix(row, 0)[0]
        return tuple(values[n] for n in names)

    return from_prefix_tuple


def _update_key(
    row_type: ProductType,
    pk: int,
    typespace: Typespace,
    extractor: Callable[[tuple[int, ...]], KeyExtractor],
) -> KeyExtractor:
    # BSATN is canonical for every key type but floats (-0.0, NaNs), which keys never are;
    # still, a float anywhere in the key keeps the decoded value.
    start: int | None = 0
    for el in row_type.elements[:pk]:
        size = compile_codec(el.algebraic_type, typespace).fixed_size
        start = None if start is None or size is None else start + size
    key_type = row_type.elements[pk].algebraic_type
    size = compile_codec(key_type, typespace).fixed_size
    if start is None or not size or _has_float(key_type, typespace):
        return extractor((pk,))
    return itemgetter(slice(start, start + size))


def _has_float(ty: AlgebraicType, typespace: Typespace, seen: frozenset[int] = frozenset()) -> bool:
    if isinstance(ty, RefType):
        if ty.index in seen:
            return False
        return _has_float(typespace.resolve(ty), typespace, seen | {ty.index})
    if isinstance(ty, PrimitiveType):
        return ty.name in ("F32", "F64")
    if isinstance(ty, ProductType):
        return any(_has_float(el.algebraic_type, typespace, seen) for el in ty.elements)
    if isinstance(ty, SumType):
        return any(_has_float(v.algebraic_type, typespace, seen) for v in ty.variants)
    if isinstance(ty, ArrayType):
        return _has_float(ty.element, typespace, seen)
    return False


def _table_layout(
    info: TableSchema | ViewSchema, schema: ModuleSchema, bindings: Bindings
) -> TableLayout:
    typespace = schema.typespace
    row_type = info.row_type
    codec = compile_codec(RefType(info.product_type_ref), typespace, bindings)
    col_names = [c.name for c in info.columns]
    accessor_names = [c.accessor_name for c in info.columns]
    extractors: dict[tuple[int, ...], KeyExtractor] = {}

    def extractor(cols: tuple[int, ...]) -> KeyExtractor:
        if cols not in extractors:
            extractors[cols] = key_extractor(row_type, cols, typespace, bindings)
        return extractors[cols]

    def order_keys(cols: tuple[int, ...]) -> tuple[OrderKey | None, ...]:
        return tuple(
            order_key(row_type.elements[c].algebraic_type, typespace, bindings) for c in cols
        )

    indexes: list[IndexLayout] = []
    unique_sets: set[tuple[int, ...]] = set()
    if isinstance(info, TableSchema):
        unique_sets = {tuple(sorted(c.columns)) for c in info.constraints}
        if info.primary_key is not None:
            unique_sets.add((info.primary_key,))
        for ix in info.indexes:
            cols = tuple(ix.columns)
            aliases = [ix.name, ix.source_name]
            if ix.accessor_name:
                aliases.append(ix.accessor_name)
            if len(cols) == 1:
                aliases += [col_names[cols[0]], accessor_names[cols[0]]]
            indexes.append(
                IndexLayout(
                    name=ix.name,
                    aliases=tuple(dict.fromkeys(aliases)),
                    columns=cols,
                    column_names=tuple(col_names[c] for c in cols),
                    unique=tuple(sorted(cols)) in unique_sets,
                    key_of=extractor(cols),
                    order_keys=order_keys(cols),
                )
            )
    # Unique constraints without an index of their own (and a view's primary key) still get a
    # hashed unique index, so `find` never scans.
    covered = {tuple(sorted(ix.columns)) for ix in indexes if ix.unique}
    if info.primary_key is not None:
        unique_sets.add((info.primary_key,))
    for cols in sorted(unique_sets - covered):
        aliases = [f"{info.name}_{'_'.join(col_names[c] for c in cols)}_unique"]
        if len(cols) == 1:
            aliases += [col_names[cols[0]], accessor_names[cols[0]]]
        indexes.append(
            IndexLayout(
                name=aliases[0],
                aliases=tuple(dict.fromkeys(aliases)),
                columns=cols,
                column_names=tuple(col_names[c] for c in cols),
                unique=True,
                key_of=extractor(cols),
                order_keys=order_keys(cols),
            )
        )
    by_name: dict[str, IndexLayout] = {}
    for built in indexes:  # canonical names first, then the aliases
        by_name.setdefault(built.name, built)
    for built in indexes:
        for alias in built.aliases:
            # A column name may belong to a unique and a plain index: prefer the unique one.
            current = by_name.get(alias)
            if current is None or (built.unique and not current.unique):
                by_name[alias] = built
    pk = info.primary_key
    binding = bindings.get(info.product_type_ref)
    attrs = getattr(binding, "attrs", None)
    row_attrs = tuple(attrs) if attrs and len(attrs) == len(col_names) else tuple(col_names)
    return TableLayout(
        name=info.name,
        accessor_name=info.accessor_name,
        row_type=row_type,
        codec=codec,
        is_event=isinstance(info, TableSchema) and info.is_event,
        is_view=isinstance(info, ViewSchema),
        primary_key=pk,
        pk_of=None if pk is None else extractor((pk,)),
        update_key_of=None if pk is None else _update_key(row_type, pk, typespace, extractor),
        indexes=tuple(indexes),
        accessor_columns=tuple(accessor_names),
        row_attrs=row_attrs,
        accessors=_accessors(info, typespace),
        _by_name=by_name,
    )


def _accessors(info: TableSchema | ViewSchema, typespace: Typespace) -> dict[str, IndexAccessor]:
    if not isinstance(info, TableSchema):
        return {}

    def is_plain_enum(ty: AlgebraicType) -> bool:
        seen: set[int] = set()
        while isinstance(ty, RefType) and ty.index not in seen:
            seen.add(ty.index)
            if not 0 <= ty.index < len(typespace.types):
                return False
            ty = typespace.types[ty.index]
        return isinstance(ty, SumType) and special_kind(ty) is None and ty.is_plain_enum()

    return {a.name: a for a in index_accessors(info, is_plain_enum)}


_NO_BINDINGS: Bindings = {}
_COMPILED: dict[tuple[int, int], tuple[ModuleSchema, Bindings, CompiledModule]] = {}
_COMPILED_LOCK = threading.Lock()


def compile_module(schema: ModuleSchema, bindings: Bindings | None = None) -> CompiledModule:
    """Compile (or fetch) the table layouts of ``schema`` decoding into ``bindings``' classes."""
    binds: Bindings = bindings if bindings else _NO_BINDINGS
    key = (id(schema), id(binds))
    with _COMPILED_LOCK:
        hit = _COMPILED.get(key)
        if hit is not None and hit[0] is schema and hit[1] is binds:
            return hit[2]
    tables: dict[str, TableLayout] = {}
    infos: list[TableSchema | ViewSchema] = [*schema.tables, *schema.views]
    for info in infos:
        layout = _table_layout(info, schema, binds)
        tables.setdefault(layout.name, layout)
    for layout in list(tables.values()):
        tables.setdefault(layout.accessor_name, layout)
    compiled = CompiledModule(schema, binds, tables, CallCodecs(schema, binds))
    with _COMPILED_LOCK:
        _COMPILED[key] = (schema, binds, compiled)
    return compiled
