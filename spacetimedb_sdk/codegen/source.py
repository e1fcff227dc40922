"""The generator's input: a raw module definition plus where it came from.

:func:`module_def_from_bytes` accepts every form a module def travels in: the BSATN of a
``RawModuleDef`` (what ``__describe_module__`` writes), and SATS-JSON either enum-wrapped
(``{"V10": ...}`` / ``{"V9": ...}``, as ``spacetime describe --json`` and ``extract-schema``
print it) or bare (``{"sections": [...]}`` / the V9 object, as the schema endpoint serves it).
A bare V10 body without a ``CaseConversionPolicy`` section is a server re-export, whose names
are already canonical (docs/module-def.md#canonical-re-export); everything else is read as a module's own output.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from spacetimedb_sdk.codegen.errors import CodegenError
from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.raw_module_def import (
    CaseConversionPolicySection,
    RawModuleDef,
    RawModuleDefV9,
    RawModuleDefV10,
    decode_raw_module_def,
    raw_module_def_from_json,
)
from spacetimedb_sdk.schema import ModuleSchema

__all__ = ["ModuleDefSource", "load_module_def_file", "module_def_from_bytes"]


@dataclass(frozen=True)
class ModuleDefSource:
    """A raw module def ready for code generation."""

    raw: RawModuleDef
    #: True when the names are already canonical (a server re-export).
    canonical: bool
    #: What it was read from, for the generated-file header ("module def file x.json").
    origin: str
    #: A short name for the module, for docstrings.
    name: str
    #: sha256 of the bytes it was read from.
    digest: str

    @property
    def version(self) -> int:
        """9 or 10."""
        return 10 if isinstance(self.raw, RawModuleDefV10) else 9

    @cached_property
    def schema(self) -> ModuleSchema:
        """The validated, canonical schema (raises ModuleDefError when invalid)."""
        return ModuleSchema.from_raw(self.raw, canonical=self.canonical)

    @property
    def description(self) -> str:
        """Version and digest, for the header (``RawModuleDef V10 (sha256 …)``)."""
        return f"RawModuleDef V{self.version} (sha256 {self.digest[:12]})"


def _looks_like_json(data: bytes) -> bool:
    stripped = data.lstrip(b" \t\r\n\xef\xbb\xbf")
    return stripped[:1] == b"{"


def module_def_from_json_value(obj: Any, *, origin: str, name: str, digest: str) -> ModuleDefSource:
    """A source from an already parsed SATS-JSON module def (any accepted form)."""
    raw = raw_module_def_from_json(obj)
    canonical = isinstance(raw, RawModuleDefV9) or (
        isinstance(obj, dict)
        and "sections" in obj
        and isinstance(raw, RawModuleDefV10)
        and raw.section(CaseConversionPolicySection) is None
    )
    return ModuleDefSource(raw, canonical, origin, name, digest)


def module_def_from_bytes(data: bytes, *, origin: str, name: str) -> ModuleDefSource:
    """Read BSATN or SATS-JSON bytes (see the module docstring for the accepted forms)."""
    digest = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise CodegenError(f"{origin} is empty")
    try:
        if _looks_like_json(data):
            try:
                obj = json.loads(data.decode("utf-8-sig"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise CodegenError(f"{origin} is not valid JSON: {exc}") from exc
            return module_def_from_json_value(obj, origin=origin, name=name, digest=digest)
        raw = decode_raw_module_def(data)
    except CodegenError:
        raise
    except SpacetimeDBError as exc:
        raise CodegenError(f"{origin} is not a module definition: {_one_line(exc)}") from exc
    canonical = isinstance(raw, RawModuleDefV9)
    return ModuleDefSource(raw, canonical, origin, name, digest)


def module_name_from_path(path: Path) -> str:
    """``chat.moduledef.json`` → ``chat``."""
    return path.name.split(".")[0] or path.name


def load_module_def_file(path: str | Path) -> ModuleDefSource:
    """Read a module def file (``--module-def``)."""
    p = Path(path)
    origin = f"module def file {p.name}"
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise CodegenError(f"module def file not found: {p}") from None
    except IsADirectoryError:
        raise CodegenError(f"module def path is a directory, not a file: {p}") from None
    except OSError as exc:
        raise CodegenError(f"cannot read module def file {p}: {exc.strerror or exc}") from exc
    return module_def_from_bytes(data, origin=origin, name=module_name_from_path(p))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
