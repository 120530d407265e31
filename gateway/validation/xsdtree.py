"""Reading and editing XSD documents as lxml trees, for the in-memory rewrites that compile
code lists (`codeschema.py`) and value rules (`ruleschema.py`) into a schema set."""
from __future__ import annotations

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
COMPLEX = f"{{{XS}}}complexType"
SIMPLE = f"{{{XS}}}simpleType"
ELEMENT = f"{{{XS}}}element"
ATTRIBUTE = f"{{{XS}}}attribute"
INLINE_TYPES = (SIMPLE, COMPLEX)
_OPEN = tuple(f"{{{XS}}}{n}" for n in ("any", "anyAttribute", "redefine", "override"))


def parse_schema_documents(documents: dict[str, bytes]) -> dict[str, etree._Element]:
    """{path: xs:schema root} of schema documents (as the loader collected them)."""
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    return {path: etree.fromstring(data, parser) for path, data in documents.items()}


def serialize(root: etree._Element) -> bytes:
    """A rewritten schema document as bytes for the loader."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def has_open_content(root: etree._Element) -> bool:
    """Wildcards, redefinitions or elements of anyType: content no static analysis can see."""
    if next(root.iter(*_OPEN), None) is not None:
        return True
    for el in root.iter(ELEMENT):
        if el.get("ref") is not None:
            continue
        typ = el.get("type")
        if typ is None and not any(c.tag in INLINE_TYPES for c in el):
            return True
        if typ is not None and qname(el, typ) == (XS, "anyType"):
            return True
    return False


def owner(el: etree._Element) -> etree._Element | None:
    """The nearest enclosing xs:complexType of a declaration (None: global or in a group)."""
    node = el.getparent()
    while node is not None:
        if node.tag == COMPLEX:
            return node
        node = node.getparent()
    return None


def qname(el: etree._Element, value: str) -> tuple[str, str]:
    """A QName attribute value resolved with the element's in-scope namespaces."""
    prefix, _, local = value.rpartition(":")
    return el.nsmap.get(prefix or None, ""), local
