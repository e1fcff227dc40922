"""Tagged unions (SATS sum types with payloads) for module code.

Subclass :class:`TaggedUnion` and declare one ``Variant[T]`` annotation per variant, in tag
order; ``Variant[None]`` carries no payload::

    class Shape(TaggedUnion):
        circle: Variant[f32]
        square: Variant[Point]
        empty: Variant[None]

    s = Shape.circle(2.0)
    s.tag, s.value            # ("circle", 2.0)
    Shape.empty()             # a unit variant; .value is None
    Shape("circle", 2.0)      # the same as Shape.circle(2.0)
    match s:
        case Shape(tag="circle", value=r): ...

Plain annotations (``circle: f32``) work too at run time, and the :func:`tagged_union`
decorator turns any class into one. Values are immutable and hashable. A plain ``enum.Enum`` is
the simpler choice when no variant carries a payload.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar, Final, Generic, TypeVar, get_args, get_origin

__all__ = [
    "TaggedUnion",
    "Variant",
    "is_tagged_union",
    "make_wrappers",
    "tagged_union",
    "unwrap_variant_hint",
    "variant_names",
]

T = TypeVar("T")
C = TypeVar("C", bound=type)

_VARIANTS_ATTR: Final = "__stdb_variants__"


class Variant(Generic[T]):
    """A variant of a tagged union: ``Union.variant(payload)`` builds a value of it.

    As an annotation, ``Variant[T]`` declares a variant carrying a ``T`` (``Variant[None]``:
    no payload); on the class it becomes this constructor.
    """

    __slots__ = ("cls", "index", "name", "unit")

    def __init__(self, cls: type, name: str, index: int, unit: bool = False) -> None:
        self.cls = cls
        self.name = name
        self.index = index
        self.unit = unit

    def __call__(self, value: T | None = None) -> Any:
        return self.cls(self.name, value)

    def __repr__(self) -> str:
        return f"<variant {self.cls.__name__}.{self.name}>"


def unwrap_variant_hint(hint: Any) -> Any:
    """``Variant[T]`` → ``T``; anything else unchanged."""
    if get_origin(hint) is Variant:
        (inner,) = get_args(hint)
        return inner
    return hint


def _init(self: Any, tag: str, value: Any = None) -> None:
    if tag not in type(self).__stdb_variant_index__:
        raise ValueError(f"{type(self).__name__} has no variant {tag!r}")
    object.__setattr__(self, "tag", tag)
    object.__setattr__(self, "value", value)


def _setattr(self: Any, name: str, value: Any) -> None:
    raise AttributeError(f"{type(self).__name__} values are immutable")


def _eq(self: Any, other: Any) -> bool:
    if type(other) is not type(self):
        return NotImplemented  # type: ignore[no-any-return]
    return bool(self.tag == other.tag and self.value == other.value)


def _hash(self: Any) -> int:
    return hash((type(self), self.tag, self.value))


def _repr(self: Any) -> str:
    if self.value is None:
        return f"{type(self).__name__}.{self.tag}()"
    return f"{type(self).__name__}.{self.tag}({self.value!r})"


def _setup(cls: type) -> None:
    names = tuple(n for n in inspect.get_annotations(cls) if n not in ("tag", "value"))
    if not names:
        raise TypeError(f"tagged union {cls.__name__} declares no variants")
    setattr(cls, _VARIANTS_ATTR, names)
    cls.__stdb_variant_index__ = {n: i for i, n in enumerate(names)}  # type: ignore[attr-defined]
    cls.__init__ = _init  # type: ignore[misc]
    cls.__setattr__ = _setattr  # type: ignore[assignment,method-assign]
    cls.__eq__ = _eq  # type: ignore[assignment,method-assign]
    cls.__hash__ = _hash  # type: ignore[assignment,method-assign]
    cls.__repr__ = _repr  # type: ignore[assignment,method-assign]
    setattr(cls, "__match_args__", ("tag", "value"))  # noqa: B010
    for i, name in enumerate(names):
        setattr(cls, name, Variant(cls, name, i))


class TaggedUnion:
    """Base class of tagged unions: ``tag`` is the variant name, ``value`` its payload."""

    __match_args__: ClassVar[tuple[str, ...]] = ("tag", "value")
    tag: str
    value: Any

    def __init__(self, tag: str, value: Any = None) -> None:
        _init(self, tag, value)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _setup(cls)


def tagged_union(cls: C) -> C:
    """Turn a class whose annotations list the variants into a tagged union type."""
    _setup(cls)
    return cls


def is_tagged_union(obj: object) -> bool:
    """True for a tagged union class."""
    return isinstance(obj, type) and _VARIANTS_ATTR in obj.__dict__


def variant_names(cls: type) -> tuple[str, ...]:
    """The variant names of a tagged union class, in tag order."""
    names: tuple[str, ...] = getattr(cls, _VARIANTS_ATTR)
    return names


def make_wrappers(
    cls: type, unit_tags: frozenset[int]
) -> tuple[tuple[Callable[[Any], Any], ...], Callable[[Any], tuple[int, Any]], dict[int, Any]]:
    """Codec glue: per-tag payload → value builders, a value → ``(tag, payload)`` splitter and
    ready-made values of the unit variants."""
    names = variant_names(cls)
    index: dict[str, int] = cls.__stdb_variant_index__  # type: ignore[attr-defined]
    new = object.__new__
    oset = object.__setattr__

    def make(tag: str, payload: Any) -> Any:
        obj: Any = new(cls)
        oset(obj, "tag", tag)
        oset(obj, "value", payload)
        return obj

    def builder(tag: str) -> Callable[[Any], Any]:
        return lambda payload: make(tag, payload)

    def unwrap(obj: Any) -> tuple[int, Any]:
        matches = isinstance(obj, cls)  # (kept apart so `obj` stays typed Any)
        if not matches:
            raise TypeError(f"expected a {cls.__name__} value, got {type(obj).__name__}")
        tag = index[obj.tag]
        return tag, (() if tag in unit_tags else obj.value)

    constants = {i: make(names[i], None) for i in unit_tags}
    return tuple(builder(n) for n in names), unwrap, constants
