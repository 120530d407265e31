"""A fake XTA 2 transport provider (version 3 or 5) on aiohttp, 127.0.0.1, port 0.

It answers like a provider: accounts, mailboxes, createMessageId, sendMessage (into the
reader's mailbox), sendMessageSync (reply from `sync_responder`), getTransportReport,
lookupService, checkAccountActive, getStatusList/getNextStatusList, getMessage and close.
Every request envelope is checked: SOAP 1.2, the SOAP action belongs to the port it was
posted to, wsa:Action/wsa:To agree, and EVERY header and body element validates against the
real XSDs (a violation earns the schema-violation fault). Every answer is validated too, so
a bug in the fake fails loudly. A message stays in the mailbox, fetched or not, until it is
closed. Faults, HTTP errors, delays, garbage, raw bytes and dropped connections can be
injected per operation (`fail_next`, `http_error_next`, `delay_next`, `garbage_next`,
`raw_next`, `drop_next`).
"""
from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from aiohttp import web
from lxml import etree

from .codec3 import Codec3
from .codec5 import Codec5
from .schemas import load_schema, wsdl_path

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP12_WSDL = "http://schemas.xmlsoap.org/wsdl/soap12/"
ROLES = {"sendXTAHttpsBinding": "send", "msgBoxHttpsBinding": "mailbox",
         "managementHttpsBinding": "management", "senderHttpsBinding": "send",
         "recipientHttpsBinding": "mailbox", "transport.baseHttpsBinding": "management"}
EMPTY_BODY = {"checkAccountActive", "createMessageId", "createMessageID"}
NAMES = {"9011": "Account ist gesperrt.", "9012": "Account nicht vorhanden.",
         "9024": "MessageID ist bereits vergeben.", "9030": "Interner Fehler beim XTA-Server",
         "9050": "Nachricht ist nicht schemakonform", "9070": "MessageID für den Account nicht bekannt.",
         "9080": "Der Dienst wird nur asynchron angeboten.",
         "9081": "Der Dienst wird nur synchron angeboten."}
RECEIVER_FAULTS = {"XTAWSTechnicalProblemException", "TechnicalProblemException",
                   "ExternalServiceUnavailableException"}


@dataclass
class Stored:
    """One message as the provider holds it."""

    message_id: str
    author: str
    reader: str
    service: str
    metadata: etree._Element
    container: etree._Element
    content: bytes
    status: int = 0                  # transport report: 0 open, 1 green (closed by reader)
    fetches: int = 0
    closed: bool = False


@dataclass
class Injection:
    """Something to do instead of (or after) answering the next call of an operation."""

    kind: str                        # fault | http | delay | garbage | raw | drop
    name: str = ""
    code: str = ""
    text: str = ""
    status: int = 0
    seconds: float = 0.0


class XtaFault(Exception):
    """Raised inside a handler to answer with an XTA fault."""

    def __init__(self, name: str, code: str, text: str = ""):
        super().__init__(f"{name} {code} {text}")
        self.name, self.code, self.text = name, code, text or NAMES.get(code, "")


