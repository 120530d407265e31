"""The SOAP endpoint (`xsd/soap/gateway.wsdl`), SOAP 1.2 and SOAP 1.1 side by side:
deliverMessage and getMessageStatus, faults with a code and a clear reason, and the WSDL/XSD
served at `?wsdl` / `?xsd=NAME`.

Each request is answered in its own SOAP version: the envelope's namespace decides (before
the body is read, its Content-Type: `text/xml` is SOAP 1.1, anything else SOAP 1.2). SOAP 1.2
Part 1 §5.4.6: a fault caused by the message is `env:Sender` (HTTP 400), one the receiver may
recover from is `env:Receiver` (HTTP 500, Part 2 §7.5.2.2); SOAP 1.1 says `Client`/`Server`
and every fault travels with HTTP 500 (WS-I Basic Profile 1.1, R1126). Our `gatewayFault`
detail repeats the code and says whether a retry can help.

The envelope is checked strictly (SOAP 1.2 Part 1 §5): at most one Header, first; exactly one
Body, last, holding exactly one element; no text, no other elements. A header block for us
(no role/actor, or next/ultimateReceiver) with mustUnderstand is not understood — we process
no header blocks — and answered with a MustUnderstand fault (§5.2.3, §5.4.8).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
from dataclasses import dataclass

from aiohttp import web
from lxml import etree

from .. import xml as hardened
from ..errors import XmlSecurityError
from ..resources import xsd_dir
from . import INBOUND_KEY, LIMIT_KEY, METRICS_KEY, peer_of
from .bodies import read_limited
from .problems import Problem, problem_for

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
GW = "urn:xoev-gateway:exchange:1"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XSD_NAME = "gateway-soap.xsd"
WSDL_KEY = web.AppKey("soap_documents", dict)
PUBLIC_KEY = web.AppKey("soap_public_url", str)
OPERATIONS = ("deliverMessage", "getMessageStatus")


@dataclass(frozen=True, slots=True)
class Version:
    """What differs between SOAP 1.1 and 1.2 on the wire."""

    name: str
    ns: str
    content_type: str
    sender: str                     # fault code of a fault caused by the message
    receiver: str                   # fault code of a fault the receiver may recover from
    roles: frozenset                # role/actor values that address us (None: no attribute)
    role_attr: str
    true_values: frozenset          # values of mustUnderstand that mean true

    def status(self, retry: bool) -> int:
        """HTTP status of a fault: 1.1 always 500; 1.2 Receiver 500, Sender 400."""
        return 500 if self is V11 or retry else 400


V12 = Version("1.2", SOAP12, "application/soap+xml; charset=utf-8", "Sender", "Receiver",
              frozenset({None, SOAP12 + "/role/next", SOAP12 + "/role/ultimateReceiver"}), "role",
              frozenset({"true", "1"}))
V11 = Version("1.1", SOAP11, "text/xml; charset=utf-8", "Client", "Server",
              frozenset({None, "http://schemas.xmlsoap.org/soap/actor/next"}), "actor",
              frozenset({"1", "true"}))
VERSIONS = {SOAP12: V12, SOAP11: V11}


def add_routes(app: web.Application, *, public_url: str = "") -> None:
    """Register /soap on the app; WSDL and XSD are read once, here."""
    folder = xsd_dir() / "soap"
    app[WSDL_KEY] = {"wsdl": (folder / "gateway.wsdl").read_text(encoding="utf-8"),
                     XSD_NAME: (folder / XSD_NAME).read_text(encoding="utf-8")}
    app[PUBLIC_KEY] = public_url.rstrip("/")
    app.router.add_post("/soap", endpoint)
    app.router.add_get("/soap", documents)


async def documents(request: web.Request) -> web.Response:
    """GET /soap?wsdl or /soap?xsd=gateway-soap.xsd."""
    docs = request.app[WSDL_KEY]
    base = request.app[PUBLIC_KEY] or str(request.url.origin())
    if "wsdl" in request.query:
        text = docs["wsdl"].replace('location="http://127.0.0.1:8480/soap"', f'location="{base}/soap"')
        text = text.replace(f'schemaLocation="{XSD_NAME}"', f'schemaLocation="{base}/soap?xsd={XSD_NAME}"')
        return web.Response(text=text, content_type="text/xml")
    if request.query.get("xsd") == XSD_NAME:
        return web.Response(text=docs[XSD_NAME], content_type="text/xml")
    raise web.HTTPNotFound(text="ask for ?wsdl or ?xsd=" + XSD_NAME)


def version_of(request: web.Request) -> Version:
    """The SOAP version a request announces by its Content-Type (before its body is read)."""
    return V11 if request.content_type == "text/xml" else V12


def envelope_limit(max_body_bytes: int) -> int:
    """The largest envelope: a message of max_body_bytes in base64, plus room for the rest."""
    return max_body_bytes * 4 // 3 + 65536


async def endpoint(request: web.Request) -> web.Response:
    """POST /soap: check the envelope, dispatch on the body's element."""
    app = request.app
    version = version_of(request)
    limit = envelope_limit(app[LIMIT_KEY])
    body = await read_limited(request, limit)
    if isinstance(body, Problem):
        return fault(body, version=version)
    try:
        tree = await asyncio.to_thread(hardened.parse, body, hardened.Limits(max_bytes=limit))
        version, operation, payload = _operation(tree.getroot(), version)
    except SoapFault as exc:
        return exc.response(version)
    except XmlSecurityError as exc:
        return fault(problem_for(exc), version=version)
    handler = {"deliverMessage": _deliver, "getMessageStatus": _status}[operation]
    try:
        return await handler(request, payload, version)
    except SoapFault as exc:
        return exc.response(version)
    except Exception as exc:  # noqa: BLE001 - every error becomes a fault, never a traceback
        problem = problem_for(exc)
        if operation == "deliverMessage":
            app[METRICS_KEY].inbound.labels("soap", problem.code).inc()
        return fault(problem, version=version)


