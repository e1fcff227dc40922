"""The normalised module schema used by codegen, the client runtime and the local server.

:class:`ModuleSchema` is built from a ``RawModuleDefV9`` or ``RawModuleDefV10`` by the same
validation and canonicalisation the server performs (docs/module-def.md#canonicalisation):

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
canonical: its typespace and type names are used as they are (docs/module-def.md#canonical-re-export; camel
and Pascal conversion are not idempotent, e.g. ``aX`` → ``AX`` → ``Ax``), which
:meth:`ModuleSchema.from_json` does by default for that form.

:meth:`ModuleSchema.to_raw_v10` and :meth:`ModuleSchema.to_raw_v9` re-export the canonical def
exactly as the schema endpoint does.

Where things live: :mod:`.model` (the parts: tables, columns, functions, types),
:mod:`.module_schema` (:class:`ModuleSchema` and its lookups), :mod:`.naming` (identifiers, case
conversion, generated names), :mod:`.validation` and :mod:`.type_use` (the shared checks),
:mod:`.links` (checks across parts), :mod:`.build_v10` and :mod:`.build_v9` (one builder per raw
version) and :mod:`.export` (back to a raw def).
"""

from __future__ import annotations

from spacetimedb_sdk.schema.model import (
    ColumnSchema,
    FunctionKind,
    HttpHandlerSchema,
    HttpRouteSchema,
    IndexAlgorithmKind,
    IndexSchema,
    ParamSchema,
    ProcedureSchema,
    ReducerSchema,
    ScheduleSchema,
    ScopedTypeName,
    SequenceSchema,
    SubmoduleSchema,
    TableSchema,
    TypeSchema,
    UniqueConstraintSchema,
    ViewReturnShape,
    ViewSchema,
)
from spacetimedb_sdk.schema.module_schema import ModuleSchema
from spacetimedb_sdk.schema.naming import convert_typespace, is_valid_identifier
from spacetimedb_sdk.schema.validation import ModuleValidationError

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
