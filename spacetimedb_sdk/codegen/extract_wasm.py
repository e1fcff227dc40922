"""Extract the module def from a compiled WebAssembly module (Rust, C#, C++), docs/module-def.md#webassembly.

The module is instantiated with the ``wasmtime`` package (the optional ``wasm`` extra) and
host functions for every ``spacetime_10.*`` import: the few describing needs
(``bytes_sink_write``, ``console_log``, ``console_timer_*``, ``identity``) do their job, every
other one traps with "not available while describing". Then, as the host does: ``_initialize``
if exported, every ``__preinit__*`` export in byte order, ``__setup__`` if exported, and
``__describe_module__(sink)`` once; the bytes written to the sink are the BSATN ``RawModuleDef``.
"""

from __future__ import annotations

import hashlib
import importlib
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeAlias

from spacetimedb_sdk.codegen.errors import CodegenError
from spacetimedb_sdk.codegen.source import (
    ModuleDefSource,
    module_def_from_bytes,
    module_name_from_path,
)

#: ``Caller`` / ``Memory``; the package is optional, so it is only imported
#: (untyped, through importlib) when a module is actually described.
Caller: TypeAlias = Any
Memory: TypeAlias = Any

__all__ = ["extract_wasm_module_def", "module_def_bytes_from_wasm"]

_IMPORT_PREFIX: Final = "spacetime_10."
_NO_SUCH_BYTES: Final = 8
_PANIC_LEVEL: Final = 101
_LOG_LEVELS: Final = {0: "error", 1: "warn", 2: "info", 3: "debug", 4: "trace", 101: "panic"}


class _DescribeUnavailableError(Exception):
    """Raised by a host function the module may not use while describing."""


def _import_wasmtime() -> Any:
    try:
        return importlib.import_module("wasmtime")
    except ImportError:
        raise CodegenError(
            "reading .wasm modules needs the wasmtime package (the 'wasm' extra): "
            "pip install -e '.[wasm]' in a checkout of this repository"
        ) from None


class _Host:
    """The state of one describing run: sinks and the module's log."""

    def __init__(self, wt: Any) -> None:
        self.wt = wt
        self.sinks: dict[int, bytearray] = {}
        self.log: list[str] = []
        self.panic: str | None = None
        self._timers = 0

    # ------------------------------------------------------------------------ memory
    @staticmethod
    def _memory(caller: Caller) -> Memory:
        memory = caller.get("memory")
        if memory is None or not hasattr(memory, "read"):
            raise _DescribeUnavailableError("the module exports no memory")
        return memory

    def _read(self, caller: Caller, ptr: int, length: int) -> bytes:
        return bytes(self._memory(caller).read(caller, ptr, ptr + length))

    def _text(self, caller: Caller, ptr: int, length: int) -> str:
        return self._read(caller, ptr, length).decode("utf-8", "replace")

    # ---------------------------------------------------------------- host functions
    def bytes_sink_write(self, caller: Caller, sink: int, buf: int, len_ptr: int) -> int:
        if sink not in self.sinks:
            return _NO_SUCH_BYTES
        (length,) = struct.unpack("<I", self._read(caller, len_ptr, 4))
        self.sinks[sink] += self._read(caller, buf, length)
        return 0

    def console_log(
        self,
        caller: Caller,
        level: int,
        target_ptr: int,
        target_len: int,
        filename_ptr: int,
        filename_len: int,
        line: int,
        msg_ptr: int,
        msg_len: int,
    ) -> None:
        message = self._text(caller, msg_ptr, msg_len)
        where = self._text(caller, filename_ptr, filename_len) if filename_len else ""
        label = _LOG_LEVELS.get(level, str(level))
        self.log.append(f"[{label}] {where}:{line}: {message}" if where else f"[{label}] {message}")
        if level == _PANIC_LEVEL:
            self.panic = message

    def console_timer_start(self, caller: Caller, name_ptr: int, name_len: int) -> int:
        self._timers += 1
        return self._timers

    def console_timer_end(self, caller: Caller, timer: int) -> int:
        return 0

    def identity(self, caller: Caller, out_ptr: int) -> None:
        self._memory(caller).write(caller, bytes(32), out_ptr)

    def unavailable(self, name: str) -> Callable[..., Any]:
        def trap(caller: Caller, *args: Any) -> Any:
            raise _DescribeUnavailableError(
                f"host function {name} is not available while describing"
            )

        return trap

    def function_for(self, name: str) -> Callable[..., Any]:
        known: dict[str, Callable[..., Any]] = {
            "bytes_sink_write": self.bytes_sink_write,
            "console_log": self.console_log,
            "console_timer_start": self.console_timer_start,
            "console_timer_end": self.console_timer_end,
            "identity": self.identity,
        }
        return known.get(name) or self.unavailable(name)


