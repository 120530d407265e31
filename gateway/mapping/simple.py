"""Simple types compiled once from the XSD: JSON kind, facets, and fast check/convert functions.

A `SimpleType` knows how a record value of that XSD simple type looks in JSON (string,
integer or boolean, see docs/mapping.md), how to check it against every facet of its
derivation chain (pattern, enumeration, length, ranges, digits) and how to turn it into
element text and back. It is built from xmlschema components at start-up; checking and
converting use only precompiled regular expressions and plain Python.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from ..errors import ConfigError

XS = "{http://www.w3.org/2001/XMLSchema}"

INTEGER_TYPES = {
    "integer": (None, None), "nonNegativeInteger": (0, None), "positiveInteger": (1, None),
    "nonPositiveInteger": (None, 0), "negativeInteger": (None, -1),
    "long": (-2**63, 2**63 - 1), "int": (-2**31, 2**31 - 1), "short": (-2**15, 2**15 - 1),
    "byte": (-128, 127), "unsignedLong": (0, 2**64 - 1), "unsignedInt": (0, 2**32 - 1),
    "unsignedShort": (0, 2**16 - 1), "unsignedByte": (0, 255),
}
_TZ = r"(Z|[+-](0\d|1[0-3]):[0-5]\d|[+-]14:00)?"
_DATE = r"-?([1-9]\d{4,}|\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_TIME = r"(([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?|24:00:00(\.0+)?)"
LEXICAL = {
    "date": _DATE + _TZ,
    "dateTime": _DATE + "T" + _TIME + _TZ,
    "gYear": r"-?([1-9]\d{4,}|\d{4})" + _TZ,
    "decimal": r"[+-]?(\d+(\.\d*)?|\.\d+)",
    "base64Binary": r"(([A-Za-z0-9+/] ?){4})*(([A-Za-z0-9+/] ?){2}[AEIMQUYcgkosw048] ?="
                    r"|[A-Za-z0-9+/] ?[AQgw] ?= ?=)?",
    "boolean": r"true|false|1|0",
}
LEXICAL_HINT = {
    "date": "a date like 2024-05-31", "dateTime": "a date and time like 2024-05-31T14:30:00Z",
    "gYear": "a year like 2024", "decimal": "a decimal number as text, like \"12.50\"",
    "base64Binary": "base64 text", "boolean": "true or false",
}
_WS = re.compile(r"[\t\n\r ]+")
_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def collapse(text: str) -> str:
    """XSD whiteSpace=collapse: runs of blanks become one space, trimmed."""
    return _WS.sub(" ", text).strip(" ")


def replace(text: str) -> str:
    """XSD whiteSpace=replace: tab, CR and LF become spaces."""
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


@dataclass(frozen=True, slots=True)
class Facets:
    """Facets gathered over a simple type's whole derivation chain."""

    patterns: tuple[tuple[str, ...], ...] = ()     # per derivation step: alternatives (XSD syntax)
    regexes: tuple[tuple[re.Pattern, ...], ...] = ()
    enumeration: tuple[str, ...] | None = None
    length: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_inclusive: Any = None
    max_inclusive: Any = None
    min_exclusive: Any = None
    max_exclusive: Any = None
    total_digits: int | None = None
    fraction_digits: int | None = None


