"""The SOAP endpoint's envelope rules (issue 14, items 3, 5, 7, 8): strict envelopes,
mustUnderstand, SOAP 1.1 beside 1.2 (each answered in its own format), the same size limit
as plain HTTP, compressed and chunked bodies. Real server, scripted pipeline."""
from __future__ import annotations

import asyncio
import base64
import gzip
import zlib

import aiohttp
import pytest
from lxml import etree
from peer_double import receipt_for, start

from gateway.server import create_app

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
GW = "urn:xoev-gateway:exchange:1"
CT = {SOAP12: "application/soap+xml; charset=utf-8", SOAP11: "text/xml; charset=utf-8"}


def envelope(ns: str = SOAP12, body: str | None = None, header: str = "", before: str = "",
             after: str = "", message: bytes = b"<n/>") -> bytes:
    if body is None:
        body = (f'<gw:deliverMessage xmlns:gw="{GW}"><gw:message>{base64.b64encode(message).decode()}'
                f"</gw:message></gw:deliverMessage>")
    return (f'<e:Envelope xmlns:e="{ns}">{before}{header}<e:Body>{body}</e:Body>{after}</e:Envelope>').encode()


async def post(url: str, data: bytes, ns: str = SOAP12, headers: dict | None = None):
    async with aiohttp.ClientSession() as s:
        async with s.post(url + "/soap", data=data, headers={"Content-Type": CT[ns], **(headers or {})}) as r:
            return r.status, r.headers.get("Content-Type", ""), await r.read()


def fault_of(ns: str, body: bytes) -> tuple[str, str]:
    """(fault code, gw code) of a fault envelope in either version."""
    tree = etree.fromstring(body)
    assert tree.tag == f"{{{ns}}}Envelope"
    if ns == SOAP12:
        values = [v.text for v in tree.iter(f"{{{SOAP12}}}Value")]
        return values[0], values[1].removeprefix("gw:")
    fault = tree.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert fault.findtext("faultstring")
    return fault.findtext("faultcode"), fault.findtext(f"detail/{{{GW}}}gatewayFault/{{{GW}}}code")


BAD_ENVELOPES = {
    "two bodies": dict(after='<e:Body><gw:getMessageStatus xmlns:gw="urn:xoev-gateway:exchange:1">'
                             '<gw:messageUUID>x</gw:messageUUID></gw:getMessageStatus></e:Body>'),
    "element after Body": dict(after="<x:extra xmlns:x='urn:x'/>"),
    "Header after Body": dict(after="<e:Header/>"),
    "two headers": dict(header="<e:Header/><e:Header/>"),
    "element before Body": dict(before="<x:extra xmlns:x='urn:x'/>"),
    "text in the envelope": dict(before="text"),
    "no Body element": dict(body="", before="", after=""),
}


@pytest.mark.parametrize("ns", [SOAP12, SOAP11], ids=["soap12", "soap11"])
@pytest.mark.parametrize("name", sorted(BAD_ENVELOPES))
async def test_lax_envelopes_are_refused_in_their_own_version(server, inbound, ns, name):
    data = envelope(ns, **BAD_ENVELOPES[name])
    if name == "no Body element":
        data = f'<e:Envelope xmlns:e="{ns}"><e:Header/></e:Envelope>'.encode()
    status, content_type, body = await post(server, data, ns)
    assert status == (400 if ns == SOAP12 else 500)
    assert content_type.startswith(CT[ns].split(";")[0])
    assert fault_of(ns, body) == ("env:Sender" if ns == SOAP12 else "env:Client", "bad-envelope")
    assert inbound.received == []


