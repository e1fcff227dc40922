"""The error the code generator reports: one clear line, turned into a non-zero exit."""

from __future__ import annotations

from spacetimedb_sdk.errors import SpacetimeDBError

__all__ = ["CodegenError"]


class CodegenError(SpacetimeDBError):
    """Generation failed: a missing or unreadable source, a bad module def, a file conflict."""
