"""The routing facts of a message, read from its `nachrichtenkopf.g2g`."""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ..errors import MessageError


@dataclass(frozen=True, slots=True)
class Header:
    """The routing facts of a message's nachrichtenkopf.g2g."""

    root: str
    message_uuid: str
    message_type: str
    author: str
    reader: str


def read_header(root: etree._Element) -> Header:
    """Read the header of a message tree; MessageError naming the missing path."""
    head = root.find("nachrichtenkopf.g2g")
    if head is None:
        raise MessageError(f"{etree.QName(root).localname}: nachrichtenkopf.g2g is missing")

    def text(path: str) -> str:
        value = (head.findtext(path) or "").strip()
        if not value:
            raise MessageError(f"nachrichtenkopf.g2g/{path} is missing")
        return value

    return Header(etree.QName(root).localname, text("identifikation.nachricht/nachrichtenUUID"),
                  text("identifikation.nachricht/nachrichtentyp/code"), text("autor/kennung"),
                  text("leser/kennung"))
