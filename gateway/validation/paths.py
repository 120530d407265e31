"""Readable element paths for issues: local names from the root joined by `/`.

A 1-based `[n]` is added only where siblings share the local name, e.g.
`personenstand.urkundenantrag.0100/antragsteller/anschrift/postleitzahl` or
`akte.abgabe.0300/vorgang[2]/dokument[1]/dateiname`; an attribute ends in `/@name`. The
MAPPING layer turns these into record field paths, so the format is a contract.
"""
from __future__ import annotations

from lxml import etree

from ..errors import Issue


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


class ElementIssue(Issue):
    """An Issue whose path is built from its element only when it is read (and then kept):
    a message with many issues costs little more to validate than a valid one, and issues
    nobody prints (warnings a caller filters out) cost no path at all. Equal to, and
    rendered like, an Issue with the same fields."""

    __slots__ = ("element", "attribute", "_path")

    def __init__(self, message: str, element: etree._Element, line: int | None = None,
                 check: str = "schema", severity: str = "error", attribute: str = ""):
        for name, value in (("message", message), ("line", line), ("check", check),
                            ("severity", severity), ("element", element), ("attribute", attribute),
                            ("_path", None)):
            object.__setattr__(self, name, value)

    @property
    def path(self) -> str:  # type: ignore[override]  # shadows Issue's field: built on first use
        path = self._path
        if path is None:
            path = element_path(self.element, self.attribute)
            object.__setattr__(self, "_path", path)
        return path

    def _key(self) -> tuple:
        return (self.message, self.path, self.line, self.check, self.severity)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Issue):
            return self._key() == (other.message, other.path, other.line, other.check, other.severity)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Issue(message={self.message!r}, path={self.path!r}, line={self.line!r}, "
                f"check={self.check!r}, severity={self.severity!r})")


class ElementFinder:
    """Finds the element a libxml2 error (its XPath-ish `path` and line) refers to.

    libxml2 writes `/*/*[2]` for elements in a default namespace, so the path alone is
    ambiguous; the indexes are built lazily, only when a document has errors. The elements
    on the error's line are tried first (a path is computed for those only); the index of
    every element's path is the fallback.
    """

    __slots__ = ("_tree", "_index", "_by_line")

    def __init__(self, tree: etree._ElementTree):
        self._tree = tree
        self._index: dict[str, list[etree._Element]] | None = None
        self._by_line: dict[int, list[etree._Element]] | None = None

    def find(self, libxml_path: str | None, line: int | None) -> etree._Element | None:
        """The element for a libxml2 path; the line decides between lookalikes."""
        if line and libxml_path:
            if self._by_line is None:
                by_line: dict[int, list[etree._Element]] = {}
                for el in self._tree.getroot().iter(tag=etree.Element):
                    by_line.setdefault(el.sourceline, []).append(el)
                self._by_line = by_line
            getpath = self._tree.getpath
            for el in self._by_line.get(line, ()):
                if getpath(el) == libxml_path:
                    return el
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
