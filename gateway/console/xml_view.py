"""A stored message's XML for reading: parsed with the hardened parser, indented, and cut into
(kind, text) tokens the template wraps in <span class="x-KIND"> (escaped like every value).
CPU-bound: call `tokens` in a thread."""
from __future__ import annotations

import re

from lxml import etree

from .. import xml as hardened
from ..errors import GatewayError

_TOKEN = re.compile(
    r"(?P<comment><!--.*?-->)|(?P<pi><\?.*?\?>)|(?P<tag></?[\w:.-]+)"
    r"|(?P<attr>\s+[\w:.-]+=)(?P<value>\"[^\"]*\"|'[^']*')|(?P<end>\s*/?>)|(?P<text>[^<]+|<)", re.S)


def pretty(xml: bytes, limits: hardened.Limits = hardened.DEFAULT_LIMITS) -> str:
    """The document indented by two spaces (the bytes as stored when they do not parse)."""
    try:
        root = hardened.parse(xml, limits).getroot()
    except (GatewayError, etree.XMLSyntaxError, ValueError):
        return xml.decode("utf-8", "replace")
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")


def tokens(xml: bytes, limits: hardened.Limits = hardened.DEFAULT_LIMITS) -> list[tuple[str, str]]:
    """(kind, text) pieces of the pretty-printed document: comment, pi, tag, attr, value, end, text."""
    out = []
    for m in _TOKEN.finditer(pretty(xml, limits)):
        for kind in ("comment", "pi", "tag", "attr", "value", "end", "text"):
            if m.group(kind) is not None:
                out.append((kind, m.group(kind)))
    return out
