"""``RemoteModule``: what a bindings package (generated or built at run time) gives the runtime."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from spacetimedb_sdk.bsatn import Bindings
from spacetimedb_sdk.schema import ModuleSchema

__all__ = ["RemoteModule"]


@dataclass(frozen=True, eq=False)
class RemoteModule:
    """A module's schema plus the Python classes its rows and types decode into.

    ``bindings`` maps typespace indices to :class:`~spacetimedb_sdk.bsatn.ProductBinding` /
    :class:`~spacetimedb_sdk.bsatn.SumBinding`; tables whose row type has no binding decode
    rows to ``dict``. ``row_classes`` maps canonical table/view names to row classes (for
    typing and introspection; decoding goes through ``bindings``).
    """

    schema: ModuleSchema
    bindings: Bindings = field(default_factory=dict)
    row_classes: Mapping[str, type] = field(default_factory=dict)
    #: Version of spacetimedb-sdk that generated the bindings ("" for run-time modules).
    cli_version: str = ""

    @classmethod
    def from_schema(cls, schema: ModuleSchema) -> RemoteModule:
        """A module without generated classes: rows are dicts, sums are ``SumValue``."""
        return cls(schema)
