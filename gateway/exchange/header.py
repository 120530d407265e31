"""The routing facts of a message (id, type, creation time, author, reader), read through the
header profile of its standard. The one module that reads message headers: the inbound
pipeline, receipts, duplicate detection, routing and submit all ask `Headers.read`.

Profiles (docs/standards.md), named by `header` in a standard's standard.toml:
- `xoev-g2g` (the default, and our own types): the `nachrichtenkopf.g2g` child of the root;
- `xdomea`: the `Kopf` child: `ProzessID`, `Nachrichtentyp/code`, `Erstellungszeitpunkt`,
  author/reader from `Absender`/`Empfaenger` `Behoerdenkennung`: `Praefix/code` followed by
  `Kennung/code` (a ':' put between them when the prefix does not end in one), so
  prefix "ags:" and code "09162000" are the authority id "ags:09162000";
- `xpath`: a `[header]` table with namespace prefixes and one XPath per fact, compiled once
  here at start-up (a ConfigError names the standard and the fact that does not compile).

A root whose namespace belongs to no configured standard is read with `xoev-g2g`; the
validator then refuses it by name. A fact the profile cannot find is a MessageError naming
the standard and the fact (and the path where the profile looks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from lxml import etree

from ..errors import ConfigError, MessageError
from ..validation.standards import HEADER_FACTS, OWN_NAME, Standard


@dataclass(frozen=True, slots=True)
class Header:
    """The routing facts of a message. `root` is the root's local name (the stored message
    type); `message_type` the type the header names (a code); `standard` the standard's name."""

    root: str
    message_uuid: str
    message_type: str
    author: str
    reader: str
    created: str = ""
    standard: str = OWN_NAME

    def as_dict(self) -> dict:
        """The facts as JSON for the backend (API, webhook, drop folder)."""
        return {"standard": self.standard, "root": self.root, "message_id": self.message_uuid,
                "message_type": self.message_type, "created": self.created,
                "author": self.author, "reader": self.reader}


Profile = Callable[[etree._Element, str], Header]   # (root, standard name) -> Header


def _missing(standard: str, fact: str, where: str) -> MessageError:
    return MessageError(f"{standard}: header fact {fact} is missing ({where})")


def _g2g(root: etree._Element, standard: str) -> Header:
    name = etree.QName(root).localname
    head = root.find("nachrichtenkopf.g2g")
    if head is None:
        raise MessageError(f"{name}: nachrichtenkopf.g2g is missing")

    def text(path: str) -> str:
        value = _whole(head, path).strip()
        if not value:
            raise MessageError(f"nachrichtenkopf.g2g/{path} is missing")
        return value

    return Header(name, text("identifikation.nachricht/nachrichtenUUID"),
                  text("identifikation.nachricht/nachrichtentyp/code"), text("autor/kennung"),
                  text("leser/kennung"), _whole(head, "identifikation.nachricht/erstellungszeitpunkt").strip(),
                  standard)


def _whole(head: etree._Element, path: str) -> str:
    """The whole text of the element at `path` ('' if absent). findtext would stop at a
    comment inside the value; comments are not signed (C14N without comments), so one added
    in transit made the unverified header differ from the signed one (issue 14, item 9)."""
    node = head.find(path)
    return "".join(node.itertext()) if node is not None else ""


def _xdomea(root: etree._Element, standard: str) -> Header:
    name = etree.QName(root).localname
    head = root.find("{*}Kopf")
    if head is None:
        raise MessageError(f"{standard}: {name}: Kopf is missing")

    def text(fact: str, path: str) -> str:
        value = " ".join(_whole(head, path).split())
        if not value:
            raise _missing(standard, fact, f"Kopf/{path.replace('{*}', '')}")
        return value

    def authority(fact: str, party: str) -> str:
        kennung = text(fact, f"{{*}}{party}/{{*}}Behoerdenkennung/{{*}}Kennung/code")
        prefix = text(fact, f"{{*}}{party}/{{*}}Behoerdenkennung/{{*}}Praefix/code")
        return prefix + kennung if prefix.endswith(":") else f"{prefix}:{kennung}"

    return Header(name, text("message_id", "{*}ProzessID"), text("message_type", "{*}Nachrichtentyp/code"),
                  authority("author", "Absender"), authority("reader", "Empfaenger"),
                  text("created", "{*}Erstellungszeitpunkt"), standard)


