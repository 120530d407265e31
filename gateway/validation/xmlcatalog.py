"""OASIS XML Catalogs 1.1 (the subset schema sets use): remote locations -> local files.

Supported entries: `uri`, `system`, `rewriteURI`, `rewriteSystem`, `uriSuffix`,
`systemSuffix`, `nextCatalog`, `group`, and `xml:base` on catalog/group/entries. A `uri`
entry whose name is a namespace maps an `xs:import` that has no schemaLocation. Lookup order
(spec section 7): exact match, then the longest rewrite prefix, then the longest suffix; a
catalog's own entries before its `nextCatalog`s. Only local files are ever returned.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree

from ..errors import ConfigError, XmlSecurityError
from ..xml import parse

CATALOG_NS = "urn:oasis:names:tc:entity:xmlns:xml:catalog"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
# entry tag -> (kind, attribute holding the identifier, attribute holding the target)
_ENTRIES = {
    "uri": ("exact", "name", "uri"),
    "system": ("exact", "systemId", "uri"),
    "rewriteURI": ("rewrite", "uriStartString", "rewritePrefix"),
    "rewriteSystem": ("rewrite", "systemIdStartString", "rewritePrefix"),
    "uriSuffix": ("suffix", "uriSuffix", "uri"),
    "systemSuffix": ("suffix", "systemIdSuffix", "uri"),
}


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: str      # exact | rewrite | suffix
    key: str       # identifier, prefix or suffix
    target: str    # absolute target URI (file: URL or path)


class XmlCatalog:
    """A loaded catalog (with its nextCatalogs) that maps identifiers to local file paths."""

    __slots__ = ("source", "_entries", "_next")

    def __init__(self, source: str, entries: tuple[_Entry, ...], next_catalogs: tuple["XmlCatalog", ...]):
        self.source = source
        self._entries = entries
        self._next = next_catalogs

    @classmethod
    def load(cls, file: str | os.PathLike, _seen: frozenset[str] = frozenset()) -> "XmlCatalog":
        """Read a catalog file; raises ConfigError naming the file on any problem."""
        path = Path(file).resolve()
        if str(path) in _seen:
            raise ConfigError(f"XML catalog {path}: nextCatalog loop")
        try:
            root = parse(path.read_bytes()).getroot()
        except OSError as exc:
            raise ConfigError(f"XML catalog {path}: {exc.strerror}") from None
        except XmlSecurityError as exc:
            raise ConfigError(f"XML catalog {path}: {exc}") from None
        if root.tag != f"{{{CATALOG_NS}}}catalog":
            raise ConfigError(f"XML catalog {path}: root must be catalog in namespace {CATALOG_NS}")
        entries: list[_Entry] = []
        nexts: list[str] = []
        _collect(root, path.as_uri(), entries, nexts, path)
        seen = _seen | {str(path)}
        return cls(str(path), tuple(entries), tuple(cls.load(_local(n, path), seen) for n in nexts))

    def lookup(self, identifier: str) -> Path | None:
        """The local file an identifier (schemaLocation, system id or namespace) maps to."""
        for kind in ("exact", "rewrite", "suffix"):
            found = self._match(kind, identifier)
            if found is not None:
                return found
        for nxt in self._next:
            found = nxt.lookup(identifier)
            if found is not None:
                return found
        return None

    def _match(self, kind: str, identifier: str) -> Path | None:
        best: _Entry | None = None
        for e in self._entries:
            if e.kind != kind:
                continue
            hit = (identifier == e.key if kind == "exact" else
                   identifier.startswith(e.key) if kind == "rewrite" else identifier.endswith(e.key))
            if hit and (best is None or len(e.key) > len(best.key)):
                best = e
                if kind == "exact":
                    break
        if best is None:
            return None
        target = best.target + identifier[len(best.key):] if kind == "rewrite" else best.target
        return _local(target, Path(self.source))


def _collect(el: etree._Element, base: str, entries: list, nexts: list, path: Path) -> None:
    """Walk catalog/group children, tracking xml:base, appending entries and nextCatalogs."""
    base = urljoin(base, el.get(_XML_BASE)) if el.get(_XML_BASE) else base
    for child in el:
        if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{CATALOG_NS}}}"):
            continue
        name = etree.QName(child).localname
        cbase = urljoin(base, child.get(_XML_BASE)) if child.get(_XML_BASE) else base
        if name == "group":
            _collect(child, base, entries, nexts, path)
        elif name == "nextCatalog":
            nexts.append(urljoin(cbase, _required(child, "catalog", path)))
        elif name in _ENTRIES:
            kind, key_attr, target_attr = _ENTRIES[name]
            key, target = _required(child, key_attr, path), _required(child, target_attr, path)
            entries.append(_Entry(kind, key, urljoin(cbase, target)))


def _required(el: etree._Element, attr: str, path: Path) -> str:
    value = el.get(attr)
    if not value:
        raise ConfigError(f"XML catalog {path}, line {el.sourceline}: "
                          f"<{etree.QName(el).localname}> needs the attribute {attr!r}")
    return value


def _local(uri: str, catalog: Path) -> Path:
    """A catalog target must be a local file: file: URL or path; anything else is refused."""
    parts = urlsplit(uri)
    if parts.scheme in ("", "file") or (len(parts.scheme) == 1 and os.name == "nt"):
        return Path(unquote(parts.path if parts.scheme else uri))
    raise ConfigError(f"XML catalog {catalog}: target {uri!r} is not a local file "
                      "(the gateway never loads schemas from the network)")
