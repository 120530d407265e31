"""XTA 2 version 3 (XSD 2.1.1, namespace http://xoev.de/transport/xta/211, OSCI 2 mailbox).

Headers: sendMessage/sendMessageSync carry oscimeta:MessageMetaData; every other operation
takes the optional oscimeta:Author ("AuthorIdentifier") naming the account. The mailbox is
OSCI 2: getStatusList/getNextStatusList page through it under a MsgBoxRequestID, getMessage
answers with that id in osci:MsgBoxResponse, and close(MsgBoxRequestID, LastMsgReceived)
commits the fetch.
"""
from __future__ import annotations

from lxml import etree

from . import wire as p
from .order import Fetched, Party, Report, StatusPage, TransportOrder

NS = "http://xoev.de/transport/xta/211"
OSCI = "http://www.osci.eu/ws/2008/05/transport"
META = "http://www.osci.eu/ws/2014/10/transport"
NSMAP = {"xta": NS, "osci": OSCI, "m": META, "wsa": p.WSA, "xenc": p.XENC}


class V3:
    """The version 3 profile."""

    version = "3"
    namespace = NS
    bindings = {
        "send": f"{{{NS}}}sendXTAHttpsBinding",
        "mailbox": f"{{{NS}}}msgBoxHttpsBinding",
        "management": f"{{{NS}}}managementHttpsBinding",
    }
    operations = {
        "create_id": ("management", "createMessageId"),
        "send": ("send", "sendMessage"),
        "send_sync": ("send", "sendMessageSync"),
        "report": ("management", "getTransportReport"),
        "check": ("management", "checkAccountActive"),
        "lookup": ("management", "lookupService"),
        "status_list": ("mailbox", "getStatusList"),
        "next_status_list": ("mailbox", "getNextStatusList"),
        "get": ("mailbox", "getMessage"),
        "close": ("mailbox", "close"),
    }

    # -- requests ---------------------------------------------------------------------
    def __init__(self, identifier_type: str = "xoev"):
        self.identifier_type = identifier_type

    def account_headers(self, account: Party) -> list:
        """The AuthorIdentifier header naming our account."""
        return [_party("Author", account, self.identifier_type)]

    def send_headers(self, order: TransportOrder) -> list:
        """sendMessage(Sync) headers: the MessageMetaData only (it names the author)."""
        return [self.metadata(order)]

    def metadata(self, order: TransportOrder) -> etree._Element:
        """oscimeta:MessageMetaData for a transport order."""
        E = _maker()
        root = E("MessageMetaData")
        if order.test:
            root.set("TestMsg", "true")
        delivery = etree.SubElement(root, _m("DeliveryAttributes"))
        etree.SubElement(delivery, _m("Origin")).text = p.iso(order.origin)
        originators = etree.SubElement(root, _m("Originators"))
        originators.append(_party("Author", order.author, self.identifier_type))
        destinations = etree.SubElement(root, _m("Destinations"))
        destinations.append(_party("Reader", order.reader, self.identifier_type))
        ident = etree.SubElement(root, _m("MsgIdentification"))
        etree.SubElement(ident, f"{{{p.WSA}}}MessageID").text = order.message_id
        qualifier = etree.SubElement(root, _m("Qualifier"))
        etree.SubElement(qualifier, _m("Service")).text = order.service
        scenario = etree.SubElement(qualifier, _m("BusinessScenario"))
        if order.business_scenario_list_uri:
            _code(scenario, "Defined", order.business_scenario,
                  order.business_scenario_list_uri, order.business_scenario_list_version)
        else:
            etree.SubElement(scenario, _m("Undefined")).text = order.business_scenario
        kind = _code(qualifier, "MessageType", order.message_type,
                     order.message_type_list_uri, order.message_type_list_version)
        kind.set("payloadSchema", order.payload_schema)
        etree.SubElement(root, _m("MsgSize")).text = str(order.size)
        return root

    def content_args(self, xml: bytes, attachments) -> dict:
        """sendMessage body: the GenericContentContainer choice ContentContainer."""
        return {"ContentContainer": p.content_args(xml, attachments, with_ids=False)}

    def report_args(self, message_id: str) -> tuple[tuple, dict]:
        """getTransportReport body: wsa:MessageID."""
        return (message_id,), {}

    def lookup_args(self, reader: Party, service: str) -> dict:
        """lookupService body for one reader and service."""
        return {"LookupServiceRequestList": [{"LookupService": {
            "Reader": {"Identifier": {"_value_1": reader.identifier, "type": self.identifier_type}},
            "ServiceType": service}}]}

    def status_list_args(self, limit: int) -> dict:
        """getStatusList asking for full MessageMetaData entries (all unclosed messages)."""
        return {"maxListItems": max(1, limit), "ListForm": "MessageMetaData"}

    def next_status_list_args(self, request_id: str, seen: tuple[str, ...]) -> dict:
        """getNextStatusList continuing a listing (zeep needs LastMsgReceived: the last page)."""
        return {"MsgBoxRequestID": request_id, "LastMsgReceived": list(seen)}

    def get_args(self, message_id: str) -> dict:
        """getMessage selecting one message by id."""
        return {"MsgSelector": {"MessageID": [message_id]}}

    def close_args(self, message_id: str, request_id: str) -> dict:
        """close committing the fetch of one message."""
        return {"MsgBoxRequestID": request_id, "LastMsgReceived": [message_id]}

    # -- responses --------------------------------------------------------------------
    def created_id(self, tree) -> str:
        """The id createMessageId assigned."""
        return p.text(p.body(tree), "wsa:MessageID", NSMAP)

    def status_page(self, tree) -> StatusPage:
        """Message ids in a status list, plus the pending count and request id."""
        box = _box(tree)
        listing = p.body(tree).find("osci:MsgStatusList", NSMAP)
        ids = []
        if listing is not None:
            ids = [e.text.strip() for e in listing.iterfind(
                "m:MessageMetaData/m:MsgIdentification/wsa:MessageID", NSMAP) if e.text]
            ids += [e.text.strip() for e in listing.iterfind(
                "osci:MsgAttributes/wsa:MessageID", NSMAP) if e.text and e.text.strip() not in ids]
        pending = int(p.text(box, "osci:ItemsPending", NSMAP, "0") or 0)
        return StatusPage(tuple(ids), pending, box.get("MsgBoxRequestID", "") if box is not None else "")

    def fetched(self, tree, message_id: str) -> Fetched:
        """The message getMessage returned (or the reply of sendMessageSync)."""
        head = p.header(tree)
        meta = head.find("m:MessageMetaData", NSMAP) if head is not None else None
        box = _box(tree)
        generic = p.body(tree).find("xta:GenericContentContainer", NSMAP)
        common = dict(
            message_id=p.text(meta, "m:MsgIdentification/wsa:MessageID", NSMAP, message_id),
            author=p.text(meta, "m:Originators/m:Author/m:Identifier", NSMAP),
            metadata_xml=p.serialize(meta),
            request_id=box.get("MsgBoxRequestID", "") if box is not None else "")
        if generic is not None and generic.find("xenc:EncryptedData", NSMAP) is not None:
            return Fetched(content=b"", content_type="", encrypted=True, **common)
        content, content_type, attachments = p.container(
            generic.find("xta:ContentContainer", NSMAP) if generic is not None else None, NS)
        return Fetched(content=content, content_type=content_type, attachments=attachments, **common)

    def report(self, tree, message_id: str) -> Report:
        """The TransportReport: status and raw XML."""
        node = p.body(tree).find("xta:TransportReport", NSMAP)
        return p.report(node, message_id, NS)

    def available(self, tree) -> bool | None:
        """lookupService answer for the single query sent."""
        return p.available(p.body(tree).find(
            "xta:LookupServiceResponse/xta:LookupServiceResultList/xta:LookupServiceResult", NSMAP), NS)


def _m(name: str) -> str:
    return f"{{{META}}}{name}"


def _maker():
    return lambda name: etree.Element(_m(name), nsmap={"oscimeta": META, "wsa": p.WSA})


def _party(role: str, party: Party, identifier_type: str) -> etree._Element:
    node = etree.Element(_m(role), nsmap={"oscimeta": META})
    ident = etree.SubElement(node, _m("Identifier"), type=identifier_type or "xoev")
    if party.name:
        ident.set("name", party.name)
    if party.category:
        ident.set("category", party.category)
    ident.text = party.identifier
    return node


def _code(parent, name: str, code: str, list_uri: str, list_version: str) -> etree._Element:
    node = etree.SubElement(parent, _m(name), listURI=list_uri, listVersionID=list_version)
    etree.SubElement(node, "code").text = code       # form="unqualified"
    return node


def _box(tree):
    head = p.header(tree)
    return head.find("osci:MsgBoxResponse", NSMAP) if head is not None else None


PROFILE = V3()
