"""Version 3 wire format of the fake provider: read requests, build answers (lxml)."""
from __future__ import annotations

import base64
import copy

from lxml import etree

NS = "http://xoev.de/transport/xta/211"
OSCI = "http://www.osci.eu/ws/2008/05/transport"
META = "http://www.osci.eu/ws/2014/10/transport"
WSA = "http://www.w3.org/2005/08/addressing"
N = {"xta": NS, "osci": OSCI, "m": META, "wsa": WSA}


class Codec3:
    """Requests and answers of XTA 2 version 3."""

    version = "3"
    technical = "XTAWSTechnicalProblemException"
    invalid_parameter = "ParameterIsNotValidException"

    # -- requests -----------------------------------------------------------------------
    def account(self, operation: str, headers: dict) -> str:
        if operation in ("sendMessage", "sendMessageSync"):
            return _t(headers.get("MessageMetaData"), "m:Originators/m:Author/m:Identifier")
        return _t(headers.get("Author"), "m:Identifier")

    def send_order(self, headers: dict, body) -> dict:
        meta = headers["MessageMetaData"]
        container = body.find("xta:ContentContainer", N)
        return dict(
            message_id=_t(meta, "m:MsgIdentification/wsa:MessageID"),
            author=_t(meta, "m:Originators/m:Author/m:Identifier"),
            reader=_t(meta, "m:Destinations/m:Reader/m:Identifier"),
            service=_t(meta, "m:Qualifier/m:Service"),
            metadata=meta, container=container,
            content=base64.b64decode(container.findtext("xta:Message", namespaces=N) or "")
            if container is not None else b"")

    def target_id(self, operation: str, body) -> str:
        if operation in ("getTransportReport", "cancelMessage"):
            return (body.text or "").strip()
        if operation == "getMessage":
            return _t(body, "osci:MsgSelector/wsa:MessageID")
        return _t(body, "osci:LastMsgReceived")

    def request_id(self, body) -> str:
        return body.get("MsgBoxRequestID", "") if body is not None else ""

    def status_limit(self, body) -> int:
        return int(body.get("maxListItems", "100"))

    def lookups(self, body) -> list[tuple[str, str]]:
        return [(_t(q, "m:Reader/m:Identifier"), _t(q, "xta:ServiceType"))
                for q in body.iterfind("xta:LookupServiceRequestList/xta:LookupService", N)]

    # -- answers: (header elements, body elements) --------------------------------------
    def created(self, message_id: str):
        return [], [_el(WSA, "MessageID", message_id)]

    def status_list(self, entries, pending: int, request_id: str):
        listing = etree.Element(f"{{{OSCI}}}MsgStatusList", nsmap={"osci": OSCI})
        for stored in entries:
            listing.append(copy.deepcopy(stored.metadata))
        return [_box(request_id, pending, bool(entries))], [listing]

    def message(self, stored, request_id: str):
        return [copy.deepcopy(stored.metadata), _box(request_id, 0, True)], [_generic(stored.container)]

    def sync_reply(self, metadata, container):
        return [metadata], [_generic(container)]

    def reply_metadata(self, order: dict, reply_id: str, content: bytes):
        meta = copy.deepcopy(order["metadata"])
        author = meta.find("m:Originators/m:Author/m:Identifier", N)
        reader = meta.find("m:Destinations/m:Reader/m:Identifier", N)
        author.text, reader.text = order["reader"], order["author"]
        meta.find("m:MsgIdentification/wsa:MessageID", N).text = reply_id
        meta.find("m:MsgSize", N).text = str(max(1, len(content)))
        return meta

    def container(self, content: bytes):
        node = etree.Element(f"{{{NS}}}ContentContainer", nsmap={"xta": NS})
        message = etree.SubElement(node, f"{{{NS}}}Message", contentType="application/xml")
        message.text = base64.b64encode(content).decode()
        return node

    def report(self, stored, now: str, server: str):
        node = etree.Element(f"{{{NS}}}TransportReport", nsmap={"xta": NS})
        node.append(copy.deepcopy(stored.metadata))
        etree.SubElement(node, f"{{{NS}}}ReportTime").text = now
        etree.SubElement(node, f"{{{NS}}}XTAServerIdentity").text = server
        status = etree.SubElement(node, f"{{{NS}}}MessageStatus")
        etree.SubElement(status, f"{{{NS}}}Status").text = str(stored.status)
        return [], [node]

    def lookup(self, results: list[tuple[str, str, bool]]):
        response = etree.Element(f"{{{NS}}}LookupServiceResponse", nsmap={"xta": NS, "m": META})
        listing = etree.SubElement(response, f"{{{NS}}}LookupServiceResultList")
        for reader, service, ok in results:
            result = etree.SubElement(listing, f"{{{NS}}}LookupServiceResult")
            r = etree.SubElement(result, f"{{{META}}}Reader")
            etree.SubElement(r, f"{{{META}}}Identifier", type="xoev").text = reader
            etree.SubElement(result, f"{{{NS}}}ServiceType").text = service
            value = etree.SubElement(result, f"{{{NS}}}IsServiceAvailableValue")
            etree.SubElement(value, f"{{{NS}}}ServiceIsAvailable").text = "true" if ok else "false"
        return [], [response]

    def fault_detail(self, name: str, code: str, text: str):
        node = etree.Element(f"{{{NS}}}{name}", nsmap={"xta": NS})
        error = etree.SubElement(node, f"{{{NS}}}errorCode")
        etree.SubElement(error, "code").text = code
        etree.SubElement(error, "name").text = text or "-"
        return node


def _t(node, path: str) -> str:
    if node is None:
        return ""
    return (node.findtext(path, namespaces=N) or "").strip()


def _el(ns: str, name: str, text: str):
    node = etree.Element(f"{{{ns}}}{name}")
    node.text = text
    return node


def _box(request_id: str, pending: int, found: bool):
    box = etree.Element(f"{{{OSCI}}}MsgBoxResponse", MsgBoxRequestID=request_id, nsmap={"osci": OSCI})
    if found:
        etree.SubElement(box, f"{{{OSCI}}}ItemsPending").text = str(pending)
    else:
        etree.SubElement(box, f"{{{OSCI}}}NoMessageAvailable",
                         reason="http://www.osci.eu/ws/2008/05/transport/MsgBox/reasons/NoMatch")
    return box


def _generic(container):
    generic = etree.Element(f"{{{NS}}}GenericContentContainer", nsmap={"xta": NS})
    generic.append(copy.deepcopy(container))
    return generic
