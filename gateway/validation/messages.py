"""Turn libxml2's schema validation messages into short texts a clerk can act on.

libxml2 writes e.g. "Element 'postleitzahl': [facet 'pattern'] The value '123' is not
accepted by the pattern '\\d{5}'."; we say "'123' does not match the required pattern \\d{5}".
The element is named by the issue's path, so messages do not repeat it. Each rule is one
(regex, template) pair below; an unknown text falls back to libxml2's, minus the noise.
"""
from __future__ import annotations

import re
from functools import lru_cache

# "Element '{ns}name'" or "Element 'name', attribute 'x'" prefix of every libxml2 message
_PREFIX = re.compile(r"^Element '(?P<el>[^']*)'(?:, attribute '(?P<attr>[^']*)')?: ")

_TYPES = {
    "date": "a date (YYYY-MM-DD)", "dateTime": "a date and time (YYYY-MM-DDThh:mm:ss)",
    "time": "a time (hh:mm:ss)", "gYear": "a year (YYYY)", "gYearMonth": "a month (YYYY-MM)",
    "decimal": "a decimal number", "integer": "a whole number", "int": "a whole number",
    "long": "a whole number", "short": "a whole number",
    "nonNegativeInteger": "a whole number of 0 or more",
    "positiveInteger": "a whole number of 1 or more", "boolean": "true or false",
    "base64Binary": "base64 data", "anyURI": "a URI", "hexBinary": "hexadecimal data",
    "duration": "a duration (e.g. P30D)", "language": "a language code",
}


def _names(group: str) -> str:
    """'( a, b )' list from libxml2 -> "'a', 'b'" with namespace braces removed."""
    items = [i.strip() for i in group.split(",") if i.strip()]
    return ", ".join(f"'{_local(i)}'" for i in items)


def _local(name: str) -> str:
    return name.rpartition("}")[2]


def _type(name: str) -> str:
    return _TYPES.get(_local(name).removeprefix("xs:"), f"of type {_local(name)}")


# (pattern on the message after the prefix, function building the clerk text)
_RULES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"\[facet 'pattern'\] The value '(.*)' is not accepted by the pattern '(.*)'\.$", re.S),
     lambda m: f"'{m[1]}' does not match the required pattern {m[2]}"),
    (re.compile(r"\[facet 'enumeration'\] The value '(.*)' is not an element of the set \{(.*)\}\.$", re.S),
     lambda m: f"'{m[1]}' is not one of the allowed values {m[2]}"),
    (re.compile(r"\[facet 'maxLength'\] The value has a length of '(\d+)'; this exceeds the allowed maximum length of '(\d+)'\.$"),
     lambda m: f"too long: {m[1]} characters, at most {m[2]} allowed"),
    (re.compile(r"\[facet 'minLength'\] The value has a length of '(\d+)'; this underruns the allowed minimum length of '(\d+)'\.$"),
     lambda m: f"too short: {m[1]} characters, at least {m[2]} required"),
    (re.compile(r"\[facet 'length'\] The value has a length of '(\d+)'; this differs from the allowed length of '(\d+)'\.$"),
     lambda m: f"must be exactly {m[2]} characters long, not {m[1]}"),
    (re.compile(r"\[facet 'minInclusive'\] The value '(.*)' is less than the minimum value allowed \('(.*)'\)\.$"),
     lambda m: f"{m[1]} is less than the minimum {m[2]}"),
    (re.compile(r"\[facet 'maxInclusive'\] The value '(.*)' is greater than the maximum value allowed \('(.*)'\)\.$"),
     lambda m: f"{m[1]} is greater than the maximum {m[2]}"),
    (re.compile(r"\[facet 'minExclusive'\] The value '(.*)' must be greater than '(.*)'\.$"),
     lambda m: f"{m[1]} must be greater than {m[2]}"),
    (re.compile(r"\[facet 'maxExclusive'\] The value '(.*)' must be less than '(.*)'\.$"),
     lambda m: f"{m[1]} must be less than {m[2]}"),
    (re.compile(r"\[facet 'totalDigits'\] The value '(.*)' has more digits than are allowed \('(\d+)'\)\.$"),
     lambda m: f"'{m[1]}' has more than {m[2]} digits"),
    (re.compile(r"\[facet 'fractionDigits'\] The value '(.*)' has more fractional digits than are allowed \('(\d+)'\)\.$"),
     lambda m: f"'{m[1]}' has more than {m[2]} decimal places"),
    (re.compile(r"Missing child element\(s\)\. Expected is \( (.*) \)\.$"),
     lambda m: f"missing required element {_names(m[1])}"),
    (re.compile(r"Missing child element\(s\)\. Expected is one of \( (.*) \)\.$"),
     lambda m: f"missing required element: one of {_names(m[1])}"),
    (re.compile(r"This element is not expected\. Expected is \( (.*) \)\.$"),
     lambda m, el: f"unexpected element '{el}', expected {_names(m[1])}"),
    (re.compile(r"This element is not expected\. Expected is one of \( (.*) \)\.$"),
     lambda m, el: f"unexpected element '{el}', expected one of {_names(m[1])}"),
    (re.compile(r"This element is not expected\.$"),
     lambda m, el: f"unexpected element '{el}'"),
    (re.compile(r"'(.*)' is not a valid value of the (?:local )?(?:atomic|list|union) type(?: '(.*)')?\.$", re.S),
     lambda m: f"'{m[1]}' is not {_type(m[2])}" if m[2] else f"'{m[1]}' is not a valid value"),
    (re.compile(r"The value '(.*)' does not match the fixed value constraint '(.*)'\.$", re.S),
     lambda m, el, attr: (f"attribute '{attr}' must be '{m[2]}', not '{m[1]}'" if attr
                          else f"must be '{m[2]}', not '{m[1]}'")),
    (re.compile(r"The attribute '(.*)' is required but missing\.$"),
     lambda m: f"missing required attribute '{m[1]}'"),
    (re.compile(r"The attribute '(.*)' is not allowed\.$"),
     lambda m: f"attribute '{m[1]}' is not allowed"),
    (re.compile(r"No matching global declaration available for the validation root\.$"),
     lambda m, el: f"'{el}' is not a message of this schema"),
    (re.compile(r"Character content other than whitespace is not allowed because the content type is 'element-only'\.$"),
     lambda m: "text is not allowed here, only elements"),
    (re.compile(r"Element content is not allowed, because the content type is a simple type definition\.$"),
     lambda m: "child elements are not allowed here, only a value"),
    (re.compile(r"The content must not contain element nodes\.$"),
     lambda m: "child elements are not allowed here"),
    (re.compile(r"Element content is not allowed, because the type definition is simple\.$"),
     lambda m: "child elements are not allowed here, only a value"),
]


@lru_cache(maxsize=1024)
def rewrite(libxml_message: str) -> tuple[str, str]:
    """(clerk text, attribute name or "") for one libxml2 schema validation message (cached:
    a document with many issues repeats the same few texts)."""
    text = libxml_message.strip()
    prefix = _PREFIX.match(text)
    el = _local(prefix["el"]) if prefix else ""
    attr = prefix["attr"] or "" if prefix else ""
    body = text[prefix.end():] if prefix else text
    for pattern, build in _RULES:
        m = pattern.match(body)
        if m:
            n = build.__code__.co_argcount
            return (build(m) if n == 1 else build(m, el) if n == 2 else build(m, el, attr)), attr
    body = re.sub(r"^\[facet '\w+'\] ", "", body).rstrip(".")
    return re.sub(r"\{[^}]*\}", "", body), attr

