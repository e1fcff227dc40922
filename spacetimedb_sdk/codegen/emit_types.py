"""Emit ``types/__init__.py`` (every type definition), ``types/reducers.py`` and
``types/procedures.py`` (``types.ts`` / ``types/*.ts`` in docs/module-def.md#file-layout).

Class shapes:

* product → ``@dataclass(slots=True)`` with the fields in wire order (decoding calls
  ``cls(*fields)``, the fastest constructor a dataclass offers);
* sum with payloads → a base class plus one dataclass per variant, each with a ``TAG`` and,
  unless it is a unit variant, a ``value``; the variants are also reachable as attributes of
  the base (``Shape.Circle(1.5)``);
* plain enum (all variants unit) → ``enum.Enum`` whose values are the wire tags.

``BINDINGS`` maps typespace indices to these classes for the codecs.
"""

from __future__ import annotations

from collections.abc import Iterable

from spacetimedb_sdk.codegen.plan import (
    CodegenPlan,
    EnumTypePlan,
    FieldPlan,
    ProductTypePlan,
    SumTypePlan,
    TypePlan,
)
from spacetimedb_sdk.codegen.pywriter import Group, Imports, PyWriter, all_list, py_str
from spacetimedb_sdk.codegen.type_render import STDB_ALIAS, TYPING_ALIAS

__all__ = ["emit_procedure_types", "emit_reducer_types", "emit_types"]


def _uses_alias(annotations: Iterable[str | None], alias: str) -> bool:
    return any(a is not None and f"{alias}." in a for a in annotations)


def _type_annotations(t: TypePlan) -> list[str | None]:
    if isinstance(t, ProductTypePlan):
        return [f.annotation for f in t.fields]
    if isinstance(t, SumTypePlan):
        return [v.annotation for v in t.variants]
    return []


def _row_owners(plan: CodegenPlan) -> dict[int, list[str]]:
    owners: dict[int, list[str]] = {}
    for t in plan.tables:
        owners.setdefault(t.row_ref, []).append(f"{t.kind} ``{t.wire_name}``")
    return owners


def _fields(w: PyWriter, fields: Iterable[FieldPlan]) -> None:
    for f in fields:
        w.line(f"{f.attr}: {f.annotation}")


def _product(w: PyWriter, t: ProductTypePlan, owners: list[str]) -> None:
    what = f"Row type of the module's {', '.join(owners)}" if owners else ""
    if t.synthetic:
        summary = f"{what or 'Product type'} (the module gives it no name)."
    else:
        summary = f"Product type ``{t.display_name}``."
        if what:
            summary = f"Product type ``{t.display_name}``; {what[0].lower()}{what[1:]}."
    w.line("@_dataclasses.dataclass(slots=True)")
    w.line(f"class {t.class_name}:")
    with w.indent():
        w.docstring(summary)
        if t.fields:
            w.blank()
            _fields(w, t.fields)


def _sum(w: PyWriter, t: SumTypePlan) -> None:
    w.line(f"class {t.class_name}:")
    with w.indent():
        names = ", ".join(f"``{t.class_name}.{v.attr}``" for v in t.variants)
        w.docstring(f"Sum type ``{t.display_name}``: one of {names}.")
        w.blank()
        w.line("__slots__ = ()")
        w.line(f"TAG: {TYPING_ALIAS}.ClassVar[int]")
        for v in t.variants:
            w.line(f"{v.attr}: {TYPING_ALIAS}.ClassVar[type[{v.class_name}]]")
    for v in t.variants:
        w.blank(2)
        w.line("@_dataclasses.dataclass(slots=True)")
        w.group(Group(f"class {v.class_name}", (t.class_name,), ":"))
        with w.indent():
            kind = "unit variant" if v.payload is None else "variant"
            w.docstring(f"The {kind} ``{v.wire_name}`` of ``{t.display_name}`` (tag {v.tag}).")
            w.blank()
            if v.annotation is not None:
                w.line(f"value: {v.annotation}")
            w.line(f"TAG: {TYPING_ALIAS}.ClassVar[int] = {v.tag}")
    w.blank(2)
    for v in t.variants:
        w.line(f"{t.class_name}.{v.attr} = {v.class_name}")


