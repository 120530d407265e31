"""lxml XSD validation with errors reported as Issues: by record path for trees we built,
by readable XML path (`root/child/grandchild[2]`) and line for trees we parsed."""
from __future__ import annotations

import re

from lxml import etree

from ..errors import Issue

_PREFIX = re.compile(r"^Element '[^']*'(?:, attribute '([^']*)')?: ")


def xml_path(element: etree._Element) -> str:
    """Readable path of an element: local names joined by '/', `[n]` (1-based) among
    same-named siblings, e.g. `akte.abgabe.0300/akte/vorgang[2]/dokument`."""
    parts = []
    node = element
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name = f"{name}[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/".join(reversed(parts))


def schema_issues(schema: etree.XMLSchema, root: etree._Element,
                  paths: dict[etree._Element, str] | None = None) -> list[Issue]:
    """Validate `root`; each error becomes an Issue at its record path (when `paths` maps
    elements to record paths) or at its XML path and line."""
    if schema.validate(root):
        return []
    tree = root.getroottree()
    by_xpath = {tree.getpath(e): e for e in root.iter() if isinstance(e.tag, str)}
    issues = []
    for entry in schema.error_log:
        element = by_xpath.get(entry.path or "")
        match = _PREFIX.match(entry.message)
        attribute = match.group(1) if match else None
        message = entry.message[match.end():] if match else entry.message
        message = message.rstrip(".") if message.count(".") == 1 else message
        if paths is not None:
            base = paths.get(element, "") if element is not None else ""
            path = f"{base}.{attribute}" if attribute and base else attribute or base
            issues.append(Issue(message, path, check="schema"))
        else:
            path = xml_path(element) if element is not None else ""
            if attribute:
                path = f"{path}/@{attribute}"
            issues.append(Issue(message, path, line=entry.line or None, check="schema"))
    return issues
