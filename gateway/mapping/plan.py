"""Plans: each message type compiled once from the XSD into a small immutable tree.

An `ElementPlan` says how one element appears in XML (tag, occurrences) and in the record
(key, array or not); its `TypePlan` says what it holds: attributes, a simple value, or
child elements in schema order plus the choice/optional groups that constrain which keys
may appear together. Building and parsing walk these plans; nothing else of xmlschema is
used after start-up. Only the constructs listed in docs/mapping.md compile; anything else
(xs:any, mixed content, repeated groups, duplicate names) is refused with a ConfigError
naming the place, so a schema the mapper cannot map losslessly never loads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from ..errors import ConfigError
from .simple import SimpleType, compile_simple, documentation

VALUE_KEY = "value"
_DOT = re.compile(r"\.(.)")


def record_key(name: str) -> str:
    """Record key of an element local name: every `.x` becomes `X` (nachrichtenkopf.g2g -> nachrichtenkopfG2g)."""
    return _DOT.sub(lambda m: m.group(1).upper(), name)


@dataclass(frozen=True, slots=True)
class AttributePlan:
    """One attribute: its name (= record key), use, fixed/default value and simple type."""

    name: str
    required: bool
    fixed: str | None
    default: str | None
    type: SimpleType
    doc: str = ""


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """An xs:sequence or xs:choice inside a complex type, with its particles in order."""

    model: str                                   # "sequence" | "choice"
    min: int
    particles: tuple["Particle", ...]
    keys: frozenset[str]                         # every element key inside, recursively
    emptiable: bool                              # may match no element at all


@dataclass(frozen=True, slots=True)
class TypePlan:
    """What an element holds: simple value, simple content with attributes, or children."""

    kind: str                                    # "simple" | "simplecontent" | "complex"
    name: str                                    # XSD type name (prefixed) or "" if anonymous
    doc: str
    attributes: tuple[AttributePlan, ...] = ()
    value: SimpleType | None = None              # simple and simplecontent
    content: GroupPlan | None = None             # complex
    children: tuple["ElementPlan", ...] = ()     # complex: every child element, schema order
    checks: tuple[GroupPlan, ...] = ()           # choices/optional groups to check per record
    by_tag: Mapping[str, "ElementPlan"] = None   # type: ignore[assignment]
    keys: frozenset[str] = frozenset()           # every record key this type accepts


@dataclass(frozen=True, slots=True)
class ElementPlan:
    """One element declaration: XML tag, record key, occurrences and its type's plan."""

    tag: str                                     # lxml tag: "{ns}local" if qualified, else local
    name: str                                    # local name
    key: str                                     # record key
    min: int
    max: int | None                              # None = unbounded
    type: TypePlan
    doc: str = ""
    required: bool = False                       # always required (not inside choice/optional group)
    convert: Any = field(default=None, repr=False, compare=False)  # simple types: value -> text

    @property
    def many(self) -> bool:
        """True when the record holds this element as an array (maxOccurs > 1)."""
        return self.max is None or self.max > 1


Particle = Union[ElementPlan, GroupPlan]