async def _deliver(request: web.Request, element: etree._Element, version: Version) -> web.Response:
    app = request.app
    started = time.perf_counter()
    xml = _base64(_child(element, "message"), "message")
    if len(xml) > app[LIMIT_KEY]:
        raise SoapFault(Problem(413, "too-large", f"message is over the limit of {app[LIMIT_KEY]} bytes"))
    result = await app[INBOUND_KEY].receive(xml, peer_of(request, "soap"))
    app[METRICS_KEY].inbound.labels("soap", "accepted" if result.accepted else "rejected").inc()
    app[METRICS_KEY].inbound_seconds.labels("soap").observe(time.perf_counter() - started)
    return envelope("deliverMessageResponse", [
        ("messageUUID", result.message_uuid),
        ("accepted", "true" if result.accepted else "false"),
        ("receipt", base64.b64encode(result.receipt_xml).decode()),
    ], version=version)


async def _status(request: web.Request, element: etree._Element, version: Version) -> web.Response:
    uuid = (_child(element, "messageUUID").text or "").strip()
    info = await request.app[INBOUND_KEY].status(uuid, peer_of(request, "soap"))
    if info is None:
        raise SoapFault(Problem(404, "not-found", f"no message {uuid[:100]}"))
    parts = [("messageUUID", info.message_uuid), ("state", info.state)]
    if info.receipt_xml is not None:
        parts.append(("receipt", base64.b64encode(info.receipt_xml).decode()))
    return envelope("getMessageStatusResponse", parts, version=version)


class SoapFault(Exception):
    """Raised inside the endpoint to answer with a fault. `side` overrides the fault code
    (VersionMismatch, MustUnderstand); `version` overrides the request's SOAP version."""

    def __init__(self, problem: Problem, *, side: str = "", version: Version | None = None,
                 not_understood: tuple[etree.QName, ...] = ()):
        super().__init__(problem.reason)
        self.problem = problem
        self.side = side
        self.version = version
        self.not_understood = not_understood

    def response(self, version: Version) -> web.Response:
        """The fault answer, in this fault's version or else the request's."""
        return fault(self.problem, version=self.version or version, side=self.side,
                     not_understood=self.not_understood)


