"""Compile an XSD with all its xs:import/xs:include chains from local files only.

Every document libxml2 asks for goes through `_LocalResolver`: a location the XML catalog
maps is served from the mapped file, a relative location from the local file next to its
includer; anything else (an unmapped http URL, say) is refused and reported as a
ConfigError naming the location. An `xs:import` without schemaLocation gets the file the
catalog maps its namespace to. The parser never touches the network.

`compile_schema` can also collect every document of the set (`documents`) and serve
rewritten ones in their place (`rewrite`): that is how code lists are compiled into the
schema (`codeschema.py`), in memory only.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from lxml import etree

from ..errors import ConfigError
from .xmlcatalog import XmlCatalog

XS = "http://www.w3.org/2001/XMLSchema"
_REFS = (f"{{{XS}}}import", f"{{{XS}}}include", f"{{{XS}}}redefine", f"{{{XS}}}override")
Rewrite = Callable[[str, bytes], bytes]   # (absolute file path, document bytes) -> bytes to compile


class _LocalResolver(etree.Resolver):
    """Serves schema documents from local files (catalog first); refuses everything else."""

    def __init__(self, catalog: XmlCatalog | None, rewrite: Rewrite | None = None,
                 documents: dict[str, bytes] | None = None):
        super().__init__()
        self.catalog = catalog
        self.refused: list[str] = []
        self.rewrite = rewrite
        self.documents = documents

    def serve(self, path: Path) -> bytes:
        """The bytes libxml2 gets for a local schema file (recorded, maybe rewritten)."""
        data = read_schema_doc(path, self.catalog)
        key = str(path.resolve())
        if self.documents is not None:
            self.documents[key] = data
        return self.rewrite(key, data) if self.rewrite is not None else data

    def local_path(self, url: str) -> Path | None:
        """The local file for a location libxml2 asks for, or None when there is none."""
        if self.catalog is not None:
            mapped = self.catalog.lookup(url)
            if mapped is not None:
                return mapped
        parts = urlsplit(url)
        if parts.scheme == "file":
            return Path(unquote(parts.path))
        if not parts.scheme and url:
            return Path(url)
        return None

    def resolve(self, url, pubid, context):
        path = self.local_path(url or "")
        if path is None or not path.is_file():
            self.refused.append(url if path is None else f"{url} (file {path} does not exist)")
            raise LookupError(url)  # aborts this load; reported by compile_schema
        return self.resolve_string(self.serve(path), context, base_url=str(path))


def read_schema_doc(path: Path, catalog: XmlCatalog | None) -> bytes:
    """The bytes of one schema document, with namespace-only imports given their mapped file."""
    data = path.read_bytes()
    if catalog is None or b"import" not in data:
        return data
    root = etree.fromstring(data, _plain_parser(), base_url=str(path))
    changed = False
    for imp in root.iterchildren(f"{{{XS}}}import"):
        ns = imp.get("namespace")
        if not imp.get("schemaLocation") and ns:
            mapped = catalog.lookup(ns)
            if mapped is not None:
                imp.set("schemaLocation", str(mapped))
                changed = True
    return etree.tostring(root) if changed else data


def _plain_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True,
                           huge_tree=False, remove_blank_text=False)


def compile_schema(file: str | os.PathLike, catalog: XmlCatalog | None = None, *,
                   rewrite: Rewrite | None = None,
                   documents: dict[str, bytes] | None = None) -> etree.XMLSchema:
    """Compile one XSD (its imports resolved locally); raises ConfigError naming what failed.

    `documents`, when given, receives {absolute path: bytes} of every document of the set;
    `rewrite(path, bytes)` may replace a document's bytes before libxml2 compiles them."""
    path = Path(file).resolve()
    if not path.is_file():
        raise ConfigError(f"schema {path} does not exist")
    resolver = _LocalResolver(catalog, rewrite, documents)
    parser = _plain_parser()
    parser.resolvers.add(resolver)
    try:
        doc = etree.fromstring(resolver.serve(path), parser, base_url=str(path))
        return etree.XMLSchema(doc.getroottree())
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, LookupError) as exc:
        if resolver.refused:
            raise ConfigError(
                f"schema {path}: cannot load {resolver.refused[0]!s}: it is not mapped by "
                f"{'the XML catalog ' + catalog.source if catalog else 'an XML catalog'} and is "
                "not a local file (the gateway never loads schemas from the network)") from None
        raise ConfigError(f"schema {path}: {_first_error(exc)}") from None


def _first_error(exc: Exception) -> str:
    log = getattr(exc, "error_log", None)
    entry = log[0] if log else None
    if entry is not None:
        return f"{entry.filename or ''}:{entry.line}: {entry.message}"
    return str(exc)