def _adapt(func: Callable[..., Any], results: int) -> Callable[..., Any]:
    """Host functions declared without a result must return None, with one an int."""

    def call(caller: Any, *args: Any) -> Any:
        value = func(caller, *args)
        if results == 0:
            return None
        return 0 if value is None else value

    return call


def module_def_bytes_from_wasm(wasm: bytes | str, label: str = "module") -> bytes:
    """Run the describe sequence on a compiled module (binary, or WAT text); return the BSATN."""
    wt = _import_wasmtime()
    engine = wt.Engine()
    try:
        module = wt.Module(engine, wasm)
    except wt.WasmtimeError as exc:
        raise CodegenError(
            f"{label} is not a valid WebAssembly module: {_first_line(exc)}"
        ) from exc
    exports = {e.name: e for e in module.exports}
    for required in ("memory", "__describe_module__"):
        if required not in exports:
            raise CodegenError(f"{label} does not export {required}: not a SpacetimeDB module")
    host = _Host(wt)
    linker = wt.Linker(engine)
    for imp in module.imports:
        if not imp.module.startswith(_IMPORT_PREFIX):
            raise CodegenError(
                f"{label} imports {imp.module}.{imp.name}: only spacetime_10.* imports are "
                "supported (a SpacetimeDB 2.x module)"
            )
        ty = imp.type
        if not isinstance(ty, wt.FuncType):
            raise CodegenError(f"{label} imports a non-function {imp.module}.{imp.name}")
        func = _adapt(host.function_for(imp.name or ""), len(ty.results))
        linker.define_func(imp.module, imp.name, ty, func, access_caller=True)
    store = wt.Store(engine)
    try:
        instance = linker.instantiate(store, module)
        funcs = instance.exports(store)
        if "_initialize" in exports:
            funcs["_initialize"](store)
        for name in sorted((n for n in exports if n.startswith("__preinit__")), key=str.encode):
            funcs[name](store)
        if "__setup__" in exports:
            host.sinks[1] = bytearray()
            status = funcs["__setup__"](store, 1)
            if status:
                message = host.sinks[1].decode("utf-8", "replace")
                raise CodegenError(f"{label}: __setup__ failed: {message or f'status {status}'}")
        sink = len(host.sinks) + 1
        host.sinks[sink] = bytearray()
        funcs["__describe_module__"](store, sink)
    except CodegenError:
        raise
    except (wt.Trap, wt.WasmtimeError, _DescribeUnavailableError) as exc:
        detail = host.panic or _first_line(exc)
        raise CodegenError(f"{label} failed while describing itself: {detail}") from exc
    data = bytes(host.sinks[sink])
    if not data:
        raise CodegenError(f"{label} wrote no module definition from __describe_module__")
    return data


def extract_wasm_module_def(path: str | Path) -> ModuleDefSource:
    """The module def of a ``.wasm`` file (``--bin-path``)."""
    p = Path(path)
    try:
        wasm = p.read_bytes()
    except FileNotFoundError:
        raise CodegenError(f"module file not found: {p}") from None
    except OSError as exc:
        raise CodegenError(f"cannot read module file {p}: {exc.strerror or exc}") from exc
    data = module_def_bytes_from_wasm(wasm, label=p.name)
    source = module_def_from_bytes(
        data, origin=f"wasm module {p.name}", name=module_name_from_path(p)
    )
    # The header names the module file, so its digest is the one to show.
    return ModuleDefSource(
        source.raw, source.canonical, source.origin, source.name, hashlib.sha256(wasm).hexdigest()
    )


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
