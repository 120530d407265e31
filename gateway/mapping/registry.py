"""The registry of message types: schemas read once, each root element compiled to a plan.

`Registry.load(xsd_dir)` reads every family schema `messages/<family>/<family>.xsd` with
xmlschema (component model only, local files only), compiles each global element into a
plan, compiles the family schema for lxml (the fast validator), and reads the genericode
lists in `codelists/`. After that, building and parsing are pure functions of their input.
"""
from __future__ import annotations

import difflib
import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lxml import etree

from .. import xml as hardened
from ..errors import ConfigError, NotFound, ValidationFailed
from ..validation.codelists import CodeLists
from .builder import build_tree
from .plan import Compiler, ElementPlan
from .reader import read_tree
from .simple import documentation
from .xsderrors import schema_issues

SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"

@dataclass(frozen=True, slots=True)
class MessageType:
    """One message type: id (= root local name), standard, version, description, plan."""

    id: str
    standard: str
    version: str
    description: str
    namespace: str
    family: str
    prefix: str
    plan: ElementPlan = field(repr=False)
    schema: etree.XMLSchema = field(repr=False, compare=False)
    source: Path = field(repr=False, default=Path())
    lock: Any = field(repr=False, compare=False, default_factory=threading.Lock)  # guards `schema`

    @property
    def tag(self) -> str:
        """The root element's tag in lxml (Clark) notation."""
        return self.plan.tag


class Registry:
    """All known message types; builds records into XML and parses XML into records."""

    def __init__(self, types: Mapping[str, MessageType], codelists: CodeLists | None = None):
        self._types = dict(sorted(types.items()))
        self._by_tag = {t.tag: t for t in self._types.values()}
        self.codelists = codelists if codelists is not None else CodeLists()
        self._schemas: dict[str, dict] = {}

    @classmethod
    def load(cls, xsd_dir: Path | str | None = None) -> "Registry":
        """Read and compile every family schema under `xsd_dir/messages/` (default: shipped xsd/)."""
        if xsd_dir is None:
            from ..resources import xsd_dir as shipped
            xsd_dir = shipped()
        root = Path(xsd_dir)
        families = sorted((root / "messages").glob("*/*.xsd"))
        if not families:
            raise ConfigError(f"{root}: no family schemas found under messages/<family>/*.xsd")
        types: dict[str, MessageType] = {}
        for path in families:
            for message_type in _load_family(path):
                if message_type.id in types:
                    raise ConfigError(f"{path}: message type {message_type.id} is also defined in "
                                      f"{types[message_type.id].source}")
                types[message_type.id] = message_type
        lists = root / "codelists"
        return cls(types, CodeLists.load(lists) if lists.is_dir() else CodeLists())

    def types(self) -> list[MessageType]:
        """Every message type, sorted by id."""
        return list(self._types.values())

    def get(self, type_id: str) -> MessageType:
        """The message type with this id; NotFound naming the closest id on a typo."""
        try:
            return self._types[type_id]
        except KeyError:
            close = difflib.get_close_matches(str(type_id), list(self._types), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(self._types)}"
            raise NotFound(f"unknown message type {type_id!r}{hint}") from None

    def build(self, type_id: str, record: Any, *, defaults: bool = True,
              validate: bool = True) -> etree._Element:
        """Record -> root element. `defaults` fills fixed attributes the record omits;
        `validate` runs the XSD over the result as a backstop. Raises ValidationFailed with
        record paths, NotFound for an unknown type."""
        message_type = self.get(type_id)
        root = build_tree(message_type.plan, record, nsmap={message_type.prefix or None:
                                                            message_type.namespace},
                          defaults=defaults)
        if validate:
            issues = schema_issues(message_type.schema, root, message_type.plan, lock=message_type.lock)
            if issues:
                raise ValidationFailed(issues)
        return root

    def to_xml(self, type_id: str, record: Any, *, defaults: bool = True, pretty: bool = True) -> bytes:
        """Record -> UTF-8 XML bytes with declaration (indented unless pretty=False)."""
        root = self.build(type_id, record, defaults=defaults)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=pretty)

    def identify(self, tree: Any) -> MessageType:
        """The message type of a parsed tree or root element, by its root tag."""
        root = tree.getroot() if hasattr(tree, "getroot") else tree
        try:
            return self._by_tag[root.tag]
        except KeyError:
            qname = etree.QName(root)
            raise NotFound(f"no message type has the root element {qname.localname!r} in namespace "
                           f"{qname.namespace or '(none)'!r}") from None

    def parse(self, xml: Any, *, validate: bool = True) -> tuple[str, dict]:
        """XML bytes (via the hardened parser) or a tree -> (type id, record). The document is
        XSD-validated first unless validate=False; errors carry line and XML path."""
        tree = hardened.parse(xml) if isinstance(xml, (bytes, bytearray, memoryview)) else xml
        root = tree.getroot() if hasattr(tree, "getroot") else tree
        message_type = self.identify(root)
        if validate:
            issues = schema_issues(message_type.schema, root, lock=message_type.lock)
            if issues:
                raise ValidationFailed(issues)
        return message_type.id, read_tree(message_type.plan, root)

    def received_record(self, xml: bytes, limits: hardened.Limits = hardened.DEFAULT_LIMITS) -> tuple[str, dict]:
        """(type id, record) of a received message as stored: parsed under `limits`, its enveloped
        signature (verified over the whole document on receipt) left out, as it is no record
        data; not validated again (it was on receipt). CPU-bound: call it in a thread."""
        root = hardened.parse(xml, limits).getroot()
        for signature in root.findall(SIGNATURE):
            root.remove(signature)
        return self.parse(root, validate=False)

    def json_schema(self, type_id: str) -> dict:
        """The JSON Schema (draft 2020-12) of the record of this type (computed once)."""
        if type_id not in self._schemas:
            from .json_schema import record_schema
            self._schemas[type_id] = record_schema(self.get(type_id), self.codelists)
        return self._schemas[type_id]


@functools.cache
def shipped_registry() -> Registry:
    """The registry of the schemas shipped with the gateway, loaded once per process."""
    return Registry.load()


def _load_family(path: Path) -> list[MessageType]:
    import xmlschema

    try:
        schema = xmlschema.XMLSchema10(str(path), allow="local", defuse="always")
    except (xmlschema.XMLSchemaException, OSError) as exc:
        raise ConfigError(f"{path}: the schema does not load: {_first_line(exc)}") from None
    lxml_schema = _lxml_schema(path)
    lock = threading.Lock()            # an lxml validator and its error log serve one thread at a time
    namespace = schema.target_namespace
    prefix = next((p for p, ns in schema.namespaces.items() if ns == namespace and p), "")
    compiler = Compiler(str(path))
    found = []
    for element in schema.elements.values():
        plan = compiler.element(element)
        attrs = {a.name: a for a in plan.type.attributes}
        found.append(MessageType(
            id=plan.name,
            standard=_fixed(attrs, "standard"),
            version=_fixed(attrs, "version") or (schema.version or ""),
            description=documentation(element) or documentation(element.type),
            namespace=namespace, family=path.parent.name, prefix=prefix,
            plan=plan, schema=lxml_schema, source=path, lock=lock,
        ))
    return found


def _fixed(attrs: dict, name: str) -> str:
    attribute = attrs.get(name)
    return (attribute.fixed or attribute.default or "") if attribute else ""


def _lxml_schema(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise ConfigError(f"{path}: lxml cannot compile the schema: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