@pytest.mark.parametrize("ns, attrs, refused", [
    (SOAP12, 'e:mustUnderstand="true"', True),
    (SOAP12, 'e:mustUnderstand="1"', True),
    (SOAP12, 'e:mustUnderstand="true" e:role="http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"', True),
    (SOAP12, 'e:mustUnderstand="true" e:role="http://www.w3.org/2003/05/soap-envelope/role/none"', False),
    (SOAP12, 'e:mustUnderstand="false"', False),
    (SOAP11, 'e:mustUnderstand="1"', True),
    (SOAP11, 'e:mustUnderstand="1" e:actor="urn:someone-else"', False),
    (SOAP11, "", False),
])
async def test_must_understand_headers(server, inbound, ns, attrs, refused):
    header = f'<e:Header><s:Security xmlns:s="urn:sec" {attrs}/></e:Header>'
    status, _, body = await post(server, envelope(ns, header=header), ns)
    if not refused:
        assert status == 200 and len(inbound.received) == 1
        return
    assert status == (400 if ns == SOAP12 else 500)
    assert fault_of(ns, body) == ("env:MustUnderstand", "must-understand")
    assert inbound.received == []
    if ns == SOAP12:
        tree = etree.fromstring(body)
        block = tree.find(f"{{{SOAP12}}}Header/{{{SOAP12}}}NotUnderstood")
        prefix, local = block.get("qname").split(":")
        assert (block.nsmap[prefix], local) == ("urn:sec", "Security")


@pytest.mark.parametrize("ns", [SOAP12, SOAP11], ids=["soap12", "soap11"])
async def test_each_version_is_answered_in_its_own_envelope(server, inbound, ns):
    status, content_type, body = await post(server, envelope(ns, message=b"<n/>"), ns)
    assert status == 200 and content_type.startswith(CT[ns].split(";")[0])
    tree = etree.fromstring(body)
    assert tree.tag == f"{{{ns}}}Envelope"
    receipt = tree.findtext(f"{{{ns}}}Body/{{{GW}}}deliverMessageResponse/{{{GW}}}receipt")
    assert base64.b64decode(receipt) == receipt_for(b"<n/>")


async def test_soap11_faults_are_http_500_with_retry_in_the_detail(server, inbound):
    inbound.mode = "busy"
    status, _, body = await post(server, envelope(SOAP11), SOAP11)
    assert status == 500 and fault_of(SOAP11, body) == ("env:Server", "unavailable")
    inbound.mode = "reject"
    status, _, body = await post(server, envelope(SOAP11), SOAP11)
    assert status == 500 and fault_of(SOAP11, body) == ("env:Client", "rejected")


async def test_a_message_accepted_over_http_is_accepted_over_soap(inbound):
    """A message of 8 MB: its base64 text node (10.7 M characters) is over libxml2's default
    text cap, which refused it over SOAP while HTTP took it. The same limit holds on both."""
    limit = 10 * 1024 * 1024
    message = b"<n>" + b"x" * (8 * 1024 * 1024) + b"</n>"
    runner, url = await start(create_app(inbound, max_body_bytes=limit))
    try:
        status, _, body = await post(url, envelope(SOAP12, message=message))
        assert status == 200, body[:300]
        async with aiohttp.ClientSession() as s:
            async with s.post(url + "/messages", data=message) as r:
                assert r.status == 200
        over = b"<n>" + b"x" * limit + b"</n>"
        async with aiohttp.ClientSession() as s:
            async with s.post(url + "/messages", data=over) as r:
                assert r.status == 413
        status, _, body = await post(url, envelope(SOAP12, message=over))
        assert status == 400 and fault_of(SOAP12, body) == ("env:Sender", "too-large")
    finally:
        await runner.cleanup()
    assert [xml for xml, _ in inbound.received] == [message, message]


async def test_an_over_limit_chunked_body_is_a_fault(inbound):
    runner, url = await start(create_app(inbound, max_body_bytes=1000))

    async def chunks():
        for _ in range(200):        # 200 KB, over the envelope limit of 1000 * 4 / 3 + 64 KiB
            yield b"<e:Envelope>" + b" " * 1000
    try:
        for ns in (SOAP12, SOAP11):
            async with aiohttp.ClientSession() as s:
                async with s.post(url + "/soap", data=chunks(), headers={"Content-Type": CT[ns]}) as r:
                    assert fault_of(ns, await r.read())[1] == "too-large"
    finally:
        await runner.cleanup()
    assert inbound.received == []


