"""Record -> lxml tree by walking a plan; every problem is collected with its record field path.

The walk checks what the plan knows (unknown keys, missing required fields, JSON types,
array sizes, choice alternatives, facets) and creates elements with `etree.SubElement` in
schema order. Problems do not stop the walk, so one run reports them all; the caller gets
either a complete tree or `ValidationFailed` whose issues carry record paths such as
`antragsteller.anschrift.postleitzahl` or `anlagen[0].sha256`.
"""
from __future__ import annotations

import difflib
from typing import Any

from lxml import etree

from ..errors import Issue, ValidationFailed
from .plan import VALUE_KEY, ElementPlan, GroupPlan, TypePlan
from .plan import alternative_keys as _keys
from .simple import Invalid, json_type

MAX_ISSUES = 100
_MISSING = object()
_SubElement = etree.SubElement


def build_tree(plan: ElementPlan, record: Any, *, nsmap: dict, defaults: bool = True) -> etree._Element:
    """Build the root element for `record`; raises ValidationFailed listing every problem."""
    errors: list[Issue] = []
    if type(record) is not dict:
        raise ValidationFailed([Issue(f"the record must be a JSON object, got {json_type(record)}",
                                      check="mapping")])
    attrib, matched = _attributes(plan.type, record, "", errors, defaults)
    root = etree.Element(plan.tag, attrib, nsmap=nsmap)
    _content(plan.type, record, root, "", errors, defaults, matched)
    if errors:
        raise ValidationFailed(errors[:MAX_ISSUES])
    return root


def join(path: str, key: str) -> str:
    """Record path of `key` inside the object at `path` ('' is the record itself)."""
    return f"{path}.{key}" if path else key


def _attributes(tp: TypePlan, record: dict, path: str, errors: list, defaults: bool):
    attrib = {}
    matched = 0
    for a in tp.attributes:
        value = record.get(a.name, _MISSING)
        if value is _MISSING:
            if a.fixed is not None and defaults:
                attrib[a.name] = a.fixed
            elif a.required:
                errors.append(Issue("is missing (a required attribute)", join(path, a.name), check="mapping"))
            continue
        matched += 1
        try:
            text = a.type.convert(value)
        except Invalid as exc:
            errors.append(Issue(str(exc), join(path, a.name), check="schema"))
            continue
        if a.fixed is not None and text != a.fixed:
            errors.append(Issue(f"must be {a.fixed!r} (fixed by the schema), not {text!r}",
                                join(path, a.name), check="schema"))
        else:
            attrib[a.name] = text
    return attrib, matched


def _content(tp: TypePlan, record: dict, element, path: str, errors: list, defaults: bool,
             matched: int) -> None:
    if tp.kind == "simplecontent":
        value = record.get(VALUE_KEY, _MISSING)
        if value is _MISSING:
            errors.append(Issue("is missing (the element's value)", join(path, VALUE_KEY), check="mapping"))
        else:
            matched += 1
            try:
                element.text = tp.value.convert(value)
            except Invalid as exc:
                errors.append(Issue(str(exc), join(path, VALUE_KEY), check="schema"))
    else:
        for child in tp.children:
            value = record.get(child.key, _MISSING)
            if value is _MISSING:
                if child.required:
                    errors.append(Issue("is missing", join(path, child.key), check="mapping"))
                continue
            matched += 1
            if child.max != 1:
                _repeated(child, value, element, join(path, child.key), errors, defaults)
            elif child.convert is not None:          # simple element: the hot path, inlined
                try:
                    _SubElement(element, child.tag).text = child.convert(value)
                except Invalid as exc:
                    errors.append(Issue(str(exc), join(path, child.key), check="schema"))
            else:
                _element(child, value, element, join(path, child.key), errors, defaults)
        for group in tp.checks:
            _check_group(group, record, path, errors)
    if matched != len(record):
        _unknown(tp, record, path, errors)


def _repeated(child: ElementPlan, value: Any, parent, where: str, errors: list, defaults: bool) -> None:
    if type(value) is not list:
        errors.append(Issue(f"expected an array (this field may repeat), got {json_type(value)}",
                            where, check="mapping"))
        return
    count = len(value)
    if count == 0:
        errors.append(Issue("is an empty array; leave the field out instead", where, check="mapping"))
    elif child.max is not None and count > child.max:
        errors.append(Issue(f"has {count} items, at most {child.max} are allowed", where, check="mapping"))
    elif count < child.min:
        errors.append(Issue(f"has {count} items, at least {child.min} are required", where, check="mapping"))
    for i, item in enumerate(value):
        _element(child, item, parent, f"{where}[{i}]", errors, defaults)


def _element(child: ElementPlan, value: Any, parent, where: str, errors: list, defaults: bool) -> None:
    tp = child.type
    if child.convert is not None:
        try:
            text = child.convert(value)
        except Invalid as exc:
            errors.append(Issue(str(exc), where, check="schema"))
            return
        _SubElement(parent, child.tag).text = text
        return
    if type(value) is not dict:
        errors.append(Issue(f"expected an object, got {json_type(value)}", where, check="mapping"))
        return
    attrib, matched = _attributes(tp, value, where, errors, defaults)
    element = _SubElement(parent, child.tag, attrib)
    _content(tp, value, element, where, errors, defaults, matched)


def _unknown(tp: TypePlan, record: dict, path: str, errors: list) -> None:
    for key in record:
        if key not in tp.keys:
            close = difflib.get_close_matches(str(key), sorted(tp.keys), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = "" if close else f" (known: {', '.join(sorted(tp.keys)) or 'none'})"
            errors.append(Issue(f"unknown field{hint}{known}", join(path, str(key)), check="mapping"))


def _check_group(group: GroupPlan, record: dict, path: str, errors: list) -> None:
    if group.min == 0 and group.keys.isdisjoint(record):
        return
    _require(group, record, path, errors)


def _require(group: GroupPlan, record: dict, path: str, errors: list) -> None:
    """Check an active group: a sequence's required members, a choice's single alternative."""
    if group.model == "sequence":
        for p in group.particles:
            if isinstance(p, ElementPlan):
                if p.min >= 1 and p.key not in record:
                    errors.append(Issue("is missing", join(path, p.key), check="mapping"))
            elif p.model == "sequence" and p.min >= 1:
                _require(p, record, path, errors)
            else:
                _check_group(p, record, path, errors)
        return
    present = [p for p in group.particles if not _keys(p).isdisjoint(record)]
    if len(present) > 1:
        given = [", ".join(sorted(_keys(p) & record.keys())) for p in present]
        errors.append(Issue(f"give only one of the alternatives {' | '.join(_names(group))}; "
                            f"the record has {' and '.join(given)}", path, check="mapping"))
    elif present:
        if isinstance(present[0], GroupPlan):
            _require(present[0], record, path, errors)
    elif group.min >= 1 and not group.emptiable:
        errors.append(Issue(f"one of the alternatives {' | '.join(_names(group))} is required",
                            path, check="mapping"))


def _names(group: GroupPlan) -> list[str]:
    names = []
    for p in group.particles:
        if isinstance(p, ElementPlan):
            names.append(p.key)
        else:
            first = [q.key for q in p.particles if isinstance(q, ElementPlan)]
            names.append("+".join(first) if first else "+".join(sorted(p.keys)))
    return names
