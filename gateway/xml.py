"""The one hardened XML parser: every inbound or user-supplied byte is parsed here.

Refuses DTDs (internal or external), entity declarations and references, network access,
XInclude, documents over a size limit, trees deeper than a depth limit, and floods of
attributes or namespace declarations (per element and in total). Errors say what was
refused and on which line.

Why the attribute and namespace limits: inclusive C14N (which a signature may ask for, and
which runs before the signature is known to be good) costs, per element, about the square
of the namespaces in scope; 16,000 declarations on one root cost seconds, 4,096 in scope
over 2,000 elements minutes. The limits keep that cost small for any document that passes
the parser. libxml2's own text-node cap (10,000,000 characters, `huge_tree=False`) is lifted:
it would refuse a SOAP envelope carrying a valid message of 7.5 MB or more in base64, while
our own size limit already bounds every text node.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

from .errors import XmlSecurityError


@dataclass(frozen=True, slots=True)
class Limits:
    """Size, depth, attribute and namespace limits applied to every parsed document."""

    max_bytes: int = 10 * 1024 * 1024
    max_depth: int = 64
    max_attributes: int = 256            # attributes on one element
    max_attributes_total: int = 500_000  # attributes in the whole document
    max_namespaces: int = 32             # namespace declarations on one element
    max_namespaces_total: int = 64       # namespace declarations in the whole document
    # (messages, which are canonicalized, get tighter ones from [schemas]: 16 and 32)


DEFAULT_LIMITS = Limits()
_FEED = 1 << 20


def _new_parser() -> etree.XMLPullParser:
    # A pull parser that reports only namespace declarations: the tree is built as usual,
    # the declarations are counted as they come, and a flood stops the parse early.
    return etree.XMLPullParser(
        events=("start-ns",),
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=True,             # our max_bytes bounds every text node (see module doc)
        remove_comments=False,
        remove_pis=False,
        collect_ids=False,
    )


# lxml parsers are not thread-safe; one per thread.
_local = threading.local()


def _parser() -> etree.XMLPullParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def parse(xml: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._ElementTree:
    """Parse bytes into a tree, refusing anything unsafe; raises XmlSecurityError."""
    if not isinstance(xml, (bytes, bytearray, memoryview)):
        raise XmlSecurityError("XML must be given as bytes")
    if len(xml) > limits.max_bytes:
        raise XmlSecurityError(f"document is {len(xml)} bytes, over the limit of {limits.max_bytes}")
    data = bytes(xml)
    if not data.strip():
        raise XmlSecurityError("document is empty")
    root = _feed(data, limits)
    tree = root.getroottree()
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlSecurityError("DTDs are not allowed (document type declaration found)", line=1)
    _check_depth(tree, limits.max_depth)
    _check_attributes(tree, limits)
    return tree


def _feed(data: bytes, limits: Limits) -> etree._Element:
    """Parse `data` in chunks, counting namespace declarations; stop at the first excess."""
    parser = _parser()
    declared = 0
    try:
        for start in range(0, len(data), _FEED):
            parser.feed(data[start:start + _FEED])
            declared += sum(1 for _ in parser.read_events())
            if declared > limits.max_namespaces_total:
                line = data.count(b"\n", 0, start + _FEED) + 1
                raise XmlSecurityError(f"document declares more than {limits.max_namespaces_total} "
                                       "namespaces", line=min(line, data.count(b"\n") + 1))
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        _reset(parser)
        line = exc.lineno if exc.lineno else None
        raise XmlSecurityError(f"not well-formed XML: {exc.msg}", line=line) from None
    except XmlSecurityError:
        _reset(parser)
        raise
    declared += sum(1 for _ in parser.read_events())
    if declared > limits.max_namespaces_total:
        raise XmlSecurityError(f"document declares more than {limits.max_namespaces_total} namespaces")
    if declared > limits.max_namespaces:
        crowded = _crowded(limits.max_namespaces)(root)
        if crowded:
            raise XmlSecurityError(f"element {crowded[0].tag} declares more than {limits.max_namespaces} "
                                   "namespaces", line=crowded[0].sourceline)
    return root


def _reset(parser: etree.XMLPullParser) -> None:
    """Leave the thread's parser ready for the next document after an aborted one."""
    try:
        parser.close()
    except etree.XMLSyntaxError:
        pass
    _local.parser = None


@lru_cache(maxsize=8)
def _crowded(max_namespaces: int) -> etree.XPath:
    """Elements with more than N namespaces in scope beyond their parent's (compiled once);
    evaluated only when the whole document declares more than N."""
    return etree.XPath(f"//*[count(namespace::*) - count(../namespace::*) > {max_namespaces}]")


@lru_cache(maxsize=8)
def _too_deep(max_depth: int) -> etree.XPath:
    """An XPath that finds the first element nested deeper than max_depth (compiled once).

    Evaluated in C, it costs a fraction of a Python walk over every node. Entity references
    need no check of their own: with DTDs refused, an undeclared `&name;` is a parse error.
    """
    return etree.XPath("/" + "*/" * max_depth + "*")


def _check_depth(tree: etree._ElementTree, max_depth: int) -> None:
    """Refuse nesting deeper than max_depth, naming the line of the first offending element."""
    deep = _too_deep(max_depth)(tree)
    if deep:
        raise XmlSecurityError(f"document nests deeper than {max_depth} levels",
                               line=deep[0].sourceline)


@lru_cache(maxsize=8)
def _many_attributes(max_attributes: int) -> etree.XPath:
    """The first element with more than N attributes (a positional test: cheaper than count)."""
    return etree.XPath(f"/descendant::*[@*[{max_attributes + 1}]][1]")


_COUNT_ATTRIBUTES = etree.XPath("count(/descendant::*/@*)")


def _check_attributes(tree: etree._ElementTree, limits: Limits) -> None:
    """Refuse an element with too many attributes, or too many in the document (in C)."""
    many = _many_attributes(limits.max_attributes)(tree)
    if many:
        raise XmlSecurityError(f"element {many[0].tag} has more than {limits.max_attributes} attributes",
                               line=many[0].sourceline)
    total = int(_COUNT_ATTRIBUTES(tree))
    if total > limits.max_attributes_total:
        raise XmlSecurityError(f"document has {total} attributes, over the limit of "
                               f"{limits.max_attributes_total}")


def tostring(tree: etree._Element | etree._ElementTree) -> bytes:
    """Serialize a tree as UTF-8 bytes with an XML declaration."""
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
