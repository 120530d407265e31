"""Version 5 (XTA Core 3.1.1) wire format of the fake provider."""
from __future__ import annotations

import base64
import copy

from lxml import etree

NS = "https://xoev.de/transport/xta/core/3.1.1"
N = {"x": NS}
FEHLERNUMMER = "urn:xoev-de:kosit:codeliste:xta.core.fehlernummer"


class Codec5:
    """Requests and answers of XTA 2 version 5.1.1."""

    version = "5"
    technical = "TechnicalProblemException"
    invalid_parameter = "ParameterIsNotValidException"

    # -- requests -----------------------------------------------------------------------
    def account(self, operation: str, headers: dict) -> str:
        return _t(headers.get("Party"), "x:Identifier")

    def send_order(self, headers: dict, body) -> dict:
        meta = headers["MessageMetaData"]
        return dict(
            message_id=_t(meta, "x:XTAMessageID"),
            author=_t(meta, "x:Originators/x:Author/x:Identifier"),
            reader=_t(meta, "x:Reader/x:Identifier"),
            service=_t(meta, "x:Qualifier/x:Service"),
            metadata=meta, container=body,
            content=base64.b64decode(body.findtext("x:Message", namespaces=N) or ""))

    def target_id(self, operation: str, body) -> str:
        if operation == "getTransportReport":
            return (body.text or "").strip()
        return _t(body, "x:XTAMessageID")

    def request_id(self, body) -> str:
        return ""

    def status_limit(self, body) -> int:
        return int(_t(body, "x:OtherCriteria/x:MaxMessages") or "100")

    def lookups(self, body) -> list[tuple[str, str]]:
        return [(_t(q, "x:Reader/x:Identifier"), _t(q, "x:Service"))
                for q in body.iterfind("x:LookupService", N)]

    # -- answers ------------------------------------------------------------------------
    def created(self, message_id: str):
        node = etree.Element(f"{{{NS}}}XTAMessageID", id="created-id", nsmap={"xta": NS})
        node.text = message_id
        return [], [node]

    def status_list(self, entries, pending: int, request_id: str):
        listing = etree.Element(f"{{{NS}}}MessageStatusList", nsmap={"xta": NS})
        for i, stored in enumerate(entries):
            listing.append(_renamed(stored.metadata, f"-{i}"))
        return [_box(pending, bool(entries))], [listing]

    def message(self, stored, request_id: str):
        return [_box(0, True), copy.deepcopy(stored.metadata)], [copy.deepcopy(stored.container)]

    def sync_reply(self, metadata, container):
        reply = etree.Element(f"{{{NS}}}MessageMetaDataReply", nsmap={"xta": NS})
        reply.append(metadata)
        body = etree.Element(f"{{{NS}}}ContentContainerReply", nsmap={"xta": NS})
        body.append(container)
        return [reply], [body]

    def reply_metadata(self, order: dict, reply_id: str, content: bytes):
        meta = copy.deepcopy(order["metadata"])
        meta.tag = f"{{{NS}}}MessageMetaData"
        meta.find("x:Originators/x:Author/x:Identifier", N).text = order["reader"]
        meta.find("x:Reader/x:Identifier", N).text = order["author"]
        meta.find("x:XTAMessageID", N).text = reply_id
        meta.find("x:MessageSize", N).text = str(max(1, len(content)))
        return meta

    def container(self, content: bytes):
        node = etree.Element(f"{{{NS}}}ContentContainer", nsmap={"xta": NS})
        message = etree.SubElement(node, f"{{{NS}}}Message", id="reply-message",
                                   contentType="application/xml")
        message.text = base64.b64encode(content).decode()
        return node

    def report(self, stored, now: str, server: str):
        result = etree.Element(f"{{{NS}}}ReportResult", nsmap={"xta": NS})
        node = etree.SubElement(result, f"{{{NS}}}TransportReport", id="report")
        etree.SubElement(node, f"{{{NS}}}ReportTime").text = now
        etree.SubElement(node, f"{{{NS}}}XTAServerIdentity").text = server
        status = etree.SubElement(node, f"{{{NS}}}MessageStatus")
        etree.SubElement(status, f"{{{NS}}}Status").text = str(stored.status)
        node.append(_renamed(stored.metadata, "-r"))
        return [], [result]

    def lookup(self, results: list[tuple[str, str, bool]]):
        status = etree.Element(f"{{{NS}}}LookupStatus", nsmap={"xta": NS})
        for reader, service, ok in results:
            result = etree.SubElement(status, f"{{{NS}}}LookupServiceResult")
            r = etree.SubElement(result, f"{{{NS}}}Reader")
            etree.SubElement(r, f"{{{NS}}}Identifier").text = reader
            if service:
                etree.SubElement(result, f"{{{NS}}}Service").text = service
            value = etree.SubElement(result, f"{{{NS}}}IsServiceAvailableValue")
            etree.SubElement(value, f"{{{NS}}}ServiceIsAvailable").text = "true" if ok else "false"
        return [], [status]

    def fault_detail(self, name: str, code: str, text: str):
        node = etree.Element(f"{{{NS}}}{name}", nsmap={"xta": NS})
        error = etree.SubElement(node, f"{{{NS}}}ErrorCode", listURI=FEHLERNUMMER, listVersionID="1.0")
        etree.SubElement(error, "code").text = code
        if text:
            etree.SubElement(node, f"{{{NS}}}Detail").text = text
        return node


def _t(node, path: str) -> str:
    if node is None:
        return ""
    return (node.findtext(path, namespaces=N) or "").strip()


def _box(pending: int, found: bool):
    box = etree.Element(f"{{{NS}}}MessageBoxStatus", nsmap={"xta": NS})
    remaining = etree.SubElement(box, f"{{{NS}}}MessagesRemaining")
    if found:
        etree.SubElement(remaining, f"{{{NS}}}MessagesPending").text = str(pending)
    else:
        etree.SubElement(remaining, f"{{{NS}}}NoMessageAvailable").text = \
            "http://www.osci.eu/ws/2008/05/transport/MessageBox/reasons/NoMatch"
    return box


def _renamed(metadata, suffix: str):
    """A copy of a MessageMetaData whose xs:ID values stay unique in a bigger document."""
    meta = copy.deepcopy(metadata)
    for node in meta.iter():
        if node.get("id"):
            node.set("id", node.get("id") + suffix)
    return meta