@dataclass
class FakeProvider:
    """The fake provider of one XTA version; start() it, then point adapters at url(role)."""

    reference_dir: Path
    version: str
    accounts: dict[str, bool] = field(default_factory=dict)          # identifier -> active
    offers: dict[tuple[str, str], bool] = field(default_factory=dict)  # (reader, service) -> sync
    mailboxes: dict[str, OrderedDict] = field(default_factory=lambda: defaultdict(OrderedDict))
    sent: dict[str, Stored] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)                # schema problems seen
    sync_responder: Callable[[dict], bytes] | None = None
    page_size: int = 100                                              # status list page cap

    def __post_init__(self):
        self.codec = Codec3() if self.version == "3" else Codec5()
        self.schema = load_schema(self.reference_dir, self.version)
        self.wsdl = wsdl_path(self.reference_dir, self.version)
        self.actions = _actions(self.wsdl)
        self.injections: dict[str, deque[Injection]] = defaultdict(deque)
        self.created: set[str] = set()
        self.listings: dict[str, deque[str]] = {}                    # v3 MsgBoxRequestID -> ids
        self._runner: web.AppRunner | None = None
        self.base = ""

    # -- life cycle -------------------------------------------------------------------------
    async def start(self) -> "FakeProvider":
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/xta/{role}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.stop()

    def url(self, role: str) -> str:
        """Endpoint of a port role: send, mailbox or management."""
        return f"{self.base}/xta/{role}"

    # -- test controls ------------------------------------------------------------------------
    def add_account(self, identifier: str, active: bool = True) -> None:
        self.accounts[identifier] = active

    def offer(self, reader: str, service: str, sync: bool = False) -> None:
        """The reader offers a service (sync: only through sendMessageSync)."""
        self.offers[(reader, service)] = sync

    def fail_next(self, operation: str, name: str, code: str = "9000", text: str = "") -> None:
        self.injections[operation].append(Injection("fault", name=name, code=code, text=text))

    def http_error_next(self, operation: str, status: int, text: str = "") -> None:
        self.injections[operation].append(Injection("http", status=status, text=text))

    def delay_next(self, operation: str, seconds: float) -> None:
        self.injections[operation].append(Injection("delay", seconds=seconds))

    def garbage_next(self, operation: str) -> None:
        self.injections[operation].append(Injection("garbage"))

    def raw_next(self, operation: str, body: bytes, status: int = 200) -> None:
        """Answer the next call with these exact bytes (hostile or broken answers)."""
        self.injections[operation].append(Injection("raw", text=body.decode(), status=status))

    def drop_next(self, operation: str) -> None:
        """Do the operation, then drop the connection before answering (a lost response)."""
        self.injections[operation].append(Injection("drop"))

    def mailbox(self, reader: str) -> list[Stored]:
        """Messages not yet closed in a reader's mailbox."""
        return [m for m in self.mailboxes[reader].values() if not m.closed]

    # -- HTTP ----------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            operation, headers, body = self._check(request, raw)
        except XtaFault as fault:
            self.rejected.append(fault.text)
            return self._fault(fault)
        self.calls.append(operation)
        injection = self.injections[operation].popleft() if self.injections[operation] else None
        if injection and injection.kind == "delay":
            await asyncio.sleep(injection.seconds)
        elif injection and injection.kind == "fault":
            return self._fault(XtaFault(injection.name, injection.code, injection.text))
        elif injection and injection.kind == "http":
            return web.Response(status=injection.status, text=injection.text or "unavailable")
        elif injection and injection.kind == "raw":
            return web.Response(status=injection.status, body=injection.text.encode(),
                                content_type="application/soap+xml")
        elif injection and injection.kind == "garbage":
            return web.Response(status=200, body=b"<html>not soap", content_type="application/soap+xml")
        try:
            answer = self._dispatch(operation, headers, body)
        except XtaFault as fault:
            return self._fault(fault)
        if injection and injection.kind == "drop":
            request.transport.close()
            return web.Response(status=200)
        return self._envelope(*answer)

    def _check(self, request: web.Request, raw: bytes):
        """Operation name, header elements by local name, body element (or None)."""
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            envelope = etree.fromstring(raw, parser)
        except etree.XMLSyntaxError as exc:
            raise XtaFault(self.codec.invalid_parameter, "9020", f"not XML: {exc}") from None
        if envelope.tag != f"{{{SOAP}}}Envelope":
            raise XtaFault(self.codec.invalid_parameter, "9020", "not a SOAP 1.2 envelope")
        content_type = request.headers.get("Content-Type", "")
        action = _param(content_type, "action")
        head = envelope.find(f"{{{SOAP}}}Header")
        wsa_action = head.findtext(f"{{{WSA}}}Action") if head is not None else None
        action = action or wsa_action or ""
        if action not in self.actions:
            raise XtaFault(self.codec.invalid_parameter, "9022", f"unknown action {action!r}")
        role, operation = self.actions[action]
        if role != request.match_info["role"]:
            raise XtaFault(self.codec.invalid_parameter, "9022",
                           f"{operation} posted to the {request.match_info['role']} port")
        if not content_type.startswith("application/soap+xml"):
            raise XtaFault(self.codec.invalid_parameter, "9022", f"content type {content_type}")
        if wsa_action is not None and wsa_action != action:
            raise XtaFault(self.codec.invalid_parameter, "9022", "wsa:Action differs from the SOAP action")
        wsa_to = head.findtext(f"{{{WSA}}}To") if head is not None else None
        if wsa_to is not None and wsa_to != str(request.url):
            raise XtaFault(self.codec.invalid_parameter, "9022", f"wsa:To {wsa_to} is not {request.url}")
        headers = {}
        for element in (head if head is not None else []):
            self._validate(element)
            headers[etree.QName(element).localname] = element
        soap_body = envelope.find(f"{{{SOAP}}}Body")
        children = [c for c in soap_body if isinstance(c.tag, str)] if soap_body is not None else []
        if operation in EMPTY_BODY and children:
            raise XtaFault(self.codec.invalid_parameter, "9022", f"{operation} takes an empty body")
        if operation not in EMPTY_BODY and len(children) != 1:
            raise XtaFault(self.codec.invalid_parameter, "9020", f"{operation} needs one body element")
        for child in children:
            self._validate(child)
        return operation, headers, children[0] if children else None

    def _validate(self, element) -> None:
        doc = etree.fromstring(etree.tostring(element))
        if not self.schema.validate(doc):
            problems = "; ".join(f"{e.line}: {e.message}" for e in self.schema.error_log)
            raise XtaFault("MessageSchemaViolationException", "9050",
                           f"{etree.QName(element).localname}: {problems}")

    # -- operations -------------------------------------------------------------------------------
    def _dispatch(self, operation: str, headers: dict, body):
        account = self.codec.account(operation, headers)
        if account not in self.accounts:
            raise XtaFault("PermissionDeniedException", "9012")
        if not self.accounts[account]:
            raise XtaFault("PermissionDeniedException", "9011")
        if operation == "checkAccountActive":
            return [], []
        if operation in ("createMessageId", "createMessageID"):
            message_id = f"urn:de:xta:messageid:fake:{uuid.uuid4()}"
            self.created.add(message_id)
            return self.codec.created(message_id)
        if operation in ("sendMessage", "sendMessageSync"):
            return self._send(operation, self.codec.send_order(headers, body), account)
        if operation == "getTransportReport":
            stored = self.sent.get(self.codec.target_id(operation, body))
            if stored is None or stored.author != account:
                raise XtaFault("InvalidMessageIDException", "9070")
            return self.codec.report(stored, _now(), f"fake-xta-v{self.version}")
        if operation == "lookupService":
            return self.codec.lookup([(r, s, (r, s) in self.offers) for r, s in self.codec.lookups(body)])
        if operation in ("getStatusList", "getNextStatusList"):
            return self._status_list(operation, account, body)
        if operation == "getMessage":
            stored = self.mailboxes[account].get(self.codec.target_id(operation, body))
            if stored is None or stored.closed:
                raise XtaFault("InvalidMessageIDException", "9070")
            stored.fetches += 1
            request_id = f"urn:uuid:{uuid.uuid4()}"
            self.listings[request_id] = deque()
            return self.codec.message(stored, request_id)
        if operation == "close":
            request_id = self.codec.request_id(body)
            if self.version == "3" and request_id not in self.listings:
                raise XtaFault("InvalidMessageIDException", "9070", "unknown MsgBoxRequestID")
            stored = self.mailboxes[account].get(self.codec.target_id(operation, body))
            if stored is None or stored.closed:
                raise XtaFault("InvalidMessageIDException", "9070")
            stored.closed, stored.status = True, 1
            return [], []
        raise XtaFault(self.codec.technical, "9030", f"{operation} not implemented by the fake")

    def _send(self, operation: str, order: dict, account: str):
        if order["author"] != account:
            raise XtaFault("PermissionDeniedException", "9014")
        if order["message_id"] in self.sent:
            raise XtaFault(self.codec.invalid_parameter, "9024")
        offered = (order["reader"], order["service"]) in self.offers
        sync_only = self.offers.get((order["reader"], order["service"]), False)
        if operation == "sendMessage" and sync_only:
            raise XtaFault("SyncAsyncException", "9081")
        if operation == "sendMessageSync" and not sync_only:
            raise XtaFault("SyncAsyncException", "9080")
        stored = Stored(order["message_id"], order["author"], order["reader"], order["service"],
                        order["metadata"], order["container"], order["content"])
        self.sent[stored.message_id] = stored
        if operation == "sendMessage":
            if offered or order["reader"] in self.accounts:
                self.mailboxes[order["reader"]][stored.message_id] = stored
            return [], []
        stored.status = 1
        responder = self.sync_responder or _echo
        content = responder(order)
        reply_id = f"urn:de:xta:messageid:fake:{uuid.uuid4()}"
        return self.codec.sync_reply(self.codec.reply_metadata(order, reply_id, content),
                                     self.codec.container(content))

    def _status_list(self, operation: str, account: str, body):
        if operation == "getNextStatusList":
            request_id = self.codec.request_id(body)
            remaining = self.listings.get(request_id, deque())
            limit = self.page_size
        else:
            request_id = f"urn:uuid:{uuid.uuid4()}"
            remaining = deque(m.message_id for m in self.mailbox(account))
            limit = min(self.page_size, self.codec.status_limit(body))
        self.listings[request_id] = remaining
        page = []
        while remaining and len(page) < limit:
            stored = self.mailboxes[account].get(remaining.popleft())
            if stored is not None and not stored.closed:
                page.append(stored)
        return self.codec.status_list(page, len(remaining), request_id)

    # -- answers --------------------------------------------------------------------------------
    def _envelope(self, headers, bodies, status: int = 200) -> web.Response:
        for element in list(headers) + list(bodies):
            doc = etree.fromstring(etree.tostring(element))
            if not self.schema.validate(doc):
                return web.Response(status=599, text=f"FAKE BUG: invalid answer: {self.schema.error_log}")
        envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"env": SOAP})
        if headers:
            etree.SubElement(envelope, f"{{{SOAP}}}Header").extend(headers)
        etree.SubElement(envelope, f"{{{SOAP}}}Body").extend(bodies)
        return web.Response(status=status, body=etree.tostring(envelope, xml_declaration=True,
                                                               encoding="UTF-8"),
                            content_type="application/soap+xml", charset="utf-8")

    def _fault(self, fault: XtaFault) -> web.Response:
        detail = self.codec.fault_detail(fault.name, fault.code, fault.text)
        doc = etree.fromstring(etree.tostring(detail))
        if not self.schema.validate(doc):
            return web.Response(status=599, text=f"FAKE BUG: invalid fault: {self.schema.error_log}")
        side = "Receiver" if fault.name in RECEIVER_FAULTS else "Sender"
        envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"env": SOAP})
        node = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP}}}Body"), f"{{{SOAP}}}Fault")
        etree.SubElement(etree.SubElement(node, f"{{{SOAP}}}Code"), f"{{{SOAP}}}Value").text = f"env:{side}"
        reason = etree.SubElement(etree.SubElement(node, f"{{{SOAP}}}Reason"), f"{{{SOAP}}}Text")
        reason.set("{http://www.w3.org/XML/1998/namespace}lang", "de")
        reason.text = f"{fault.name}: {fault.text or fault.code}"
        etree.SubElement(node, f"{{{SOAP}}}Detail").append(detail)
        return web.Response(status=500 if side == "Receiver" else 400,
                            body=etree.tostring(envelope, encoding="UTF-8"),
                            content_type="application/soap+xml", charset="utf-8")


def _actions(wsdl: Path) -> dict[str, tuple[str, str]]:
    """SOAP action -> (port role, operation name), read from the WSDL's bindings."""
    tree = etree.parse(str(wsdl), etree.XMLParser(no_network=True, resolve_entities=False))
    actions = {}
    for binding in tree.getroot().iterfind(f"{{{WSDL}}}binding"):
        role = ROLES.get(binding.get("name"))
        if role is None:
            continue
        for op in binding.iterfind(f"{{{WSDL}}}operation"):
            action = op.find(f"{{{SOAP12_WSDL}}}operation").get("soapAction")
            actions[action] = (role, op.get("name"))
    return actions


def _param(content_type: str, name: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == name:
            return value.strip().strip('"')
    return ""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _echo(order: dict) -> bytes:
    return (b'<fake:Reply xmlns:fake="urn:fake:xta"><fake:inReplyTo>'
            + order["message_id"].encode() + b"</fake:inReplyTo></fake:Reply>")