def _bad(reason: str, code: str = "bad-envelope") -> SoapFault:
    return SoapFault(Problem(400, code, reason))


def _operation(root: etree._Element, announced: Version) -> tuple[Version, str, etree._Element]:
    """The version, operation and operation element of a strictly checked envelope."""
    qname = etree.QName(root)
    version = VERSIONS.get(qname.namespace)
    if qname.localname == "Envelope" and version is None:
        # SOAP 1.2 Part 1 §5.4.7: answered in SOAP 1.2, naming the versions we speak.
        raise SoapFault(Problem(400, "version-mismatch", f"unsupported SOAP envelope namespace "
                                f"{qname.namespace!r}; use SOAP 1.2 ({SOAP12}) or 1.1 ({SOAP11})"),
                        side="VersionMismatch", version=V12)
    if version is None:
        raise _bad(f"the document is not a SOAP envelope (root element {qname.localname[:100]})", "not-soap")
    elements = _element_children(root, "Envelope")
    names = [etree.QName(e).localname if etree.QName(e).namespace == version.ns else etree.QName(e).text
             for e in elements]
    if names.count("Body") != 1:
        raise SoapFault(Problem(400, "bad-envelope", f"the envelope must hold exactly one Body "
                                f"(found {names.count('Body')})"), version=version)
    if names.count("Header") > 1:
        raise SoapFault(Problem(400, "bad-envelope", "the envelope holds more than one Header"),
                        version=version)
    if names[-1] != "Body":
        after = names[names.index("Body") + 1]
        what = "Header must come before Body" if after == "Header" else f"element {after[:100]} follows Body"
        raise SoapFault(Problem(400, "bad-envelope", what), version=version)
    if len(names) > 2 or (len(names) == 2 and names[0] != "Header"):
        raise SoapFault(Problem(400, "bad-envelope", f"unexpected element {names[0][:100]} in the envelope"),
                        version=version)
    if names[0] == "Header":
        _check_header(elements[0], version)
    children = _element_children(elements[-1], "Body")
    if len(children) != 1:
        raise SoapFault(Problem(400, "bad-envelope", "the SOAP body must hold exactly one element"),
                        version=version)
    qname = etree.QName(children[0])
    if qname.namespace != GW or qname.localname not in OPERATIONS:
        raise SoapFault(Problem(400, "unknown-operation", f"unknown operation {qname.text[:200]}"),
                        version=version)
    return version, qname.localname, children[0]


def _element_children(node: etree._Element, name: str) -> list[etree._Element]:
    """The element children of Envelope/Body; processing instructions and text are refused."""
    if (node.text or "").strip():
        raise _bad(f"text inside {name} is not allowed")
    found = []
    for child in node:
        if isinstance(child, etree._ProcessingInstruction):
            raise _bad(f"processing instructions inside {name} are not allowed")
        if (child.tail or "").strip():
            raise _bad(f"text inside {name} is not allowed")
        if isinstance(child.tag, str):
            found.append(child)
    return found


def _check_header(header: etree._Element, version: Version) -> None:
    """MustUnderstand fault for header blocks addressed to us that demand understanding:
    we understand none."""
    mu, role = f"{{{version.ns}}}mustUnderstand", f"{{{version.ns}}}{version.role_attr}"
    demanded = tuple(etree.QName(block) for block in header
                     if isinstance(block.tag, str)
                     and (block.get(mu) or "").strip() in version.true_values
                     and block.get(role) in version.roles)
    if demanded:
        names = ", ".join(q.text[:200] for q in demanded[:5])
        raise SoapFault(Problem(400, "must-understand", f"header block(s) not understood: {names}"),
                        side="MustUnderstand", version=version, not_understood=demanded)


