"""XTA 2 version 5.1.1 (XTA Core 3.1.1, namespace https://xoev.de/transport/xta/core/3.1.1).

Every operation takes the xta-core:Party header naming the account; sendMessage(Sync) also
carry xta-core:MessageMetaData. The mailbox is simpler than in version 3: getStatusList
answers a MessageStatusList (MessageBoxStatus header says how many are pending), getMessage
and close take the XTAMessageID. Elements carry required xs:ID attributes, unique per
envelope: metadata ids start with "meta-", content ids with "content-".
"""
from __future__ import annotations

from lxml import etree

from . import wire as p
from .order import Fetched, Party, Report, StatusPage, TransportOrder

NS = "https://xoev.de/transport/xta/core/3.1.1"
NSMAP = {"x": NS, "wsa": p.WSA}
DIRECTORY_LIST = "urn:xoev-de:kosit:codeliste:xta.core.directory"


class V5:
    """The version 5 profile."""

    version = "5"
    namespace = NS
    bindings = {
        "send": f"{{{NS}}}senderHttpsBinding",
        "mailbox": f"{{{NS}}}recipientHttpsBinding",
        "management": f"{{{NS}}}transport.baseHttpsBinding",
    }
    operations = {
        "create_id": ("send", "createMessageID"),
        "send": ("send", "sendMessage"),
        "send_sync": ("send", "sendMessageSync"),
        "report": ("management", "getTransportReport"),
        "check": ("management", "checkAccountActive"),
        "lookup": ("send", "lookupService"),
        "status_list": ("mailbox", "getStatusList"),
        "get": ("mailbox", "getMessage"),
        "close": ("mailbox", "close"),
    }

    def __init__(self, directory: str = "", directory_list_version: str = "1.0"):
        self.directory = directory
        self.directory_list_version = directory_list_version

    # -- requests ---------------------------------------------------------------------
    def account_headers(self, account: Party) -> list:
        """The Party header naming our account."""
        return [self._party("Party", account)]

    def send_headers(self, order: TransportOrder) -> list:
        """sendMessage(Sync) headers: MessageMetaData and our Party."""
        return [self.metadata(order), self._party("Party", order.author)]

    def metadata(self, order: TransportOrder) -> etree._Element:
        """xta-core:MessageMetaData for a transport order."""
        root = etree.Element(_x("MessageMetaData"), nsmap={"xta": NS})
        etree.SubElement(root, _x("XTAMessageID"), id="meta-message-id").text = order.message_id
        root.append(self._party("Reader", order.reader, "meta-reader"))
        originators = etree.SubElement(root, _x("Originators"))
        originators.append(self._party("Author", order.author, "meta-author"))
        qualifier = etree.SubElement(root, _x("Qualifier"), id="meta-qualifier")
        if order.service:
            etree.SubElement(qualifier, _x("Service")).text = order.service
        scenario = etree.SubElement(qualifier, _x("BusinessScenario"))
        if order.business_scenario_list_uri:
            _code(scenario, "Defined", order.business_scenario,
                  order.business_scenario_list_uri, order.business_scenario_list_version)
        else:
            etree.SubElement(scenario, _x("Undefined")).text = order.business_scenario
        kind = etree.SubElement(qualifier, _x("MessageType"), messageSchema=order.payload_schema)
        kind.text = order.message_type
        etree.SubElement(root, _x("MessageSize")).text = str(max(1, order.size))
        delivery = etree.SubElement(root, _x("DeliveryAttributes"))
        etree.SubElement(delivery, _x("Origin"), id="meta-origin").text = p.iso(order.origin)
        quality = etree.SubElement(root, _x("ServiceQuality"), id="meta-service-quality")
        choice = "Defined" if ":" in order.service_quality else "Undefined"
        etree.SubElement(quality, _x(choice)).text = order.service_quality or "standard"
        if order.message_uuid:
            prop = etree.SubElement(root, _x("MessageProperty"), id="meta-property-uuid")
            etree.SubElement(prop, _x("Key")).text = "nachrichtenUUID"
            etree.SubElement(prop, _x("Value")).text = order.message_uuid
        return root

    def content_args(self, xml: bytes, attachments) -> dict:
        """sendMessage body: ContentContainer (Message, Attachment*), ids required."""
        return p.content_args(xml, attachments, with_ids=True)

    def report_args(self, message_id: str) -> tuple[tuple, dict]:
        """getTransportReport body: XTAMessageID."""
        return (), {"_value_1": message_id, "id": "request-message-id"}

    def lookup_args(self, reader: Party, service: str) -> dict:
        """lookupService body (LookupQuery) for one reader and service."""
        query = {"Reader": self._party_args(reader)}
        if service:
            query["Service"] = service
        return {"LookupService": [query]}

    def status_list_args(self, limit: int) -> dict:
        """getStatusList over all unclosed messages, at most `limit`."""
        return {"OtherCriteria": {"MaxMessages": max(1, limit)}}

    def get_args(self, message_id: str) -> dict:
        """getMessage by XTAMessageID."""
        return {"XTAMessageID": {"_value_1": message_id, "id": "request-message-id"}}

    def close_args(self, message_id: str, request_id: str) -> dict:
        """close by XTAMessageID (version 5 has no request id)."""
        return self.get_args(message_id)

    # -- responses --------------------------------------------------------------------
    def created_id(self, tree) -> str:
        """The id createMessageID assigned."""
        return p.text(p.body(tree), "x:XTAMessageID", NSMAP)

    def status_page(self, tree) -> StatusPage:
        """Message ids in the status list and how many are pending."""
        head = p.header(tree)
        pending = p.text(head, "x:MessageBoxStatus/x:MessagesRemaining/x:MessagesPending", NSMAP, "0")
        ids = tuple(e.text.strip() for e in p.body(tree).iterfind(
            "x:MessageStatusList/x:MessageMetaData/x:XTAMessageID", NSMAP) if e.text)
        return StatusPage(ids, int(pending or 0))

    def fetched(self, tree, message_id: str) -> Fetched:
        """The message getMessage returned, or the reply of sendMessageSync."""
        head = p.header(tree)
        meta = None
        if head is not None:
            meta = head.find("x:MessageMetaData", NSMAP)
            if meta is None:
                meta = head.find("x:MessageMetaDataReply/x:MessageMetaData", NSMAP)
        node = p.body(tree).find("x:ContentContainer", NSMAP)
        if node is None:
            node = p.body(tree).find("x:ContentContainerReply/x:ContentContainer", NSMAP)
        content, content_type, attachments = p.container(node, NS)
        return Fetched(
            message_id=p.text(meta, "x:XTAMessageID", NSMAP, message_id),
            author=p.text(meta, "x:Originators/x:Author/x:Identifier", NSMAP),
            metadata_xml=p.serialize(meta), content=content, content_type=content_type,
            attachments=attachments)

    def report(self, tree, message_id: str) -> Report:
        """The TransportReport inside ReportResult."""
        node = p.body(tree).find("x:ReportResult/x:TransportReport", NSMAP)
        return p.report(node, message_id, NS)

    def available(self, tree) -> bool | None:
        """lookupService answer for the single query sent."""
        return p.available(p.body(tree).find("x:LookupStatus/x:LookupServiceResult", NSMAP), NS)

    # -- helpers ----------------------------------------------------------------------
    def _party(self, name: str, party: Party, ident: str = "") -> etree._Element:
        node = etree.Element(_x(name), nsmap={"xta": NS})
        if ident:
            node.set("id", ident)
        identifier = etree.SubElement(node, _x("Identifier"))
        identifier.text = party.identifier
        if party.name:
            identifier.set("name", party.name)
        if party.category:
            identifier.set("organizationCategory", party.category)
        if self.directory:
            _code(node, "Directory", self.directory, DIRECTORY_LIST, self.directory_list_version)
        return node

    def _party_args(self, party: Party) -> dict:
        args: dict = {"Identifier": {"_value_1": party.identifier}}
        if self.directory:
            args["Directory"] = {"code": self.directory, "listURI": DIRECTORY_LIST,
                                 "listVersionID": self.directory_list_version}
        return args


def _x(name: str) -> str:
    return f"{{{NS}}}{name}"


def _code(parent, name: str, code: str, list_uri: str, list_version: str) -> etree._Element:
    node = etree.SubElement(parent, _x(name), listURI=list_uri, listVersionID=list_version)
    etree.SubElement(node, "code").text = code       # form="unqualified"
    return node


PROFILE = V5()
