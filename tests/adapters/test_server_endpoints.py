"""The server's own answers: size limit, SOAP faults, WSDL, health, metrics, API auth."""
from __future__ import annotations

import aiohttp
from lxml import etree
from peer_double import start

from gateway.backend.api import create_api
from gateway.server import create_app

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


async def test_oversized_body_is_413(inbound):
    runner, url = await start(create_app(inbound, max_body_bytes=1000))
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(url + "/messages", data=b"<a>" + b"x" * 2000 + b"</a>") as r:
                assert r.status == 413 and (await r.json())["code"] == "too-large"
    finally:
        await runner.cleanup()
    assert inbound.received == []


async def test_unknown_envelope_versions_and_operations_are_faults_with_codes(server):
    other = b'<e:Envelope xmlns:e="urn:soap:0.9"><e:Body/></e:Envelope>'
    unknown = (f'<e:Envelope xmlns:e="{SOAP12}"><e:Body><x:nope xmlns:x="urn:other"/></e:Body></e:Envelope>').encode()
    async with aiohttp.ClientSession() as s:
        for body, side, code in ((other, "env:VersionMismatch", "gw:version-mismatch"),
                                 (unknown, "env:Sender", "gw:unknown-operation")):
            async with s.post(server + "/soap", data=body) as r:
                assert r.status == 400
                tree = etree.fromstring(await r.read())
                values = [v.text for v in tree.iter(f"{{{SOAP12}}}Value")]
                assert values == [side, code]
                assert tree.find(f".//{{{SOAP12}}}Text").text


async def test_wsdl_carries_the_served_address_and_xsd(server):
    async with aiohttp.ClientSession() as s:
        async with s.get(server + "/soap?wsdl") as r:
            text = await r.text()
        assert f'location="{server}/soap"' in text and f"{server}/soap?xsd=gateway-soap.xsd" in text
        async with s.get(server + "/soap?xsd=gateway-soap.xsd") as r:
            assert r.status == 200 and "deliverMessageResponse" in await r.text()
        async with s.get(server + "/soap?xsd=../../etc/passwd") as r:
            assert r.status == 404


async def test_health_and_metrics(server, inbound):
    async with aiohttp.ClientSession() as s:
        async with s.post(server + "/messages", data=b"<n/>") as r:
            assert r.status == 200
        async with s.get(server + "/health") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
        async with s.get(server + "/metrics") as r:
            text = await r.text()
    assert 'gateway_inbound_messages_total{outcome="accepted",transport="http"} 1.0' in text


async def test_api_refuses_requests_without_the_token(inbound):
    app = create_app(inbound, api=create_api(object(), b"s3cret"))
    runner, url = await start(app)
    try:
        async with aiohttp.ClientSession() as s:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
                async with s.post(url + "/api/messages", json={}, headers=headers) as r:
                    assert r.status == 401
    finally:
        await runner.cleanup()


MALFORMED_REQUESTS = [
    b"POST /messages HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /messages/x HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n",
    b"GET /api/partners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n\r\n",
    b"POST /soap HTTP/1.1\r\nHost: x\r\nContent-Type: ;;;==\r\nContent-Length: 4\r\n\r\n<n/>",
]


async def test_malformed_requests_get_4xx_and_one_log_line_without_traceback(inbound, caplog):
    """Issue 14, item 6: any client could fill the log with tracebacks."""
    import asyncio
    import logging

    from gateway.backend.tokens import Authenticator
    app = create_app(inbound, api=create_api(object(), authenticator=Authenticator(None, b"x" * 32)))
    runner, url = await start(app)
    port = int(url.rsplit(":", 1)[1])
    caplog.set_level(logging.INFO)
    try:
        for raw in MALFORMED_REQUESTS:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw)
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), 5)
            writer.close()
            status = int(status_line.split()[1])
            assert 400 <= status < 500, (raw, status_line)
    finally:
        await runner.cleanup()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert inbound.received == []