def _child(element: etree._Element, name: str) -> etree._Element:
    child = element.find(f"{{{GW}}}{name}")
    if child is None:
        raise SoapFault(Problem(400, "bad-request", f"{etree.QName(element).localname}/{name} is missing"))
    return child


def _base64(element: etree._Element, name: str) -> bytes:
    try:
        return base64.b64decode("".join((element.text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise SoapFault(Problem(400, "bad-request", f"{name} is not valid base64")) from None


def envelope(name: str, parts: list[tuple[str, str]], *, version: Version = V12) -> web.Response:
    """A response envelope with one gw:NAME element holding the given children."""
    env = etree.Element(f"{{{version.ns}}}Envelope", nsmap={"env": version.ns, "gw": GW})
    element = etree.SubElement(etree.SubElement(env, f"{{{version.ns}}}Body"), f"{{{GW}}}{name}")
    for tag, text in parts:
        etree.SubElement(element, f"{{{GW}}}{tag}").text = text
    return _soap_response(env, 200, version)


def fault(problem: Problem, *, version: Version = V12, side: str = "",
          not_understood: tuple[etree.QName, ...] = ()) -> web.Response:
    """A fault in the given SOAP version: Sender/Client or Receiver/Server (or `side`), the
    gw code, reason and our gatewayFault detail."""
    side = side or (version.receiver if problem.retry else version.sender)
    env = etree.Element(f"{{{version.ns}}}Envelope", nsmap={"env": version.ns, "gw": GW})
    if version is V12 and not_understood:
        head = etree.SubElement(env, f"{{{SOAP12}}}Header")
        for i, qname in enumerate(not_understood):
            block = etree.SubElement(head, f"{{{SOAP12}}}NotUnderstood", nsmap={f"p{i}": qname.namespace}
                                     if qname.namespace else None)
            block.set("qname", f"p{i}:{qname.localname}" if qname.namespace else qname.localname)
    body = etree.SubElement(env, f"{{{version.ns}}}Body")
    node = etree.SubElement(body, f"{{{version.ns}}}Fault")
    if version is V12:
        code = etree.SubElement(node, f"{{{SOAP12}}}Code")
        etree.SubElement(code, f"{{{SOAP12}}}Value").text = f"env:{side}"
        sub = etree.SubElement(code, f"{{{SOAP12}}}Subcode")
        etree.SubElement(sub, f"{{{SOAP12}}}Value").text = f"gw:{problem.code}"
        reason = etree.SubElement(node, f"{{{SOAP12}}}Reason")
        text = etree.SubElement(reason, f"{{{SOAP12}}}Text")
        text.set(f"{{{XML_NS}}}lang", "en")
        text.text = _text(problem.reason)
        detail = etree.SubElement(node, f"{{{SOAP12}}}Detail")
    else:
        etree.SubElement(node, "faultcode").text = f"env:{side}"
        etree.SubElement(node, "faultstring").text = _text(problem.reason)
        detail = etree.SubElement(node, "detail")
    gateway_fault = etree.SubElement(detail, f"{{{GW}}}gatewayFault")
    etree.SubElement(gateway_fault, f"{{{GW}}}code").text = problem.code
    etree.SubElement(gateway_fault, f"{{{GW}}}reason").text = _text(problem.reason)
    etree.SubElement(gateway_fault, f"{{{GW}}}retry").text = "true" if problem.retry else "false"
    response = _soap_response(env, version.status(problem.retry), version)
    if side == "VersionMismatch":
        response.headers["Upgrade"] = "SOAP/1.2, SOAP/1.1"
    if problem.retry:
        response.headers["Retry-After"] = "30"
    return response


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(reason: str) -> str:
    """A reason as XML text: characters XML cannot carry become U+FFFD."""
    return _NOT_XML.sub("\ufffd", reason)


def _soap_response(env: etree._Element, status: int, version: Version) -> web.Response:
    body = etree.tostring(env, xml_declaration=True, encoding="UTF-8")
    return web.Response(body=body, status=status, headers={"Content-Type": version.content_type})
