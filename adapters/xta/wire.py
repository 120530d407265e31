"""What both XTA versions share on the wire: namespaces, response extraction helpers.

A profile (`v3.PROFILE`, `v5.PROFILE`) knows one version's namespaces, which binding serves
which role ("send", "mailbox", "management"), the WSDL name of each operation, how to build
the SOAP headers and body arguments zeep serializes, and how to read the answers. Profiles
are pure: lxml elements and values in, values out.
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone

from lxml import etree

from gateway.errors import Refused

from .order import Attachment, Report

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
XENC = "http://www.w3.org/2001/04/xmlenc#"

# our operation name -> (role, WSDL operation name) is per version; the names are these:
OPERATIONS = ("create_id", "send", "send_sync", "report", "check", "lookup",
              "status_list", "next_status_list", "get", "close")


def iso(moment: datetime) -> str:
    """xs:dateTime in UTC with a Z, seconds precision."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def body(tree: etree._ElementTree) -> etree._Element:
    """The SOAP 1.2 Body of a parsed envelope."""
    found = tree.getroot().find(f"{{{SOAP12}}}Body")
    if found is None:
        raise Refused("XTA response has no SOAP 1.2 Body", code="xta:malformed-response")
    return found


def header(tree: etree._ElementTree) -> etree._Element | None:
    """The SOAP 1.2 Header of a parsed envelope, if any."""
    return tree.getroot().find(f"{{{SOAP12}}}Header")


def text(node: etree._Element | None, path: str, ns: dict[str, str], default: str = "") -> str:
    """Stripped text at `path` below `node`, or `default`."""
    if node is None:
        return default
    found = node.find(path, ns)
    return (found.text or "").strip() if found is not None else default


def serialize(node: etree._Element | None) -> bytes:
    """An element as standalone XML bytes (evidence kept in the routing slip)."""
    return etree.tostring(node, encoding="UTF-8") if node is not None else b""


def decode(node: etree._Element, what: str) -> bytes:
    """The base64 content of a ContentType element; Refused if it is not base64."""
    raw = "".join((node.text or "").split())
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"XTA {what} content is not valid base64",
                      code="xta:malformed-response") from None


def container(node: etree._Element | None, ns: str) -> tuple[bytes, str, tuple[Attachment, ...]]:
    """(message bytes, content type, attachments) of a ContentContainer element."""
    if node is None:
        raise Refused("XTA response has no content container", code="xta:malformed-response")
    message = node.find(f"{{{ns}}}Message")
    if message is None:
        raise Refused("XTA content container has no Message", code="xta:malformed-response")
    attachments = tuple(
        Attachment(filename=a.get("filename", f"attachment-{i}"),
                   content_type=a.get("contentType", "application/octet-stream"),
                   data=decode(a, "attachment"))
        for i, a in enumerate(node.findall(f"{{{ns}}}Attachment"), start=1))
    return decode(message, "message"), message.get("contentType", ""), attachments


def content_args(xml: bytes, attachments: tuple[Attachment, ...], *, with_ids: bool) -> dict:
    """zeep arguments for a ContentContainer: the message plus attachments, base64 by zeep."""
    def item(data: bytes, content_type: str, filename: str, ident: str) -> dict:
        value = {"_value_1": data, "contentType": content_type, "filename": filename,
                 "size": len(data) or None}
        if with_ids:
            value["id"] = ident
        return {k: v for k, v in value.items() if v is not None}

    return {
        "Message": item(xml, "application/xml", "message.xml", "content-message"),
        "Attachment": [item(a.data, a.content_type, a.filename, f"content-attachment-{i}")
                       for i, a in enumerate(attachments, start=1)],
    }


def available(result: etree._Element | None, ns: str) -> bool | None:
    """IsServiceAvailableValue: True/False, or None when the provider does not know."""
    if result is None:
        return None
    value = result.find(f"{{{ns}}}IsServiceAvailableValue")
    if value is None or value.find(f"{{{ns}}}ServiceIsAvailableUnknown") is not None:
        return None
    flag = value.findtext(f"{{{ns}}}ServiceIsAvailable", default="").strip()
    return flag in ("true", "1")


STATUS_NAMES = {0: "open", 1: "green", 2: "yellow", 3: "red"}


def report(node: etree._Element | None, message_id: str, ns: str) -> Report:
    """A TransportReport element read into a Report (status, reasons, raw XML)."""
    if node is None:
        raise Refused("XTA response has no TransportReport", code="xta:malformed-response")
    status_text = node.findtext(f"{{{ns}}}MessageStatus/{{{ns}}}Status", default="0").strip()
    status = int(status_text) if status_text.lstrip("-").isdigit() else 0
    reasons = [r.text.strip() for r in node.iterfind(f".//{{{ns}}}Reason") if r.text]
    summary = f"status {status} ({STATUS_NAMES.get(status, 'unknown')})"
    if reasons:
        summary += ": " + "; ".join(reasons)
    return Report(message_id=message_id, status=status, summary=summary, xml=serialize(node))