@pytest.mark.parametrize("path", ["/soap", "/messages"])
async def test_a_gzip_bomb_is_refused_without_inflating_it(inbound, path):
    """One 284 KB gzip body raised peak RSS by ~125 MiB: now the inflated size is counted
    as it grows and the request refused at the limit."""
    runner, url = await start(create_app(inbound, max_body_bytes=1024 * 1024))
    bomb = gzip.compress(b"<a>" + b" " * (300 * 1024 * 1024) + b"</a>", 9)
    try:
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            async with s.post(url + path, data=bomb, headers={
                    "Content-Encoding": "gzip", "Content-Type": CT[SOAP12]}) as r:
                assert r.status in (400, 413)
                text = await r.read()
                assert b"too-large" in text
    finally:
        await runner.cleanup()
    assert inbound.received == []


@pytest.mark.parametrize("encoding, data", [
    ("gzip", b"\x1f\x8b\x08\x00 not gzip at all"),
    ("gzip", gzip.compress(b"<n/>")[:-6]),
    ("deflate", b"not deflate"),
])
async def test_corrupt_compressed_bodies_are_client_errors(server, inbound, encoding, data):
    async with aiohttp.ClientSession() as s:
        async with s.post(server + "/messages", data=data, headers={"Content-Encoding": encoding}) as r:
            assert r.status == 400 and (await r.json())["code"] == "bad-encoding"
        async with s.post(server + "/soap", data=data, headers={"Content-Encoding": encoding,
                                                                  "Content-Type": CT[SOAP12]}) as r:
            assert r.status == 400 and fault_of(SOAP12, await r.read())[1] == "bad-encoding"
    assert inbound.received == []


async def test_compressed_bodies_within_the_limit_are_read(server, inbound):
    async with aiohttp.ClientSession() as s:
        for encoding, data in (("gzip", gzip.compress(b"<n/>")), ("deflate", zlib.compress(b"<n/>"))):
            async with s.post(server + "/messages", data=data, headers={"Content-Encoding": encoding}) as r:
                assert r.status == 200
        async with s.post(server + "/messages", data=b"<n/>", headers={"Content-Encoding": "br"}) as r:
            assert r.status == 415
    assert [xml for xml, _ in inbound.received] == [b"<n/>", b"<n/>"]


def _suds_client(url: str):
    from suds.client import Client
    return Client(url + "/soap?wsdl", port="GatewayExchangeSoap11Port", cache=None)


async def test_suds_soap11_client_delivers_and_reads_faults(server, inbound):
    """suds (SOAP 1.1 only) as an independent client, from our served WSDL."""
    import importlib.util

    from tests.conftest import need
    need(importlib.util.find_spec("suds") is not None, "suds-community is not installed (pip install -e .[test])")

    def talk():
        client = _suds_client(server)
        answer = client.service.deliverMessage(base64.b64encode(b"<n/>").decode())
        status = client.service.getMessageStatus("uuid-1")
        inbound.mode = "reject"
        try:
            client.service.deliverMessage(base64.b64encode(b"<n/>").decode())
        except Exception as exc:  # noqa: BLE001 - suds.WebFault
            return answer, status, exc
        return answer, status, None

    answer, status, error = await asyncio.to_thread(talk)
    assert answer.accepted is True and base64.b64decode(answer.receipt) == receipt_for(b"<n/>")
    assert status.state == "received"
    assert type(error).__name__ == "WebFault" and error.fault.faultcode == "env:Client"
    assert error.fault.detail.gatewayFault.code == "rejected"


async def test_zeep_talks_to_both_bindings(server, inbound):
    import zeep
    from zeep.transports import Transport

    def talk(port: str):
        client = zeep.Client(server + "/soap?wsdl", transport=Transport(timeout=10))
        service = client.bind("GatewayExchangeService", port)
        return service.deliverMessage(message=b"<n/>")

    for port in ("GatewayExchangeSoap12Port", "GatewayExchangeSoap11Port"):
        answer = await asyncio.to_thread(talk, port)
        assert answer.accepted is True and answer.receipt == receipt_for(b"<n/>")
    assert len(inbound.received) == 2
