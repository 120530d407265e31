"""lxml tree -> record by walking a plan, plus the element -> record path index used to
report XSD errors against record fields.

The tree is expected to be schema-valid (the registry validates before reading), so
children are looked up by tag in the type's plan; the record keeps only what the schema
defines, with values converted to their JSON kinds.
"""
from __future__ import annotations

from typing import Any

from lxml import etree

from ..errors import MappingError
from .plan import VALUE_KEY, ElementPlan, TypePlan


def read_tree(plan: ElementPlan, root: etree._Element) -> dict:
    """The record held by `root` (an element of `plan`'s type)."""
    return _read(plan.type, root, plan.key)


def _read(tp: TypePlan, element: etree._Element, path: str) -> Any:
    record: dict[str, Any] = {}
    get = element.get
    for a in tp.attributes:
        text = get(a.name)
        if text is not None:
            record[a.name] = a.type.from_text(text)
    if tp.kind == "simplecontent":
        record[VALUE_KEY] = tp.value.from_text(_text(element))
        return record
    by_tag = tp.by_tag
    for child in element:
        plan = by_tag.get(child.tag)
        if plan is None:
            if isinstance(child.tag, str):
                raise MappingError(f"element {etree.QName(child).localname!r} is not part of "
                                   "the schema here", path)
            continue                                  # comment or processing instruction
        ctp = plan.type
        if ctp.kind == "simple":
            value = ctp.value.from_text(_text(child))
        else:
            value = _read(ctp, child, f"{path}.{plan.key}")
        if plan.max == 1:
            record[plan.key] = value
        else:
            record.setdefault(plan.key, []).append(value)
    return record


def _text(element: etree._Element) -> str:
    if len(element):                                  # text split by comments or PIs
        return _joined(element)
    return element.text or ""


def _joined(element: etree._Element) -> str:
    parts = [element.text or ""]
    for node in element:
        parts.append(node.tail or "")
    return "".join(parts)


def record_paths(plan: ElementPlan, root: etree._Element) -> dict[etree._Element, str]:
    """Map every element the plan knows to its record path ('' for the root)."""
    paths: dict[etree._Element, str] = {root: ""}
    stack: list[tuple[TypePlan, etree._Element, str]] = [(plan.type, root, "")]
    while stack:
        tp, element, path = stack.pop()
        counts: dict[str, int] = {}
        for child in element:
            cp = tp.by_tag.get(child.tag) if tp.by_tag else None
            if cp is None:
                continue
            where = f"{path}.{cp.key}" if path else cp.key
            if cp.max != 1:
                index = counts.get(cp.key, 0)
                counts[cp.key] = index + 1
                where = f"{where}[{index}]"
            paths[child] = where
            stack.append((cp.type, child, where))
    return paths