class Compiler:
    """Compiles xmlschema element declarations into plans, sharing plans of named types."""

    def __init__(self, source: str):
        self.source = source
        self._types: dict[int, TypePlan] = {}
        self._active: set[int] = set()

    def element(self, xsd_element: Any, where: str = "", required: bool = True) -> ElementPlan:
        """Plan of one element declaration (a global root or a local particle)."""
        name = xsd_element.local_name
        where = f"{where}/{name}" if where else name
        if getattr(xsd_element, "nillable", False):
            raise ConfigError(f"{self.source}: {where}: nillable elements are not supported")
        tp = self.type(xsd_element.type, where)
        return ElementPlan(
            tag=xsd_element.name, name=name, key=record_key(name),
            min=xsd_element.min_occurs, max=xsd_element.max_occurs, type=tp,
            doc=documentation(xsd_element), required=required and xsd_element.min_occurs >= 1,
            convert=tp.value.convert if tp.kind == "simple" else None,
        )

    def type(self, xsd_type: Any, where: str) -> TypePlan:
        """Plan of a simple or complex type; named complex types are compiled once."""
        ident = id(xsd_type)
        if ident in self._types:
            return self._types[ident]
        if ident in self._active:
            raise ConfigError(f"{self.source}: {where}: recursive type {xsd_type.prefixed_name} "
                              "is not supported")
        self._active.add(ident)
        try:
            plan = self._compile_type(xsd_type, where)
        finally:
            self._active.discard(ident)
        if getattr(xsd_type, "name", None):
            self._types[ident] = plan
        return plan

    def _compile_type(self, xsd_type: Any, where: str) -> TypePlan:
        name = str(xsd_type.prefixed_name) if getattr(xsd_type, "name", None) else ""
        doc = documentation(xsd_type)
        if xsd_type.is_simple():
            return TypePlan(kind="simple", name=name, doc=doc,
                            value=compile_simple(xsd_type, f"{self.source}: {where}"),
                            by_tag={}, keys=frozenset())
        if getattr(xsd_type, "mixed", False):
            raise ConfigError(f"{self.source}: {where}: mixed content is not supported")
        if getattr(xsd_type, "derivation", None) == "restriction" and not _is_any_type(xsd_type.base_type):
            raise ConfigError(f"{self.source}: {where}: complex types derived by restriction "
                              "are not supported")
        attributes = self._attributes(xsd_type, where)
        attr_keys = {a.name for a in attributes}
        if xsd_type.has_simple_content():
            if VALUE_KEY in attr_keys:
                raise ConfigError(f"{self.source}: {where}: an attribute named {VALUE_KEY!r} "
                                  "clashes with the simple content key")
            value = compile_simple(xsd_type.content, f"{self.source}: {where}")
            return TypePlan(kind="simplecontent", name=name, doc=doc, attributes=attributes,
                            value=value, by_tag={}, keys=frozenset(attr_keys | {VALUE_KEY}))
        content = self._group(xsd_type.content, where, active=True)
        children = tuple(_elements(content))
        keys = [c.key for c in children]
        clash = _first_duplicate(keys + sorted(attr_keys))
        if clash:
            raise ConfigError(f"{self.source}: {where}: the record key {clash!r} would stand for "
                              "two different elements or attributes")
        return TypePlan(
            kind="complex", name=name, doc=doc, attributes=attributes, content=content,
            children=children, checks=_type_checks(content),
            by_tag={c.tag: c for c in children}, keys=frozenset(keys) | attr_keys,
        )

    def _group(self, group: Any, where: str, active: bool) -> GroupPlan:
        model = group.model
        if model not in ("sequence", "choice"):
            raise ConfigError(f"{self.source}: {where}: xs:{model} is not supported")
        if group.max_occurs != 1:
            raise ConfigError(f"{self.source}: {where}: a repeated xs:{model} (maxOccurs="
                              f"{group.max_occurs}) cannot be mapped to a record losslessly")
        inner_active = active and model == "sequence" and group.min_occurs >= 1
        particles: list[Particle] = []
        for particle in group:
            kind = type(particle).__name__
            if kind == "XsdGroup":
                particles.append(self._group(particle, where, inner_active))
            elif kind == "XsdElement":
                particles.append(self.element(particle, where, required=inner_active))
            else:
                raise ConfigError(f"{self.source}: {where}: {kind} (xs:any and the like) "
                                  "is not supported")
        keys = frozenset(k for p in particles for k in _keys(p))
        if model == "sequence":
            emptiable = group.min_occurs == 0 or all(_emptiable(p) for p in particles)
        else:
            emptiable = group.min_occurs == 0 or not particles or any(_emptiable(p) for p in particles)
        return GroupPlan(model=model, min=group.min_occurs, particles=tuple(particles),
                         keys=keys, emptiable=emptiable)

    def _attributes(self, xsd_type: Any, where: str) -> tuple[AttributePlan, ...]:
        plans = []
        for name, attribute in xsd_type.attributes.items():
            if name is None or type(attribute).__name__ != "XsdAttribute":
                raise ConfigError(f"{self.source}: {where}: xs:anyAttribute is not supported")
            if name.startswith("{"):
                raise ConfigError(f"{self.source}: {where}: qualified attribute {name} "
                                  "is not supported")
            if attribute.use == "prohibited":
                continue
            plans.append(AttributePlan(
                name=name, required=attribute.use == "required", fixed=attribute.fixed,
                default=attribute.default,
                type=compile_simple(attribute.type, f"{self.source}: {where}/@{name}"),
                doc=documentation(attribute),
            ))
        return tuple(plans)


def _is_any_type(xsd_type: Any) -> bool:
    return xsd_type is None or getattr(xsd_type, "local_name", "") == "anyType"


def _keys(particle: Particle) -> frozenset[str]:
    return frozenset((particle.key,)) if isinstance(particle, ElementPlan) else particle.keys


def _emptiable(particle: Particle) -> bool:
    return particle.min == 0 if isinstance(particle, ElementPlan) else particle.emptiable


def _elements(group: GroupPlan):
    for particle in group.particles:
        if isinstance(particle, ElementPlan):
            yield particle
        else:
            yield from _elements(particle)


def _checks(group: GroupPlan):
    """Groups whose rules the plain `required` flags cannot express: choices and optional
    sequences reached from the type's content through always-present sequences."""
    for particle in group.particles:
        if isinstance(particle, GroupPlan):
            if particle.model == "sequence" and particle.min >= 1:
                yield from _checks(particle)
            else:
                yield particle


def _type_checks(content: GroupPlan) -> tuple[GroupPlan, ...]:
    if content.model == "sequence" and content.min >= 1:
        return tuple(_checks(content))
    return (content,) if content.particles else ()


def _first_duplicate(keys: list[str]) -> str | None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return None


def alternative_keys(particle: Particle) -> frozenset[str]:
    """Record keys that select a choice alternative (public for the JSON Schema generator)."""
    return _keys(particle)


def is_emptiable(particle: Particle) -> bool:
    """True when the particle may be absent from a record altogether."""
    return _emptiable(particle)