def _enum(w: PyWriter, t: EnumTypePlan) -> None:
    w.line(f"class {t.class_name}(_enum.Enum):")
    with w.indent():
        w.docstring(f"Plain enum ``{t.display_name}``; member values are the wire tags.")
        w.blank()
        for m in t.members:
            w.line(f"{m.name} = {m.tag}")


_SUM_HELPERS = f"""def _unwrap_sum(value: {TYPING_ALIAS}.Any) -> tuple[int, {TYPING_ALIAS}.Any]:
    return value.TAG, getattr(value, "value", ())"""

_ENUM_HELPERS = f"""def _unwrap_enum(member: {TYPING_ALIAS}.Any) -> tuple[int, {TYPING_ALIAS}.Any]:
    return member.value, ()


def _enum_binding(cls: type[_enum.Enum]) -> _bsatn.SumBinding:
    members = tuple(cls)
    return _bsatn.SumBinding(
        tuple(_constant(m) for m in members),
        _unwrap_enum,
        dict(enumerate(members)),
    )"""

_CONSTANT_HELPER = f"""def _constant(
    value: {TYPING_ALIAS}.Any,
) -> {TYPING_ALIAS}.Callable[[{TYPING_ALIAS}.Any], {TYPING_ALIAS}.Any]:
    return lambda _payload: value"""


def _binding(t: TypePlan) -> Group:
    head = f"{t.ref}: "
    if isinstance(t, ProductTypePlan):
        attrs = Group("", tuple(py_str(f.attr) for f in t.fields), tuple_comma=True)
        return Group(f"{head}_bsatn.ProductBinding", (t.class_name, attrs))
    if isinstance(t, EnumTypePlan):
        return Group(f"{head}_enum_binding", (t.class_name,))
    wraps = Group(
        "",
        tuple(
            v.class_name if v.payload is not None else f"_constant({v.class_name}())"
            for v in t.variants
        ),
        tuple_comma=True,
    )
    constants = Group(
        "",
        tuple(f"{v.tag}: {v.class_name}()" for v in t.variants if v.payload is None),
        open="{",
        close="}",
    )
    return Group(f"{head}_bsatn.SumBinding", (wraps, "_unwrap_sum", constants))


def emit_types(plan: CodegenPlan, header: list[str], module_label: str) -> str:
    """``types/__init__.py``."""
    imports = Imports()
    imports.names("__future__", "annotations")
    annotations = [a for t in plan.types for a in _type_annotations(t)]
    has_sums = any(isinstance(t, SumTypePlan) for t in plan.types)
    has_enums = any(isinstance(t, EnumTypePlan) for t in plan.types)
    has_dataclasses = any(isinstance(t, (ProductTypePlan, SumTypePlan)) for t in plan.types)
    if has_dataclasses:
        imports.module("dataclasses", "_dataclasses")
    if has_enums:
        imports.module("enum", "_enum")
    if plan.types or _uses_alias(annotations, TYPING_ALIAS):
        imports.module("typing", TYPING_ALIAS)
    if _uses_alias(annotations, STDB_ALIAS):
        imports.module("spacetimedb_sdk", STDB_ALIAS)
    imports.module("spacetimedb_sdk.bsatn", "_bsatn")

    w = PyWriter()
    w.lines(header)
    w.blank()
    w.docstring(
        f"Types of {module_label}: one class per type definition.\n\n"
        "Products are slotted dataclasses; sums with payloads are a base class plus one\n"
        "dataclass per variant; plain enums are ``enum.Enum`` members valued by wire tag.\n"
        "``BINDINGS`` binds the classes to the module's typespace for the BSATN codecs.\n"
    )
    w.blank()
    w.lines(imports.lines())
    owners = _row_owners(plan)
    for t in plan.types:
        w.blank(2)
        if isinstance(t, ProductTypePlan):
            _product(w, t, owners.get(t.ref, []))
        elif isinstance(t, SumTypePlan):
            _sum(w, t)
        else:
            _enum(w, t)
    if has_sums or has_enums:
        w.blank(2)
        w.lines(_CONSTANT_HELPER.split("\n"))
    if has_sums:
        w.blank(2)
        w.lines(_SUM_HELPERS.split("\n"))
    if has_enums:
        w.blank(2)
        w.lines(_ENUM_HELPERS.split("\n"))
    w.blank(2)
    w.line("#: Typespace index -> generated class, for ``spacetimedb_sdk.bsatn.compile_codec``.")
    if plan.types:
        w.line(f"BINDINGS: {TYPING_ALIAS}.Final[_bsatn.Bindings] = {{")
        with w.indent():
            for t in sorted(plan.types, key=lambda t: t.ref):
                w.lines(_binding(t).layout(1, ","))
        w.line("}")
    else:
        w.line("BINDINGS: _bsatn.Bindings = {}")
    return w.text()