@dataclass(frozen=True, slots=True)
class SimpleType:
    """One XSD simple type as the record sees it: JSON kind, builtin base, whitespace, facets."""

    builtin: str                 # most derived builtin local name, e.g. "token", "positiveInteger"
    kind: str                    # JSON kind: "string", "integer" or "boolean"
    whitespace: str              # preserve | replace | collapse
    facets: Facets = field(default_factory=Facets)
    name: str = ""               # XSD type name (qualified) or "" when anonymous
    doc: str = ""

    convert: Callable[[Any], str] = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "convert", _converter(self))

    def check(self, value: Any) -> tuple[str | None, str]:
        """Check a record value; returns (error message or None, element text)."""
        try:
            return None, self.convert(value)
        except Invalid as exc:
            return str(exc), ""

    def from_text(self, text: str | None) -> Any:
        """Element or attribute text (already schema-valid) -> record value."""
        text = text or ""
        if self.kind == "integer":
            return int(text.strip())
        if self.kind == "boolean":
            return text.strip() in ("true", "1")
        if self.whitespace == "collapse":
            return collapse(text)
        if self.whitespace == "replace":
            return replace(text)
        return text

    def _facet_problem(self, text: str, value: Any) -> str | None:
        f = self.facets
        lexical = _LEXICAL_CHECK.get(self.builtin)
        if lexical is not None and not lexical(text):
            shown = repr(text) if len(text) <= 60 else f"{text[:40]!r}... ({len(text)} characters)"
            return f"{shown} is not {LEXICAL_HINT[self.builtin]}"
        if f.enumeration is not None and text not in f.enumeration:
            allowed = ", ".join(f.enumeration[:12]) + (", ..." if len(f.enumeration) > 12 else "")
            return f"{text!r} is not one of the allowed values ({allowed})"
        for step, alternatives in zip(f.patterns, f.regexes):
            if not any(rx.match(text) for rx in alternatives):
                return f"{text!r} does not match the required pattern {' | '.join(step)}"
        if f.length is not None or f.min_length is not None or f.max_length is not None:
            size = _length(text, self.builtin)
            if f.length is not None and size != f.length:
                return f"must be exactly {f.length} characters long, is {size}"
            if f.min_length is not None and size < f.min_length:
                return f"must be at least {f.min_length} characters long, is {size}"
            if f.max_length is not None and size > f.max_length:
                return f"must be at most {f.max_length} characters long, is {size}"
        if self.kind == "integer" or self.builtin == "decimal":
            return self._range_problem(text, value)
        return None

    def _range_problem(self, text: str, value: Any) -> str | None:
        f = self.facets
        number = value if self.kind == "integer" else _decimal(text)
        if number is None:
            return f"{text!r} is not {LEXICAL_HINT['decimal']}"
        if f.min_inclusive is not None and number < f.min_inclusive:
            return f"must be at least {f.min_inclusive}"
        if f.max_inclusive is not None and number > f.max_inclusive:
            return f"must be at most {f.max_inclusive}"
        if f.min_exclusive is not None and number <= f.min_exclusive:
            return f"must be greater than {f.min_exclusive}"
        if f.max_exclusive is not None and number >= f.max_exclusive:
            return f"must be less than {f.max_exclusive}"
        if f.total_digits is not None or f.fraction_digits is not None:
            total, fraction = _digits(Decimal(number))
            if f.total_digits is not None and total > f.total_digits:
                return f"has {total} digits, at most {f.total_digits} are allowed"
            if f.fraction_digits is not None and fraction > f.fraction_digits:
                return f"has {fraction} decimal places, at most {f.fraction_digits} are allowed"
        return None


_B64_CHARS = re.compile(r"[A-Za-z0-9+/]*").fullmatch


def is_base64(text: str) -> bool:
    """XSD base64Binary's lexical space (single blanks allowed between characters), checked in
    linear time and memory: the same language as
    LEXICAL["base64Binary"], whose nested quantifiers need hundreds of times the text in memory."""
    if text[:1] == " " or "  " in text:
        return False
    compact = text.replace(" ", "") if " " in text else text
    if len(compact) % 4:
        return False
    body = compact.rstrip("=")
    pad = len(compact) - len(body)
    if pad and text[-1] == " ":
        return False
    if pad > 2 or not _B64_CHARS(body):
        return False
    return pad == 0 or body[-1] in ("AEIMQUYcgkosw048" if pad == 1 else "AQgw")


# builtin -> lexical check (text -> truthy when valid): compiled patterns, base64 by is_base64.
_LEXICAL_CHECK: dict[str, Callable[[str], object]] = {
    name: re.compile(rx).fullmatch for name, rx in LEXICAL.items() if name not in ("boolean", "base64Binary")}
_LEXICAL_CHECK["base64Binary"] = is_base64
# Anything that may need whitespace normalisation or is not an XML character: slow path.
_UNUSUAL = re.compile("[^\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|  |^ | $").search


class Invalid(Exception):
    """A record value does not fit its simple type (the message; the caller adds the path)."""


