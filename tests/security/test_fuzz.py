"""Issue 14: fuzzing with hypothesis. Structure-aware and byte-level mutations of a genuinely
signed message go through B's real inbound pipeline, envelopes and API bodies through B's
real server: never a crash, never a 5xx other than 503 (SOAP: never a fault other than
Sender/Client or Receiver 'unavailable'), never an accepted message whose signed content
differs from what A signed."""
from __future__ import annotations

import asyncio
import base64
import json
import threading

import aiohttp
import pytest
from api_support import OFFICE, PORTAL, example, start_pair
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.errors import MessageError, RetryLater, XmlSecurityError
from gateway.ports import Peer

LETTER = "korrespondenz.schreiben.0200"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
GW = "urn:xoev-gateway:exchange:1"
FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class Loop:
    """One event loop in a thread, so hypothesis' synchronous examples can await the pair."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 120):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    loop = Loop()
    pair = loop.run(start_pair(tmp_path_factory.mktemp("fuzz")))

    async def genuine():
        msg = await pair.a.submit(LETTER, example(LETTER), to=OFFICE)
        return await pair.a.store.payload(msg.id)
    xml = loop.run(genuine())
    signed = pair.b.verifier.verify(xml, partner=PORTAL, now=pair.b.clock()).xml
    yield loop, pair, xml, signed
    loop.run(pair.aclose())
    loop.close()


def mutate_tree(xml: bytes, choice: int, op: int, text: str) -> bytes:
    root = etree.fromstring(xml)
    nodes = [e for e in root.iter() if isinstance(e.tag, str)]
    node = nodes[choice % len(nodes)]
    if op == 0:
        node.text = text
    elif op == 1 and node.getparent() is not None:
        node.getparent().remove(node)
    elif op == 2 and node.getparent() is not None:
        node.addnext(etree.fromstring(etree.tostring(node)))
    elif op == 3:
        node.set("x" + str(choice), text)
    else:
        node.append(etree.Comment(text.replace("--", "-") or "c"))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def mutate_bytes(xml: bytes, at: int, cut: int, insert: bytes) -> bytes:
    at %= len(xml)
    return xml[:at] + insert + xml[at + cut:]


def check(loop, pair, signed: bytes, data: bytes) -> None:
    async def go():
        try:
            return await pair.b.inbound.receive(data, Peer("http", remote="fuzz"))
        except (MessageError, XmlSecurityError, RetryLater):
            return None
    result = loop.run(go())
    if result is not None and result.accepted:
        again = pair.b.verifier.verify(data, partner=PORTAL, now=pair.b.clock()).xml
        assert again == signed, "accepted a message whose signed content differs"


@FUZZ
@given(choice=st.integers(0, 500), op=st.integers(0, 4), text=st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30))
def test_structure_mutations_of_a_signed_message(world, choice, op, text):
    loop, pair, xml, signed = world
    check(loop, pair, signed, mutate_tree(xml, choice, op, text))


@FUZZ
@given(at=st.integers(0, 10**6), cut=st.integers(0, 40), insert=st.binary(max_size=20))
def test_byte_mutations_of_a_signed_message(world, at, cut, insert):
    loop, pair, xml, signed = world
    check(loop, pair, signed, mutate_bytes(xml, at, cut, insert))


def post(loop, url: str, data: bytes, headers: dict) -> tuple[int, bytes]:
    async def go():
        async with aiohttp.ClientSession() as s:
            async with s.post(url, data=data, headers=headers) as r:
                return r.status, await r.read()
    return loop.run(go())


@FUZZ
@given(at=st.integers(0, 10**4), cut=st.integers(0, 30), insert=st.binary(max_size=30))
def test_envelope_mutations_are_never_internal_errors(world, at, cut, insert):
    loop, pair, xml, _ = world
    envelope = (f'<e:Envelope xmlns:e="{SOAP12}"><e:Header/><e:Body><gw:deliverMessage xmlns:gw="{GW}">'
                f"<gw:message>{base64.b64encode(xml).decode()}</gw:message></gw:deliverMessage></e:Body>"
                "</e:Envelope>").encode()
    status, body = post(loop, pair.url + "/soap", mutate_bytes(envelope, at, cut, insert),
                        {"Content-Type": "application/soap+xml"})
    assert status in (200, 400, 413, 415) or (status == 500 and b"gw:unavailable" in body), body[:300]
    assert b"internal" not in body


@FUZZ
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                             st.sampled_from(["type", "to", "record", "client_ref", "x"]), inner, max_size=4),
                         max_leaves=20))
def test_api_bodies_are_never_internal_errors(world, body):
    loop, pair, _, _ = world
    status, text = post(loop, pair.url + "/api/messages", json.dumps(body).encode(), {
        "Authorization": f"Bearer {pair.operator}", "Content-Type": "application/json"})
    assert status < 500 or status == 503, text[:300]