def _params_module(
    header: list[str],
    doc: str,
    classes: list[tuple[str, str, tuple[FieldPlan, ...], frozenset[str]]],
    aliases: list[tuple[str, str, str, frozenset[str]]],
) -> str:
    """A module of dataclasses (one per function) and type aliases."""
    imports = Imports()
    imports.names("__future__", "annotations")
    annotations: list[str | None] = [f.annotation for _, _, fs, _ in classes for f in fs]
    annotations += [a for _, _, a, _ in aliases]
    if classes:
        imports.module("dataclasses", "_dataclasses")
    if aliases or _uses_alias(annotations, TYPING_ALIAS):
        imports.module("typing", TYPING_ALIAS)
    if _uses_alias(annotations, STDB_ALIAS):
        imports.module("spacetimedb_sdk", STDB_ALIAS)
    used = set().union(*(u for *_, u in classes), *(u for *_, u in aliases))
    if used:
        imports.names(".", *sorted(used))
    w = PyWriter()
    w.lines(header)
    w.blank()
    w.docstring(doc)
    w.blank()
    w.lines(imports.lines())
    w.blank()
    w.lines(all_list([c[0] for c in classes] + [a[0] for a in aliases]))
    for name, summary, fields, _ in classes:
        w.blank(2)
        w.line("@_dataclasses.dataclass(slots=True)")
        w.line(f"class {name}:")
        with w.indent():
            w.docstring(summary)
            if fields:
                w.blank()
                _fields(w, fields)
    if aliases:
        w.blank()
    for name, summary, annotation, _ in aliases:
        w.blank()
        w.line(f"#: {summary}")
        w.line(f"{name}: {TYPING_ALIAS}.TypeAlias = {annotation}")
    return w.text()


def emit_reducer_types(plan: CodegenPlan, header: list[str]) -> str:
    """``types/reducers.py``: the parameters of every generated reducer as a dataclass."""
    classes = [
        (r.params_class, f"Parameters of the reducer ``{r.wire_name}``.", r.params, r.uses)
        for r in plan.reducers
    ]
    return _params_module(header, "Reducer parameter types.", classes, [])


def emit_procedure_types(plan: CodegenPlan, header: list[str]) -> str:
    """``types/procedures.py``: arguments (dataclass) and result (alias) of every procedure."""
    classes = [
        (p.args_class, f"Arguments of the procedure ``{p.wire_name}``.", p.params, p.uses)
        for p in plan.procedures
    ]
    aliases = [
        (
            p.result_alias,
            f"What the procedure ``{p.wire_name}`` returns.",
            p.return_annotation,
            p.uses,
        )
        for p in plan.procedures
    ]
    return _params_module(header, "Procedure argument and result types.", classes, aliases)
