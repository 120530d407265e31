"""Issue 14: a corpus of hostile inputs against every inbound surface — plain HTTP, SOAP 1.2,
SOAP 1.1, the backend API and the drop folder's parser — each with its expected answer,
nothing stored as accepted, the server still healthy afterwards, and a CPU-time and memory
bound per case (measured with `resource` and /proc: generous for a noisy machine, tight
enough to catch quadratic cost)."""
from __future__ import annotations

import base64
import gzip
import json
import resource
from pathlib import Path

import aiohttp
import pytest
from api_support import OFFICE, PORTAL, example
from lxml import etree

from gateway.model import Direction

LETTER = "korrespondenz.schreiben.0200"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
GW = "urn:xoev-gateway:exchange:1"
CPU_SECONDS = 3.0            # per case, server and client together (one process)
RSS_GROWTH = 200 * 1024 * 1024


def ns_flood(n: int) -> bytes:
    return ("<r " + " ".join(f'xmlns:a{i}="urn:{i}"' for i in range(n)) + "/>").encode()


def attr_flood(n: int) -> bytes:
    return ("<r " + " ".join(f'a{i}="v"' for i in range(n)) + "/>").encode()


#: name -> (body, expected HTTP status on /messages, expected code)
XML_CASES = {
    "not xml": (b"hello", 400, "malformed"),
    "empty": (b"", 400, "malformed"),
    "internal dtd": (b'<!DOCTYPE a [<!ELEMENT a ANY>]><a/>', 400, "malformed"),
    "billion laughs": (b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                       b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;&c;&c;</l>', 400, "malformed"),
    "external entity": (b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>', 400, "malformed"),
    "parameter entity": (b'<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x">%p;]><a/>', 400, "malformed"),
    "undeclared entity": (b"<a>&nope;</a>", 400, "malformed"),
    "deep nesting": (b"<a>" * 5000 + b"</a>" * 5000, 400, "malformed"),
    "namespace flood": (ns_flood(16000), 400, "malformed"),
    "attribute flood": (attr_flood(16000), 400, "malformed"),
    "utf-16 without header": ("<a>ü</a>".encode("utf-16-le"), 400, "malformed"),
    "invalid utf-8": (b"<a>\xff\xfe</a>", 400, "malformed"),
    "odd declared encoding": (b'<?xml version="1.0" encoding="x-unknown-9"?><a/>', 400, "malformed"),
    "huge text over the limit": (b"<a>" + b"x" * (11 * 1024 * 1024) + b"</a>", 413, "too-large"),
    "no header": (b"<a/>", 400, "rejected"),
}


def soap(ns: str, message: bytes) -> bytes:
    return (f'<e:Envelope xmlns:e="{ns}"><e:Body><gw:deliverMessage xmlns:gw="{GW}"><gw:message>'
            f"{base64.b64encode(message).decode()}</gw:message></gw:deliverMessage></e:Body></e:Envelope>").encode()


class Budget:
    """CPU time (this process: server and client) and RSS growth of one case."""

    def __enter__(self):
        self.cpu = self._cpu()
        self.rss = self._rss()
        return self

    def __exit__(self, *exc):
        self.cpu_used = self._cpu() - self.cpu
        self.rss_growth = self._rss() - self.rss

    @staticmethod
    def _cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @staticmethod
    def _rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


async def healthy_and_nothing_stored(pair) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(pair.url + "/health") as r:
            assert r.status == 200
    assert await pair.b.store.list(direction=Direction.IN) == []


@pytest.mark.parametrize("name", sorted(XML_CASES))
async def test_hostile_xml_on_http_and_both_soap_versions(pair, name):
    body, status, code = XML_CASES[name]
    with Budget() as budget:
        async with aiohttp.ClientSession() as s:
            async with s.post(pair.url + "/messages", data=body) as r:
                assert (r.status, (await r.json())["code"]) == (status, code)
            for ns, ctype in ((SOAP12, "application/soap+xml"), (SOAP11, "text/xml")):
                async with s.post(pair.url + "/soap", data=soap(ns, body), headers={"Content-Type": ctype}) as r:
                    tree = etree.fromstring(await r.read())
                    assert tree.tag == f"{{{ns}}}Envelope"
                    text = etree.tostring(tree).decode()
                    assert f"<gw:code>{code}</gw:code>" in text, text[:500]
                    assert r.status == (400 if ns == SOAP12 else 500)
    assert budget.cpu_used < CPU_SECONDS, f"{name}: {budget.cpu_used:.2f} CPU s"
    assert budget.rss_growth < RSS_GROWTH, f"{name}: RSS grew {budget.rss_growth >> 20} MiB"
    await healthy_and_nothing_stored(pair)


ENVELOPES = {
    "two bodies": f'<e:Envelope xmlns:e="{SOAP12}"><e:Body/><e:Body/></e:Envelope>',
    "after body": f'<e:Envelope xmlns:e="{SOAP12}"><e:Body/><x/></e:Envelope>',
    "header after body": f'<e:Envelope xmlns:e="{SOAP12}"><e:Body/><e:Header/></e:Envelope>',
    "bad base64": f'<e:Envelope xmlns:e="{SOAP12}"><e:Body><gw:deliverMessage xmlns:gw="{GW}">'
                  f'<gw:message>!!!</gw:message></gw:deliverMessage></e:Body></e:Envelope>',
    "no message": f'<e:Envelope xmlns:e="{SOAP12}"><e:Body><gw:deliverMessage xmlns:gw="{GW}"/></e:Body></e:Envelope>',
    "must understand": f'<e:Envelope xmlns:e="{SOAP12}"><e:Header><s:x xmlns:s="urn:s" e:mustUnderstand="true"/>'
                       f'</e:Header><e:Body/></e:Envelope>',
    "version": '<e:Envelope xmlns:e="urn:soap:9"><e:Body/></e:Envelope>',
}


@pytest.mark.parametrize("name", sorted(ENVELOPES))
async def test_invalid_envelopes_are_faults(pair, name):
    async with aiohttp.ClientSession() as s:
        async with s.post(pair.url + "/soap", data=ENVELOPES[name].encode(),
                          headers={"Content-Type": "application/soap+xml"}) as r:
            assert r.status == 400
            assert b"Fault" in await r.read()
    await healthy_and_nothing_stored(pair)


@pytest.mark.parametrize("path", ["/messages", "/soap", "/api/messages"])
async def test_compressed_bodies(pair, path):
    headers = {"Authorization": f"Bearer {pair.operator}", "Content-Type": "application/json"
               if path.startswith("/api") else "application/soap+xml"}
    bomb = gzip.compress(b" " * (200 * 1024 * 1024), 9)
    with Budget() as budget:
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            for data, expected in ((bomb, 413), (b"\x1f\x8b\x08garbage", 400)):
                async with s.post(pair.url + path, data=data, headers={**headers, "Content-Encoding": "gzip"}) as r:
                    assert r.status == (expected if path != "/soap" else 400), await r.text()
    assert budget.rss_growth < RSS_GROWTH, f"RSS grew {budget.rss_growth >> 20} MiB"
    await healthy_and_nothing_stored(pair)


async def test_forged_sender_replay_wrapping_and_receipt_forgery(pair):
    """Signed messages gone wrong: an unknown sender, a signature from the wrong key, a
    second (wrapping) signature, a replay; and B's refusal receipt posted back to A."""
    msg = await pair.a.submit(LETTER, example(LETTER), to=OFFICE)
    genuine = await pair.a.store.payload(msg.id)
    async with aiohttp.ClientSession() as s:
        forged_author = genuine.replace(PORTAL.encode(), b"ags:01999999")
        async with s.post(pair.url + "/messages", data=forged_author) as r:
            assert r.status in (200, 400) and r.headers.get("X-Receipt", "negative") == "negative"
        copy = etree.fromstring(genuine)
        sig = copy.find("{http://www.w3.org/2000/09/xmldsig#}Signature")
        copy.append(etree.fromstring(etree.tostring(sig)))              # a wrapping second signature
        async with s.post(pair.url + "/messages", data=etree.tostring(copy)) as r:
            assert r.headers.get("X-Receipt") == "negative"
            refusal = await r.read()
        assert await pair.b.store.list(direction=Direction.IN) == []
        for _ in range(2):                                              # the genuine one, then a replay
            async with s.post(pair.url + "/messages", data=genuine) as r:
                assert r.status == 200 and r.headers["X-Receipt"] == "positive"
    assert len(await pair.b.store.list(direction=Direction.IN)) == 1
    # B's refusal receipt (for the wrapped copy) names no digest: it settles nothing at A
    from gateway.exchange import receipts as rc
    assert rc.read(etree.fromstring(refusal)).digest == ""
    before = (await pair.a.store.get(msg.id)).state
    try:
        await pair.a.inbound.receive(refusal, __import__("gateway.ports", fromlist=["Peer"]).Peer("http"))
    except Exception:  # noqa: BLE001 - refused as not fitting is fine too
        pass
    assert (await pair.a.store.get(msg.id)).state is before


API_BODIES = [b"[" * 100_000, b'{"type": ' * 5000, b"\x00\x01", json.dumps({"type": 1, "to": [], "record": 3}).encode(),
              json.dumps({"type": LETTER, "to": PORTAL, "record": {"a": "\ud800"}}, ensure_ascii=True).encode()]


@pytest.mark.parametrize("body", API_BODIES, ids=range(len(API_BODIES)))
async def test_hostile_api_bodies_are_4xx(pair, body):
    async with aiohttp.ClientSession() as s:
        async with s.post(pair.url + "/api/messages", data=body, headers={
                "Authorization": f"Bearer {pair.operator}", "Content-Type": "application/json"}) as r:
            assert 400 <= r.status < 500, await r.text()
    await healthy_and_nothing_stored(pair)
