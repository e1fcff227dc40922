"""Extract the module def from a JavaScript bundle (TypeScript modules), docs/module-def.md#javascript-bundles.

Node.js loads the bundle with an ES-module resolve hook that maps ``spacetime:sys@2.0`` and
``spacetime:sys@2.1`` to small shim modules (the ``moduleHooks`` symbol plus syscall stubs
that throw), then runs what the host runs: ``default[moduleHooks](namespace)`` and
``hooks.__describe_module__()``. The returned bytes are the BSATN ``RawModuleDef``.

The scripts are written to a temporary directory for each run. Node 20.6+ is needed
(``module.register``); bundles using ``using`` declarations need a Node that supports them,
or down-levelling (e.g. esbuild ``--target=node20``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

from spacetimedb_sdk.codegen.errors import CodegenError
from spacetimedb_sdk.codegen.source import (
    ModuleDefSource,
    module_def_from_bytes,
    module_name_from_path,
)

__all__ = ["extract_js_module_def", "module_def_bytes_from_js"]

_TIMEOUT_SECONDS: Final = 120

_SYSCALLS_2_0: Final = (
    "table_id_from_name",
    "index_id_from_name",
    "datastore_table_row_count",
    "datastore_table_scan_bsatn",
    "datastore_index_scan_range_bsatn",
    "row_iter_bsatn_advance",
    "row_iter_bsatn_close",
    "datastore_insert_bsatn",
    "datastore_update_bsatn",
    "datastore_delete_by_index_scan_range_bsatn",
    "datastore_delete_all_by_eq_bsatn",
    "volatile_nonatomic_schedule_immediate",
    "get_jwt_payload",
    "procedure_http_request",
    "procedure_start_mut_tx",
    "procedure_abort_mut_tx",
    "procedure_commit_mut_tx",
    "datastore_index_scan_point_bsatn",
    "datastore_delete_by_index_scan_point_bsatn",
)
_SYSCALLS_2_1: Final = ("datastore_clear",)


def _stubs(names: tuple[str, ...]) -> str:
    return "".join(f"export function {n}() {{ unavailable({n!r}); }}\n" for n in names)


_UNAVAILABLE: Final = """\
function unavailable(name) {
  throw new Error(`syscall ${name} is not available while describing the module`);
}
"""

_SYS_2_0: Final = (
    "// spacetime:sys@2.0 for describing a module (spacetimedb-sdk generate).\n"
    "export const moduleHooks = Symbol('spacetimedb-sdk.moduleHooks');\n"
    + _UNAVAILABLE
    + """\
export function console_log(level, message) { process.stderr.write(`[module] ${message}\\n`); }
let timers = 0;
export function console_timer_start(name) { timers += 1; return timers; }
export function console_timer_end(id) {}
export function identity() { return 0n; }
"""
    + _stubs(_SYSCALLS_2_0)
)

_SYS_2_1: Final = (
    "// spacetime:sys@2.1 for describing a module (spacetimedb-sdk generate).\n"
    + _UNAVAILABLE
    + _stubs(_SYSCALLS_2_1)
)

_HOOKS: Final = """\
// ES-module resolve hook: the host's syscall modules become local shims.
const SHIMS = {
  "spacetime:sys@2.0": new URL("./sys_2_0.mjs", import.meta.url).href,
  "spacetime:sys@2.1": new URL("./sys_2_1.mjs", import.meta.url).href,
};
export async function resolve(specifier, context, nextResolve) {
  if (Object.hasOwn(SHIMS, specifier)) {
    return { url: SHIMS[specifier], shortCircuit: true, format: "module" };
  }
  if (specifier.startsWith("spacetime:sys@")) {
    throw new Error(`unsupported host module ${specifier} (only 2.x bundles are supported)`);
  }
  return nextResolve(specifier, context);
}
"""

_EXTRACT: Final = """\
// Describe a SpacetimeDB JavaScript module: node extract.mjs <bundle> <out-file>.
import { register } from "node:module";
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

register(new URL("./hooks.mjs", import.meta.url));
const shim = await import(new URL("./sys_2_0.mjs", import.meta.url).href);
const ns = await import(pathToFileURL(process.argv[2]).href);
const schema = ns.default;
if (schema === null || typeof schema !== "object" || typeof schema[shim.moduleHooks] !== "function") {
  console.error("STDB-EXTRACT: the bundle's default export is not a SpacetimeDB schema");
  process.exit(3);
}
const hooks = schema[shim.moduleHooks](ns);
const bytes = hooks.__describe_module__();
writeFileSync(process.argv[3], Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
"""


def _write_scripts(directory: Path) -> Path:
    (directory / "sys_2_0.mjs").write_text(_SYS_2_0, encoding="utf-8")
    (directory / "sys_2_1.mjs").write_text(_SYS_2_1, encoding="utf-8")
    (directory / "hooks.mjs").write_text(_HOOKS, encoding="utf-8")
    script = directory / "extract.mjs"
    script.write_text(_EXTRACT, encoding="utf-8")
    return script


def _failure_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("STDB-EXTRACT: "):
            return line.removeprefix("STDB-EXTRACT: ")
    for line in lines:
        if "Error" in line and not line.startswith("at "):
            if "Unexpected identifier" in line and "using" in stderr:
                return (
                    f"{line} (the bundle uses `using` declarations: run a newer Node or "
                    "bundle with esbuild --target=node20)"
                )
            return line
    return lines[-1] if lines else "node failed without a message"


def module_def_bytes_from_js(bundle: Path, *, node: str | None = None) -> bytes:
    """Run the bundle's describe hook under Node.js; return the BSATN ``RawModuleDef``."""
    node_exe = node or shutil.which("node")
    if node_exe is None:
        raise CodegenError("reading .js modules needs Node.js: `node` was not found on PATH")
    with tempfile.TemporaryDirectory(prefix="stdb-describe-") as tmp:
        directory = Path(tmp)
        script = _write_scripts(directory)
        out = directory / "moduledef.bsatn"
        try:
            proc = subprocess.run(
                [node_exe, str(script), str(bundle.resolve()), str(out)],
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CodegenError(
                f"{bundle.name}: node did not finish describing the module within "
                f"{_TIMEOUT_SECONDS} s"
            ) from None
        except OSError as exc:
            raise CodegenError(f"cannot run node ({node_exe}): {exc.strerror or exc}") from exc
        if proc.returncode != 0 or not out.exists():
            raise CodegenError(
                f"{bundle.name}: node could not describe the module: {_failure_line(proc.stderr)}"
            )
        return out.read_bytes()


def extract_js_module_def(path: str | Path, *, node: str | None = None) -> ModuleDefSource:
    """The module def of a ``.js`` bundle (``--bin-path``)."""
    p = Path(path)
    if not p.is_file():
        raise CodegenError(f"module file not found: {p}")
    try:
        bundle_digest = hashlib.sha256(p.read_bytes()).hexdigest()
    except OSError as exc:
        raise CodegenError(f"cannot read module file {p}: {exc.strerror or exc}") from exc
    data = module_def_bytes_from_js(p, node=node)
    source = module_def_from_bytes(
        data, origin=f"JavaScript bundle {p.name}", name=module_name_from_path(p)
    )
    return ModuleDefSource(source.raw, source.canonical, source.origin, source.name, bundle_digest)
