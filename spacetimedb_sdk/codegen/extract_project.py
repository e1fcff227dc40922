"""Obtain a module def from a module project directory (``--project-path``).

* A Python module for the local server (a package directory with ``__init__.py``, or a single
  ``.py`` file) is imported and described with :func:`spacetimedb_sdk.module.describe_module`.
* A Rust, C#, TypeScript or C++ project is built with ``spacetime build`` when that CLI is
  installed; the newest artifact it produced (``.wasm`` or ``dist/bundle.js``) is then described
  like ``--bin-path`` does.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from spacetimedb_sdk.codegen.errors import CodegenError
from spacetimedb_sdk.codegen.source import ModuleDefSource
from spacetimedb_sdk.errors import SpacetimeDBError

__all__ = ["detect_project_language", "extract_project_module_def"]

_BUILD_TIMEOUT_SECONDS: Final = 1800
_OTHER_SOURCES: Final = "--module-def FILE, --bin-path FILE or --server URL --database NAME"


def detect_project_language(path: Path) -> str | None:
    """``python``, ``rust``, ``csharp``, ``typescript``, ``cpp`` or None."""
    if path.is_file():
        return "python" if path.suffix == ".py" else None
    if (path / "__init__.py").is_file():
        return "python"
    if (path / "Cargo.toml").is_file():
        return "rust"
    if any(path.glob("*.csproj")):
        return "csharp"
    if (path / "package.json").is_file():
        return "typescript"
    if (path / "CMakeLists.txt").is_file():
        return "cpp"
    return None


def _describe_python(path: Path) -> ModuleDefSource:
    from spacetimedb_sdk.local_server.module_loader import load_module
    from spacetimedb_sdk.module import describe_module
    from spacetimedb_sdk.raw_module_def import encode_raw_module_def

    try:
        module = load_module(path)
    except Exception as exc:  # the loader's own errors, or whatever the module's code raised
        detail = str(exc) if isinstance(exc, SpacetimeDBError) else f"{type(exc).__name__}: {exc}"
        raise CodegenError(
            f"importing the Python module at {path} failed: {' '.join(detail.split())}"
        ) from exc
    try:
        raw = describe_module(module)
    except SpacetimeDBError as exc:
        raise CodegenError(
            f"cannot describe the Python module at {path}: {' '.join(str(exc).split())}"
        ) from exc
    name = path.stem if path.is_file() else path.name
    digest = hashlib.sha256(encode_raw_module_def(raw)).hexdigest()
    return ModuleDefSource(raw, False, f"Python module {name}", name, digest)


def _artifact_candidates(path: Path, language: str) -> Iterable[Path]:
    if language == "typescript":
        yield from path.glob("dist/*.js")
    elif language == "rust":
        # Cargo may put the target directory in an enclosing workspace.
        for root in (path, *path.parents):
            release = root / "target" / "wasm32-unknown-unknown"
            if release.is_dir():
                yield from release.glob("*/*.wasm")
                break
    elif language == "csharp":
        yield from path.glob("bin/*/*/wasi-wasm/AppBundle/*.wasm")
    else:
        yield from path.glob("build/**/*.wasm")


def _build(path: Path, language: str) -> Path:
    spacetime = shutil.which("spacetime")
    if spacetime is None:
        raise CodegenError(
            f"{path} is a {language} module project; building it needs the `spacetime` CLI, "
            f"which was not found on PATH (or use {_OTHER_SOURCES})"
        )
    started = time.time()
    try:
        proc = subprocess.run(
            [spacetime, "build", "-p", str(path)],
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CodegenError(f"`spacetime build` of {path} did not finish in time") from None
    except OSError as exc:
        raise CodegenError(f"cannot run `spacetime build`: {exc.strerror or exc}") from exc
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        detail = next((ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else "")
        raise CodegenError(f"`spacetime build` of {path} failed: {detail or 'no output'}")
    artifacts = [
        p for p in _artifact_candidates(path, language) if p.stat().st_mtime >= started - 1
    ]
    if not artifacts:
        artifacts = list(_artifact_candidates(path, language))
    if not artifacts:
        raise CodegenError(
            f"`spacetime build` of {path} succeeded but no module artifact was found; "
            "pass it with --bin-path"
        )
    return max(artifacts, key=lambda p: (p.stat().st_mtime, p.name.endswith(".opt.wasm")))


def extract_project_module_def(path: str | Path) -> ModuleDefSource:
    """The module def of the project at ``path``."""
    p = Path(path)
    if not p.exists():
        raise CodegenError(f"project path not found: {p}")
    language = detect_project_language(p)
    if language is None:
        raise CodegenError(
            f"{p} is not a module project (no __init__.py, Cargo.toml, *.csproj, package.json "
            f"or CMakeLists.txt); use {_OTHER_SOURCES}"
        )
    if language == "python":
        return _describe_python(p)
    artifact = _build(p, language)
    if artifact.suffix == ".js":
        from spacetimedb_sdk.codegen.extract_js import extract_js_module_def

        return extract_js_module_def(artifact)
    from spacetimedb_sdk.codegen.extract_wasm import extract_wasm_module_def

    return extract_wasm_module_def(artifact)