def _xpath_profile(std: Standard) -> Profile:
    """Compile the `[header]` XPaths of a standard once; ConfigError naming standard and fact."""
    namespaces = dict(std.header.namespaces)
    compiled = {}
    for fact, expr in std.header.facts:
        try:
            compiled[fact] = etree.XPath(expr, namespaces=namespaces, smart_strings=False)
        except etree.XPathSyntaxError as exc:
            raise ConfigError(f"standard {std.name}: header fact {fact}: XPath {expr!r} does not "
                              f"compile ({exc})") from None
    exprs = dict(std.header.facts)

    def read(root: etree._Element, standard: str) -> Header:
        facts = {}
        for fact in HEADER_FACTS:
            try:
                value = _string(compiled[fact](root))
            except etree.XPathEvalError as exc:
                raise MessageError(f"{standard}: header fact {fact}: {exprs[fact]}: {exc}") from None
            if not value:
                raise _missing(standard, fact, exprs[fact])
            facts[fact] = value
        return Header(etree.QName(root).localname, facts["message_id"], facts["message_type"],
                      facts["author"], facts["reader"], facts["created"], standard)

    return read


def _string(result) -> str:
    """The string value of an XPath result: the first node of a node-set, or the value."""
    if isinstance(result, list):
        if not result:
            return ""
        result = result[0]
    if isinstance(result, etree._Element):
        result = "".join(result.itertext())
    elif isinstance(result, bool) or result is None:
        return ""
    elif isinstance(result, float):
        result = str(int(result)) if result.is_integer() else str(result)
    return " ".join(str(result).split())


_BUILTIN: dict[str, Profile] = {"xoev-g2g": _g2g, "xdomea": _xdomea}


class Headers:
    """The header profiles of the configured standards, by root namespace; build once."""

    __slots__ = ("_by_ns",)

    def __init__(self, standards: Iterable[Standard] = ()):
        by_ns: dict[str, tuple[Profile, str]] = {}
        for std in standards:
            profile = (_xpath_profile(std) if std.header.profile == "xpath"
                       else _BUILTIN[std.header.profile])
            for spec in std.schemas:
                by_ns.setdefault(spec.namespace, (profile, std.name))
        self._by_ns = by_ns

    def profile_of(self, namespace: str) -> str:
        """The standard name serving a namespace ("" when none is configured)."""
        found = self._by_ns.get(namespace)
        return found[1] if found else ""

    def read(self, root: etree._Element | etree._ElementTree) -> Header:
        """The routing facts of a message tree; MessageError naming what is missing."""
        if isinstance(root, etree._ElementTree):
            root = root.getroot()
        ns = etree.QName(root).namespace or ""
        found = self._by_ns.get(ns)
        if found is not None:
            return found[0](root, found[1])
        try:
            return _g2g(root, OWN_NAME)
        except MessageError as exc:
            if not self._by_ns:
                raise
            raise MessageError(f"{exc}; namespace '{ns}' belongs to no configured standard "
                               "(gateway standards lists them)") from None


_DEFAULT = Headers()


def read_header(root: etree._Element | etree._ElementTree) -> Header:
    """The routing facts of one of our own messages (profile xoev-g2g)."""
    return _DEFAULT.read(root)


def routing_facts(header: Header) -> dict[str, str]:
    """The header as the routing facts an encrypted message carries unencrypted
    (gateway.crypto.encryption: authorities, id, type, time, standard; no personal data)."""
    return {"root": header.root, "uuid": header.message_uuid, "type": header.message_type,
            "author": header.author, "reader": header.reader, "created": header.created,
            "standard": header.standard}


def from_routing_facts(facts: dict[str, str]) -> Header:
    """The claimed header of an encrypted message; MessageError when a fact is missing."""
    missing = [k for k in ("root", "uuid", "type", "author", "reader") if not facts.get(k)]
    if missing:
        raise MessageError(f"encrypted message without routing facts ({', '.join(missing)} missing): "
                           "cannot tell whom to answer")
    return Header(facts["root"], facts["uuid"], facts["type"], facts["author"], facts["reader"],
                  facts.get("created", ""), facts.get("standard") or OWN_NAME)
