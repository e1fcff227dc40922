"""Load a Python module file or package directory by path, under a unique module name.

Modules are imported by file location, so they need not be on ``sys.path``; a package directory
(with ``__init__.py``) may use relative imports of its own submodules. Each load gets a fresh
name, so the same path can be hosted twice (e.g. two databases) without sharing state.

Whatever the module's top-level code raises (``sys.exit()`` and ``KeyboardInterrupt`` included)
becomes a :class:`ModuleLoadError` naming the module, so a bad module can never end the process
that hosts it.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
from pathlib import Path
from types import ModuleType

from spacetimedb_sdk.errors import ModuleDefError

__all__ = ["ModuleLoadError", "load_module"]

_counter = itertools.count(1)


class ModuleLoadError(ModuleDefError):
    """A module's top-level code failed (or tried to exit) while being imported."""


def _import_failure(location: Path, exc: BaseException) -> ModuleLoadError:
    if isinstance(exc, SystemExit):
        return ModuleLoadError(f"module {location} called sys.exit() during import")
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return ModuleLoadError(f"module {location} failed to import: {detail}")


def load_module(path: str | Path) -> ModuleType:
    """Import the module at ``path`` (a ``.py`` file or a package directory)."""
    location = Path(path).resolve()
    if location.is_dir():
        init = location / "__init__.py"
        if not init.is_file():
            raise ModuleLoadError(f"{location} is a directory without __init__.py")
        file, search = init, [str(location)]
        stem = location.name
    elif location.is_file():
        file, search, stem = location, None, location.stem
    else:
        raise ModuleLoadError(f"no module at {location}")
    safe = re.sub(r"\W", "_", stem) or "module"
    name = f"_stdb_module_{next(_counter)}_{safe}"
    spec = importlib.util.spec_from_file_location(name, file, submodule_search_locations=search)
    if spec is None or spec.loader is None:
        raise ModuleLoadError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ModuleDefError:
        sys.modules.pop(name, None)
        raise
    except BaseException as exc:  # module code must not end the server, whatever it raises
        sys.modules.pop(name, None)
        raise _import_failure(location, exc) from exc
    return module
