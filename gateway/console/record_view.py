"""Any message type's record as labelled fields, generically from its schema plan: the labels
come from the schema's documentation (`xs:documentation`, first sentence), code values get
their code list's name, IBANs are masked except the last four characters, attached files
(an element holding `dateiname` and `inhalt` or `referenz`) become downloadable attachments.
Nothing here produces markup: the templates escape every value."""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from ..mapping.plan import VALUE_KEY, ElementPlan, TypePlan

MASK = "•"
_EXAMPLE = re.compile(r"[,;]?\s*\(?z\.\s?B\..*$", re.S)     # ", z. B. ..." examples are no label
_SENTENCE = re.compile(r"^(.+?)(?:[.!?;](?:\s|$)|$)", re.S)


@dataclass
class Field:
    """One element of the record: a label, its documentation and either a value or children."""

    key: str
    label: str
    doc: str = ""
    value: str | None = None
    children: list["Field"] = field(default_factory=list)
    multiline: bool = False
    attachment: int | None = None          # index into `attachments()` when this is a file


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attached file of a record (content inline, or a reference to fetch it)."""

    index: int
    name: str
    mime_type: str
    size: int | None
    content: bytes | None
    reference: str = ""


def label_of(plan: ElementPlan) -> str:
    """The label of an element: the first sentence of its documentation (element, else type),
    without the full stop; the element name when neither is documented."""
    doc = (plan.doc or plan.type.doc or "").strip()
    if not doc:
        return humanize(plan.name)
    m = _SENTENCE.match(_EXAMPLE.sub("", doc) or doc)
    first = (m.group(1) if m else doc).strip().rstrip(".,;")
    if len(first) > 80:
        first = re.sub(r"\s*\([^)]*\)\s*$", "", first)
    return first if len(first) <= 80 else humanize(plan.name)


def humanize(name: str) -> str:
    """nachrichtenkopf.g2g / betroffenePerson -> 'Nachrichtenkopf g2g' / 'Betroffene person'."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", name.replace(".", " ").replace("_", " ")).lower()
    return words[:1].upper() + words[1:]


def mask_iban(value: str) -> str:
    """Every character but the last four replaced."""
    compact = value.replace(" ", "")
    return MASK * max(len(compact) - 4, 0) + compact[-4:]


def _is_attachment(value: Any) -> bool:
    return isinstance(value, dict) and "dateiname" in value and ("inhalt" in value or "referenz" in value)


class RecordView:
    """Builds the fields of a record for one message type (plan) and its code lists."""

    def __init__(self, plan: ElementPlan, codelists: Any = None):
        self.plan = plan
        self.codelists = codelists
        self.attachments: list[Attachment] = []

    def fields(self, record: dict) -> list[Field]:
        """The record's fields in schema order."""
        self.attachments = []
        return self._children(self.plan.type, record)

    def _children(self, tp: TypePlan, record: dict) -> list[Field]:
        out = []
        for child in tp.children:
            if child.key not in record:
                continue
            values = record[child.key] if child.many else [record[child.key]]
            for i, value in enumerate(values):
                f = self._field(child, value)
                if child.many and len(values) > 1:
                    f.label = f"{f.label} ({i + 1})"
                out.append(f)
        return out

    def _field(self, plan: ElementPlan, value: Any) -> Field:
        f = Field(plan.key, label_of(plan), plan.doc or plan.type.doc)
        tp = plan.type
        if tp.kind == "simple" or not isinstance(value, dict):
            text = _text(value)
            f.value = mask_iban(text) if plan.key.lower() == "iban" else text
            f.multiline = "\n" in text or len(text) > 120
            return f
        if tp.kind == "simplecontent":
            extra = [str(value[a.name]) for a in tp.attributes if a.fixed is None and a.name in value]
            f.value = " ".join([_text(value.get(VALUE_KEY, "")), *extra])
            return f
        code = self._code(tp, value)
        if code is not None:
            f.value = code
            return f
        if _is_attachment(value):
            f.attachment = self._attachment(value)
        f.children = [c for c in self._children(tp, value)
                      if not (f.attachment is not None and c.key == "inhalt")]
        return f

    def _code(self, tp: TypePlan, value: dict) -> str | None:
        """'CODE – name' for a code type (a `code` child and a fixed listURI)."""
        if "code" not in value or not any(c.key == "code" for c in tp.children):
            return None
        uri = next((a.fixed for a in tp.attributes if a.name == "listURI" and a.fixed), None)
        name = value.get("name")
        if not name and uri and self.codelists is not None:
            found = self.codelists.get(uri)
            name = found.name(str(value["code"])) if found is not None else None
        return f"{value['code']} – {name}" if name else str(value["code"])

    def _attachment(self, value: dict) -> int:
        content = None
        if "inhalt" in value:
            try:
                content = base64.b64decode(str(value["inhalt"]), validate=False)
            except (binascii.Error, ValueError):
                content = None
        size = value.get("groesse")
        self.attachments.append(Attachment(
            len(self.attachments), str(value["dateiname"]), str(value.get("mimeType", "")),
            int(size) if isinstance(size, (int, str)) and str(size).isdigit() else None,
            content, str(value.get("referenz", ""))))
        return len(self.attachments) - 1


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, dict):
        return str(value.get(VALUE_KEY, ""))
    return "" if value is None else str(value)


def attachments(plan: ElementPlan, record: dict, codelists: Any = None) -> list[Attachment]:
    """The attached files of a record, in document order."""
    view = RecordView(plan, codelists)
    view.fields(record)
    return view.attachments


SIGNATURE_NS = "http://www.w3.org/2000/09/xmldsig#"


def tree_fields(root) -> list[Field]:
    """A message no type of ours describes (a configured third-party standard): its elements as
    fields in document order, labelled by their names, leaves with their text; the enveloped
    signature left out, IBANs masked."""
    from lxml import etree

    def walk(element) -> Field:
        name = etree.QName(element).localname
        kids = [c for c in element if isinstance(c.tag, str) and etree.QName(c).namespace != SIGNATURE_NS]
        f = Field(name, humanize(name))
        if kids:
            f.children = [walk(c) for c in kids]
        else:
            text = (element.text or "").strip()
            f.value = mask_iban(text) if "iban" in name.lower() else text
            f.multiline = "\n" in text or len(text) > 120
        return f

    return [walk(c) for c in root if isinstance(c.tag, str) and etree.QName(c).namespace != SIGNATURE_NS]
