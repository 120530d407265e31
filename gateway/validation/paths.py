"""Readable element paths for issues: local names from the root joined by `/`.

A 1-based `[n]` is added only where siblings share the local name, e.g.
`personenstand.urkundenantrag.0100/antragsteller/anschrift/postleitzahl` or
`akte.abgabe.0300/vorgang[2]/dokument[1]/dateiname`; an attribute ends in `/@name`. The
MAPPING layer turns these into record field paths, so the format is a contract.
"""
from __future__ import annotations

from lxml import etree


def local_name(tag: str) -> str:
    """`{ns}name` -> `name`."""
    return tag.rpartition("}")[2]


def element_path(el: etree._Element, attribute: str = "") -> str:
    """The readable path of an element (and optionally one of its attributes)."""
    steps = []
    node: etree._Element | None = el
    while node is not None:
        name = local_name(node.tag)
        parent = node.getparent()
        if parent is not None:
            same = [s for s in parent.iterchildren(tag=etree.Element) if local_name(s.tag) == name]
            if len(same) > 1:
                name = f"{name}[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    steps.reverse()
    if attribute:
        steps.append("@" + local_name(attribute))
    return "/".join(steps)


class ElementFinder:
    """Finds the element a libxml2 error (its XPath-ish `path` and line) refers to.

    libxml2 writes `/*/*[2]` for elements in a default namespace, so the path alone is
    ambiguous; the index is built lazily, only when a document has errors.
    """

    __slots__ = ("_tree", "_index")

    def __init__(self, tree: etree._ElementTree):
        self._tree = tree
        self._index: dict[str, list[etree._Element]] | None = None

    def find(self, libxml_path: str | None, line: int | None) -> etree._Element | None:
        """The element for a libxml2 path; the line decides between lookalikes."""
        if self._index is None:
            index: dict[str, list[etree._Element]] = {}
            getpath = self._tree.getpath
            for el in self._tree.getroot().iter(tag=etree.Element):
                index.setdefault(getpath(el), []).append(el)
            self._index = index
        candidates = self._index.get(libxml_path or "", [])
        if len(candidates) > 1 and line:
            on_line = [c for c in candidates if c.sourceline == line]
            candidates = on_line or candidates
        return candidates[0] if candidates else None
