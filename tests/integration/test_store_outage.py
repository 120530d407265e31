"""Issue 14, item 12: a store outage (the database refusing and dropping connections,
the data disk full, the database locked) is `503` with `Retry-After` on every endpoint (a
SOAP `Receiver` fault), logged as one line: never `500 internal` with a traceback, which
says "bug" and may stop a backend from retrying. Real PostgreSQL, real server."""
from __future__ import annotations

import base64
import logging

import aiohttp
import pytest
from api_support import OFFICE, PORTAL, example, start_pair
from sqlalchemy.engine import make_url

from tests.integration.conftest import _pg_connect

LETTER = "korrespondenz.schreiben.0200"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


def soap(xml: bytes) -> bytes:
    return (f'<e:Envelope xmlns:e="{SOAP12}"><e:Body><gw:deliverMessage xmlns:gw="urn:xoev-gateway:exchange:1">'
            f"<gw:message>{base64.b64encode(xml).decode()}</gw:message></gw:deliverMessage></e:Body>"
            "</e:Envelope>").encode()


@pytest.mark.postgres
async def test_a_lost_database_is_503_with_retry_after_everywhere(tmp_path, pg_url, caplog):
    pair = await start_pair(tmp_path, store_url=pg_url)
    admin = await _pg_connect()
    name = make_url(pg_url).database
    try:
        msg = await pair.a.submit(LETTER, example(LETTER), to=OFFICE)
        xml = await pair.a.store.payload(msg.id)
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        caplog.clear()
        caplog.set_level(logging.INFO)
        headers = {"Authorization": f"Bearer {pair.operator}"}
        async with aiohttp.ClientSession() as s:
            body = {"type": LETTER, "to": PORTAL, "record": example(LETTER)}
            async with s.post(pair.url + "/api/messages", json=body, headers=headers) as r:
                assert r.status == 503 and r.headers.get("Retry-After"), await r.text()
                assert (await r.json())["type"].endswith(":unavailable")
            async with s.post(pair.url + "/messages", data=xml) as r:
                assert r.status == 503 and r.headers.get("Retry-After"), await r.text()
                assert (await r.json())["code"] == "unavailable"
            async with s.post(pair.url + "/soap", data=soap(xml),
                              headers={"Content-Type": "application/soap+xml"}) as r:
                text = await r.text()
                assert r.status == 500 and r.headers.get("Retry-After"), text
                assert "env:Receiver" in text and "gw:unavailable" in text
        records = [r for r in caplog.records if r.name.startswith("gateway")]
        assert not [r for r in records if r.exc_info], [r.getMessage() for r in records if r.exc_info]
        assert any("store unavailable" in r.getMessage() for r in records)
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
        await pair.aclose()
