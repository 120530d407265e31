"""Two wired gateways in one process exchanging over the memory transport: the real
pipeline (build, validate, sign, store, verify, receipt) without sockets."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from exchange_pair import OFFICE, PORTAL, pair_tables

from adapters.memory import MemoryNetwork, MemorySender
from gateway import bootstrap
from gateway import config as cfg
from gateway.model import Direction, State
from gateway.ports import ClientSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
async def pair(tmp_path):
    net = MemoryNetwork()
    raw_a, raw_b = pair_tables(tmp_path, transport="memory", endpoint_a="memory://a", endpoint_b="memory://b")
    gws = []
    for raw, folder in ((raw_a, tmp_path / "a"), (raw_b, tmp_path / "b")):
        config = cfg.from_dict(raw, base_dir=folder)
        gws.append(await bootstrap.build(config, senders={"memory": MemorySender(ClientSettings(timeout=10), net)}))
    a, b = gws
    for name, gw in (("a", a), ("b", b)):
        net.listen(name, lambda xml, gw=gw: _receipt(gw, xml))
    yield a, b
    for gw in gws:
        await gw.aclose()


async def _receipt(gw, xml: bytes) -> bytes:
    from gateway.ports import Peer

    return (await gw.inbound.receive(xml, Peer("memory"))).receipt_xml


def example(type_id: str) -> dict:
    record = json.loads((EXAMPLES / f"{type_id}.json").read_text())
    record.get("nachrichtenkopfG2g", {}).pop("leser", None)
    return record


async def test_application_goes_out_and_is_acknowledged_with_a_verified_receipt(pair):
    a, b = pair
    msg = await a.submit("personenstand.urkundenantrag.0100", example("personenstand.urkundenantrag.0100"), to=OFFICE)
    assert msg.state is State.READY
    done = await a.wait_final(msg.id, timeout=10)
    assert done.state is State.ACKNOWLEDGED, done.last_error
    (receipt,) = await a.store.receipts(msg.id)
    assert receipt.positive and b"transport.quittung.0900" in receipt.xml
    got = await b.store.find(Direction.IN, msg.message_uuid)
    assert got is not None and got.state is State.VERIFIED and got.partner == PORTAL
    assert await b.store.payload(got.id) == await a.store.payload(msg.id)


async def test_duplicate_is_acknowledged_again_without_a_second_message(pair):
    a, b = pair
    msg = await a.submit("korrespondenz.schreiben.0200", example("korrespondenz.schreiben.0200"), to=OFFICE)
    await a.wait_final(msg.id, timeout=10)
    from gateway.ports import Peer

    again = await b.inbound.receive(await a.store.payload(msg.id), Peer("memory"))
    assert again.accepted and again.message_uuid == msg.message_uuid
    assert len(await b.store.list(direction=Direction.IN)) == 1


async def test_unknown_partner_gets_a_negative_receipt_and_nothing_is_stored(pair, tmp_path):
    a, b = pair
    msg = await a.submit("korrespondenz.schreiben.0200", example("korrespondenz.schreiben.0200"), to=OFFICE)
    xml = (await a.store.payload(msg.id)).replace(PORTAL.encode(), b"ags:09999999")
    from gateway.ports import Peer

    result = await b.inbound.receive(xml, Peer("memory"))
    assert not result.accepted and result.codes == ("1201",)
    assert await b.store.list(direction=Direction.IN) == []


async def test_tampered_message_is_refused_with_signature_code(pair):
    a, b = pair
    msg = await a.submit("korrespondenz.schreiben.0200", example("korrespondenz.schreiben.0200"), to=OFFICE)
    xml = await a.store.payload(msg.id)
    from gateway.ports import Peer

    result = await b.inbound.receive(xml.replace(b"<betreff>", b"<betreff>X"), Peer("memory"))
    assert not result.accepted and result.codes == ("1100",)
    assert await b.store.list(direction=Direction.IN) == []


async def test_signature_refusals_answer_with_the_feedback_code_of_their_reason(pair):
    """The pipeline's feedback code comes from SignatureError.code (gateway.exchange.receipts
    SIGNATURE_FEEDBACK): unsigned -> 1102, a key not trusted for the author -> 1101."""
    from lxml import etree

    from gateway.ports import Peer

    a, b = pair
    msg = await a.submit("korrespondenz.schreiben.0200", example("korrespondenz.schreiben.0200"), to=OFFICE)
    root = etree.fromstring(await a.store.payload(msg.id))
    root.remove(root.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    unsigned = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    result = await b.inbound.receive(unsigned, Peer("memory"))
    assert not result.accepted and result.codes == ("1102",)
    foreign = b.signer.sign(unsigned, now=b.clock())        # B's own key, claiming to be A
    result = await b.inbound.receive(foreign, Peer("memory"))
    assert not result.accepted and result.codes == ("1101",)
    assert await b.store.list(direction=Direction.IN) == []


async def test_a_receipt_lost_on_the_way_back_is_given_again_when_the_sender_retries(tmp_path):
    """Synchronous transports: B stored the message but its answer never reached A (the
    connection broke); A retries, B recognises the duplicate and answers with the same
    signed receipt, which acknowledges A's message. B keeps one message."""
    from datetime import timedelta

    from gateway.ports import Peer

    net = MemoryNetwork()
    raw_a, raw_b = pair_tables(tmp_path, transport="memory", endpoint_a="memory://a", endpoint_b="memory://b")
    a, b = [await bootstrap.build(cfg.from_dict(raw, base_dir=tmp_path / name),
                                  senders={"memory": MemorySender(ClientSettings(timeout=10), net)})
            for raw, name in ((raw_a, "a"), (raw_b, "b"))]
    answers: list[bytes] = []

    async def lossy(xml: bytes) -> bytes:
        answers.append((await b.inbound.receive(xml, Peer("memory"))).receipt_xml)
        if len(answers) == 1:
            raise ConnectionResetError("connection reset before the answer arrived")
        return answers[-1]

    net.listen("b", lossy)
    try:
        msg = await a.submit("korrespondenz.schreiben.0200", example("korrespondenz.schreiben.0200"), to=OFFICE)
        assert await a.drain_once() == 1
        waiting = await a.store.get(msg.id)
        assert waiting.state is State.RETRY_WAIT and "connection reset" in waiting.last_error
        (claimed,) = await a.store.claim_due(a.node, now=waiting.next_attempt_at + timedelta(seconds=1))
        done = await a.deliver(claimed)
        assert done.state is State.ACKNOWLEDGED and done.attempts == 2
        assert len(answers) == 2 and answers[0] == answers[1]            # the same signed receipt
        (kept,) = await a.store.receipts(msg.id)
        assert kept.xml == answers[0]
        (got,) = await b.store.list(direction=Direction.IN)
        assert any("duplicate" in h.detail for h in await b.store.history(got.id))
        assert await b.store.list(direction=Direction.OUT) == []        # synchronous: nothing queued back
    finally:
        for gw in (a, b):
            await gw.aclose()
