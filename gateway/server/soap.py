"""The SOAP 1.2 endpoint (`xsd/soap/gateway.wsdl`): deliverMessage and getMessageStatus,
faults with a code and a clear reason, and the WSDL/XSD served at `?wsdl` / `?xsd=NAME`.

SOAP 1.2 Part 1 §5.4.6: a fault caused by the message is `env:Sender` (HTTP 400), one the
receiver may recover from is `env:Receiver` (HTTP 500, SOAP 1.2 Part 2 §7.5.2.2). Our
`gatewayFault` detail repeats the code and says whether a retry can help.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import time

from aiohttp import web
from lxml import etree

from .. import xml as hardened
from ..errors import XmlSecurityError
from ..resources import xsd_dir
from . import INBOUND_KEY, LIMIT_KEY, METRICS_KEY, peer_of
from .problems import Problem, problem_for

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
GW = "urn:xoev-gateway:exchange:1"
XSD_NAME = "gateway-soap.xsd"
WSDL_KEY = web.AppKey("soap_documents", dict)
PUBLIC_KEY = web.AppKey("soap_public_url", str)


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


async def endpoint(request: web.Request) -> web.Response:
    """POST /soap: dispatch on the body's first element."""
    app = request.app
    limit = app[LIMIT_KEY] * 4 // 3 + 65536
    if request.content_length is not None and request.content_length > limit:
        return fault(Problem(413, "too-large", f"request body is over the limit of {limit} bytes"))
    body = await request.read()
    try:
        tree = await asyncio.to_thread(hardened.parse, body, hardened.Limits(max_bytes=limit))
        operation, payload = _operation(tree.getroot())
    except SoapFault as exc:
        return fault(exc.problem, version_mismatch=exc.version_mismatch)
    except XmlSecurityError as exc:
        return fault(problem_for(exc))
    handler = {"deliverMessage": _deliver, "getMessageStatus": _status}[operation]
    try:
        return await handler(request, payload)
    except SoapFault as exc:
        return fault(exc.problem)
    except Exception as exc:  # noqa: BLE001 - every error becomes a fault, never a traceback
        problem = problem_for(exc)
        if operation == "deliverMessage":
            app[METRICS_KEY].inbound.labels("soap", problem.code).inc()
        return fault(problem)


async def _deliver(request: web.Request, element: etree._Element) -> web.Response:
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
    ])


async def _status(request: web.Request, element: etree._Element) -> web.Response:
    uuid = (_child(element, "messageUUID").text or "").strip()
    info = await request.app[INBOUND_KEY].status(uuid, peer_of(request, "soap"))
    if info is None:
        raise SoapFault(Problem(404, "not-found", f"no message {uuid}"))
    parts = [("messageUUID", info.message_uuid), ("state", info.state)]
    if info.receipt_xml is not None:
        parts.append(("receipt", base64.b64encode(info.receipt_xml).decode()))
    return envelope("getMessageStatusResponse", parts)


class SoapFault(Exception):
    """Raised inside the endpoint to answer with a fault."""

    def __init__(self, problem: Problem, version_mismatch: bool = False):
        super().__init__(problem.reason)
        self.problem = problem
        self.version_mismatch = version_mismatch


def _operation(root: etree._Element) -> tuple[str, etree._Element]:
    if root.tag == f"{{{SOAP11}}}Envelope":
        raise SoapFault(Problem(400, "version-mismatch", "SOAP 1.1 is not supported; use SOAP 1.2"),
                        version_mismatch=True)
    if root.tag != f"{{{SOAP12}}}Envelope":
        raise SoapFault(Problem(400, "not-soap", "the document is not a SOAP 1.2 envelope"))
    body = root.find(f"{{{SOAP12}}}Body")
    children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise SoapFault(Problem(400, "bad-envelope", "the SOAP body must hold exactly one element"))
    qname = etree.QName(children[0])
    if qname.namespace != GW or qname.localname not in ("deliverMessage", "getMessageStatus"):
        raise SoapFault(Problem(400, "unknown-operation", f"unknown operation {qname.text}"))
    return qname.localname, children[0]


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


def envelope(name: str, parts: list[tuple[str, str]]) -> web.Response:
    """A SOAP 1.2 response envelope with one gw:NAME element holding the given children."""
    env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"env": SOAP12, "gw": GW})
    element = etree.SubElement(etree.SubElement(env, f"{{{SOAP12}}}Body"), f"{{{GW}}}{name}")
    for tag, text in parts:
        etree.SubElement(element, f"{{{GW}}}{tag}").text = text
    return _soap_response(env, 200)


def fault(problem: Problem, *, version_mismatch: bool = False) -> web.Response:
    """A SOAP 1.2 fault: Sender (400) or Receiver (500), gw:code subcode, reason, detail."""
    env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"env": SOAP12, "gw": GW})
    node = etree.SubElement(etree.SubElement(env, f"{{{SOAP12}}}Body"), f"{{{SOAP12}}}Fault")
    code = etree.SubElement(node, f"{{{SOAP12}}}Code")
    side = "VersionMismatch" if version_mismatch else ("Receiver" if problem.retry else "Sender")
    etree.SubElement(code, f"{{{SOAP12}}}Value").text = f"env:{side}"
    sub = etree.SubElement(code, f"{{{SOAP12}}}Subcode")
    etree.SubElement(sub, f"{{{SOAP12}}}Value").text = f"gw:{problem.code}"
    reason = etree.SubElement(node, f"{{{SOAP12}}}Reason")
    text = etree.SubElement(reason, f"{{{SOAP12}}}Text")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    text.text = problem.reason
    detail = etree.SubElement(etree.SubElement(node, f"{{{SOAP12}}}Detail"), f"{{{GW}}}gatewayFault")
    etree.SubElement(detail, f"{{{GW}}}code").text = problem.code
    etree.SubElement(detail, f"{{{GW}}}reason").text = problem.reason
    etree.SubElement(detail, f"{{{GW}}}retry").text = "true" if problem.retry else "false"
    return _soap_response(env, 500 if problem.retry else 400)


def _soap_response(env: etree._Element, status: int) -> web.Response:
    body = etree.tostring(env, xml_declaration=True, encoding="UTF-8")
    return web.Response(body=body, status=status, headers={
        "Content-Type": "application/soap+xml; charset=utf-8"})