def _converter(st: SimpleType) -> Callable[[Any], str]:
    """A fast `record value -> element text` function for one simple type; raises Invalid."""
    f = st.facets
    has_facets = (st.builtin in _LEXICAL_CHECK or f.enumeration is not None or bool(f.regexes)
                  or f.length is not None or f.min_length is not None or f.max_length is not None
                  or f.min_inclusive is not None or f.max_inclusive is not None
                  or f.min_exclusive is not None or f.max_exclusive is not None
                  or f.total_digits is not None or f.fraction_digits is not None)
    problem_of = st._facet_problem if has_facets else None
    if st.kind == "boolean":
        def convert(value: Any) -> str:
            if value is True:
                return "true"
            if value is False:
                return "false"
            raise Invalid(f"expected true or false, got {json_type(value)}")
        return convert
    if st.kind == "integer":
        def convert(value: Any) -> str:
            if type(value) is not int:
                raise Invalid(f"expected an integer, got {json_type(value)}")
            text = str(value)
            if problem_of is not None:
                problem = problem_of(text, value)
                if problem:
                    raise Invalid(problem)
            return text
        return convert
    normalise = {"collapse": collapse, "replace": replace}.get(st.whitespace)

    def convert(value: Any) -> str:
        if type(value) is not str:
            raise Invalid(f"expected a string, got {json_type(value)}")
        text = value
        if _UNUSUAL(text) is not None:
            if normalise is not None:
                text = normalise(text)
            if _XML_CHARS.search(text):
                raise Invalid("contains a character that XML cannot carry")
        if problem_of is not None:
            problem = problem_of(text, value)
            if problem:
                raise Invalid(problem)
        return text
    return convert


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _length(text: str, builtin: str) -> int:
    if builtin == "base64Binary":
        return len(text.replace(" ", "")) * 3 // 4 - text.count("=")
    return len(text)


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _digits(number: Decimal) -> tuple[int, int]:
    """(totalDigits, fractionDigits) of a decimal value in the XSD sense."""
    _, digits, exponent = number.normalize().as_tuple()
    if not isinstance(exponent, int):
        return 0, 0
    if exponent >= 0:
        return (1 if digits == (0,) else len(digits) + exponent), 0
    return max(len(digits), -exponent), -exponent


def compile_simple(xsd_type: Any, where: str) -> SimpleType:
    """Compile an xmlschema simple type (atomic builtin or restriction) into a SimpleType."""
    chain = []
    t = xsd_type
    while t is not None and not _is_builtin(t):
        if not hasattr(t, "base_type") or type(t).__name__ not in ("XsdAtomicRestriction",):
            raise ConfigError(f"{where}: simple type {t!r} is not supported (only restrictions "
                              "of builtin atomic types)")
        chain.append(t)
        t = t.base_type
    if t is None:
        raise ConfigError(f"{where}: simple type {xsd_type!r} has no builtin base")
    builtin = t.local_name
    kind = "integer" if builtin in INTEGER_TYPES else "boolean" if builtin == "boolean" else "string"
    values: dict[str, Any] = {}
    if builtin in INTEGER_TYPES:
        low, high = INTEGER_TYPES[builtin]
        values.update(min_inclusive=low, max_inclusive=high)
    patterns, regexes = [], []
    for step in reversed(chain):          # base first; later restrictions narrow the range
        for name, facet in step.facets.items():
            _merge_facet(name, facet, values, patterns, regexes, where)
    return SimpleType(
        builtin=builtin,
        kind=kind,
        whitespace=getattr(xsd_type, "white_space", None) or "preserve",
        facets=Facets(patterns=tuple(patterns), regexes=tuple(regexes), **values),
        name=str(xsd_type.prefixed_name or "") if getattr(xsd_type, "name", None) else "",
        doc=documentation(xsd_type),
    )


def _merge_facet(name: str, facet: Any, values: dict, patterns: list, regexes: list,
                 where: str) -> None:
    local = name.rpartition("}")[2] if name else ""
    if local == "pattern":
        patterns.append(tuple(facet.regexps))
        regexes.append(tuple(facet.patterns))
    elif local == "enumeration":
        values["enumeration"] = tuple(str(v) for v in facet.enumeration)
    elif local in ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive"):
        key = {"minInclusive": "min_inclusive", "maxInclusive": "max_inclusive",
               "minExclusive": "min_exclusive", "maxExclusive": "max_exclusive"}[local]
        values[key] = facet.value
    elif local in ("length", "minLength", "maxLength", "totalDigits", "fractionDigits"):
        key = {"length": "length", "minLength": "min_length", "maxLength": "max_length",
               "totalDigits": "total_digits", "fractionDigits": "fraction_digits"}[local]
        values[key] = int(facet.value)
    elif local in ("whiteSpace", ""):
        pass
    else:
        raise ConfigError(f"{where}: facet {local} is not supported")


def _is_builtin(t: Any) -> bool:
    return type(t).__name__ == "XsdAtomicBuiltin"


def documentation(component: Any) -> str:
    """The xs:documentation text of a schema component, whitespace collapsed ('' if none)."""
    annotation = getattr(component, "annotation", None)
    if annotation is None:
        return ""
    texts = ["".join(d.itertext()) for d in getattr(annotation, "documentation", ())]
    return collapse(" ".join(texts))
