"""Receipts that arrive as messages (asynchronous transports such as XTA), on two wired
gateways with real stores, keys and signatures: the receipt settles our outbound message and
is never stored as a message, delivered or answered; a message pulled from a mailbox gets
its receipt queued back as an outbound message, once."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from exchange_pair import OFFICE, PORTAL, pair_tables
from lxml import etree
from sqlalchemy import text

from adapters.memory import MemoryNetwork, MemorySender
from gateway import bootstrap
from gateway import config as cfg
from gateway.errors import MessageError
from gateway.exchange.receipt_flow import RECEIPT_CLIENT
from gateway.exchange.receipts import RECEIPT_TYPE, Feedback
from gateway.model import Direction, State
from gateway.ports import ClientSettings, Peer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LETTER = "korrespondenz.schreiben.0200"
XTA = Peer("xta", remote="test mailbox")


@pytest.fixture
async def pair(tmp_path):
    raw_a, raw_b = pair_tables(tmp_path, transport="memory", endpoint_a="memory://a", endpoint_b="memory://b")
    gws = []
    for raw, folder in ((raw_a, tmp_path / "a"), (raw_b, tmp_path / "b")):
        config = cfg.from_dict(raw, base_dir=folder)
        gws.append(await bootstrap.build(config, senders={"memory": MemorySender(ClientSettings(), MemoryNetwork())}))
    yield gws
    for gw in gws:
        await gw.aclose()


def letter() -> dict:
    record = json.loads((EXAMPLES / f"{LETTER}.json").read_text())
    record["nachrichtenkopfG2g"].pop("leser", None)
    return record


async def out_in(a, state: State):
    """A letter from A in `state` (as after a send over an asynchronous transport)."""
    msg = await a.submit(LETTER, letter(), to=OFFICE)
    (claimed,) = await a.store.claim_due(a.node)
    later = a.clock() + timedelta(minutes=5) if state is State.RETRY_WAIT else None
    if state is not State.SENDING:
        await a.store.transition(claimed.id, state, actor="test", node=a.node, next_attempt_at=later)
    return msg


def receipt_from_b(b, refers_to: str, accepted: bool = True, codes: tuple[str, ...] = ("0000",),
                   reader: str = PORTAL, digest: str = "") -> bytes:
    now = datetime.now(timezone.utc)
    return b.receipts.build(refers_to=refers_to, reader=reader, reader_name="Bürgerportal", accepted=accepted,
                            feedback=tuple(Feedback(c, "" if c == "0000" else "Schema") for c in codes),
                            received_at=now, now=now, digest=digest)


@pytest.mark.parametrize("state", [State.SENT, State.RETRY_WAIT, State.DEAD, State.SENDING])
async def test_a_receipt_arriving_as_a_message_acknowledges_and_is_not_answered(pair, state):
    a, b = pair
    msg = await out_in(a, state)
    xml = receipt_from_b(b, msg.message_uuid)
    result = await a.inbound.receive(xml, XTA)
    assert result.accepted and result.receipt_xml == b"" and result.codes == ("0000",)
    done = await a.store.get(msg.id)
    assert done.state is State.ACKNOWLEDGED
    (kept,) = await a.store.receipts(msg.id)
    assert kept.kind == "receipt" and kept.positive and kept.xml == xml
    assert await a.store.list(direction=Direction.IN) == []        # not a message for the backend
    again = await a.inbound.receive(xml, XTA)                        # fetched twice: no change
    assert again.accepted and again.receipt_xml == b""
    assert len(await a.store.receipts(msg.id)) == 1 and (await a.store.get(msg.id)).state is State.ACKNOWLEDGED


async def test_a_negative_receipt_rejects_with_its_codes(pair):
    a, b = pair
    msg = await out_in(a, State.SENT)
    result = await a.inbound.receive(receipt_from_b(b, msg.message_uuid, accepted=False, codes=("1001",),
                                                    digest=msg.digest), XTA)
    assert result.accepted and result.codes == ("1001",)
    done = await a.store.get(msg.id)
    assert done.state is State.REJECTED and "1001" in done.last_error


@pytest.mark.parametrize("state", [State.SENT, State.RETRY_WAIT, State.DEAD])
@pytest.mark.parametrize("digest", ["", "0" * 64], ids=["no-digest", "other-digest"])
async def test_a_negative_receipt_that_does_not_name_our_message_settles_nothing(pair, state, digest):
    """Issue 14, item 2: only a receipt naming the digest of what we sent proves that the
    partner judged our message; the message stays where it is, the receipt is evidence."""
    a, b = pair
    msg = await out_in(a, state)
    for codes in (("1100",), ("1001",)):
        await a.inbound.receive(receipt_from_b(b, msg.message_uuid, accepted=False, codes=codes,
                                               digest=digest), XTA)
        assert (await a.store.get(msg.id)).state is state
    assert len(await a.store.receipts(msg.id)) == 2
    assert any("names no or another digest" in h.detail for h in await a.store.history(msg.id))


async def test_a_forged_copy_cannot_turn_a_pending_message_into_rejected(pair):
    """The review's attack: a copy of A's message M, signed with another key, posted to B;
    B's signed negative receipt (addressed to A) posted to A. M must stay pending, and B's
    receipt must say it judged no message of A's (no digest, a copy-refused code)."""
    from gateway.exchange import receipts as rc

    a, b = pair
    msg = await out_in(a, State.SENT)
    original = await a.store.payload(msg.id)
    copy = etree.fromstring(original)
    for sig in copy.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        copy.remove(sig)
    forged = b.signer.sign(etree.tostring(copy, xml_declaration=True, encoding="UTF-8"),
                           now=datetime.now(timezone.utc), partner=PORTAL)     # B's key, not A's
    refusal = await b.inbound.receive(forged, Peer("http", remote="attacker"))
    assert not refusal.accepted and set(refusal.codes) <= rc.COPY_REFUSED
    info = rc.read(etree.fromstring(refusal.receipt_xml))
    assert info.digest == "" and info.refers_to == msg.message_uuid
    await a.inbound.receive(refusal.receipt_xml, Peer("http", remote="attacker"))
    assert (await a.store.get(msg.id)).state is State.SENT
    # B's real verdict on the genuine message names its digest and does settle it
    genuine = await b.inbound.receive(original, XTA)
    assert genuine.accepted and rc.read(etree.fromstring(genuine.receipt_xml)).digest == msg.digest
    await a.inbound.receive(genuine.receipt_xml, XTA)
    assert (await a.store.get(msg.id)).state is State.ACKNOWLEDGED


async def test_a_late_receipt_for_a_message_in_another_state_is_kept_as_evidence(pair):
    a, b = pair
    msg = await a.submit(LETTER, letter(), to=OFFICE)                # ready: not sent (again) yet
    await a.inbound.receive(receipt_from_b(b, msg.message_uuid), XTA)
    assert (await a.store.get(msg.id)).state is State.READY
    (kept,) = await a.store.receipts(msg.id)
    assert kept.positive
    assert any("kept as evidence" in h.detail for h in await a.store.history(msg.id))


@pytest.mark.parametrize("refers_to,reader,why", [
    ("0b9e7d0a-5a1e-4f57-9a6c-4c3a0d5e1f20", PORTAL, "no message of ours"),
    (None, "ags:09000001", "receipt is for ags:09000001"),
])
async def test_a_receipt_that_does_not_fit_is_refused_audited_and_changes_nothing(pair, refers_to, reader, why):
    a, b = pair
    msg = await out_in(a, State.SENT)
    xml = receipt_from_b(b, refers_to or msg.message_uuid, reader=reader)
    with pytest.raises(MessageError, match=why):
        await a.inbound.receive(xml, XTA)
    assert (await a.store.get(msg.id)).state is State.SENT and await a.store.receipts(msg.id) == []
    assert await a.store.list(direction=Direction.IN) == []
    chain = await a.store.verify_audit()
    assert chain.broken is None
    async with a.store.reading() as conn:
        last = (await conn.execute(text("SELECT event FROM audit_log ORDER BY seq DESC LIMIT 1"))).scalar()
    assert last == "receipt.refused"


async def test_a_message_pulled_from_a_mailbox_gets_its_receipt_queued_back_once(pair):
    a, b = pair
    msg = await a.submit(LETTER, letter(), to=OFFICE)
    xml = await a.store.payload(msg.id)
    result = await b.inbound.receive(xml, XTA)
    assert result.accepted and result.receipt_xml
    back = await b.send_receipt_back(result, xml)
    assert (back.state, back.message_type, back.partner, back.client) == (State.READY, RECEIPT_TYPE, PORTAL,
                                                                         RECEIPT_CLIENT)
    assert await b.store.payload(back.id) == result.receipt_xml
    again = await b.inbound.receive(xml, XTA)                          # redelivered by the mailbox
    assert (await b.send_receipt_back(again, xml)).id == back.id
    assert len(await b.store.list(direction=Direction.OUT)) == 1
    # the receipt, delivered to A, settles A's message and is answered with nothing
    await a.store.claim_due(a.node)
    await a.store.transition(msg.id, State.SENT, actor="test", node=a.node)
    got = await a.inbound.receive(result.receipt_xml, XTA)
    assert got.receipt_xml == b"" and await a.send_receipt_back(got, result.receipt_xml) is None
    assert (await a.store.get(msg.id)).state is State.ACKNOWLEDGED


async def test_no_receipt_goes_back_for_a_message_that_was_not_stored(pair, tmp_path):
    a, b = pair
    msg = await a.submit(LETTER, letter(), to=OFFICE)
    forged = (await a.store.payload(msg.id)).replace(b"<betreff>", b"<betreff>X")
    result = await b.inbound.receive(forged, XTA)
    assert not result.accepted and result.receipt_xml             # answered (synchronously) ...
    assert await b.send_receipt_back(result, forged) is None       # ... but nothing goes back
    assert await b.store.list(direction=Direction.OUT) == []


async def test_an_operator_may_send_a_sent_message_again_when_its_receipt_is_overdue(pair):
    a, _ = pair
    msg = await out_in(a, State.SENT)
    again = await a.store.retry(msg.id, actor="cli:test", detail="receipt overdue")
    assert again.state is State.READY
    (claimed,) = await a.store.claim_due(a.node)
    assert claimed.id == msg.id and claimed.attempts == 2


async def test_a_message_received_again_gets_its_receipt_again_once_the_first_went_out(pair):
    """The sender sent it again (its receipt deadline passed: our receipt may be lost): a new
    receipt, signed afresh with the same verdict, is queued once the earlier one is final;
    never two queued at a time, never one for a receipt."""
    a, b = pair
    msg = await a.submit(LETTER, letter(), to=OFFICE)
    xml = await a.store.payload(msg.id)
    first = await b.send_receipt_back(await b.inbound.receive(xml, XTA), xml)
    (claimed,) = await b.store.claim_due(b.node)                       # B's outbox hands it over
    await b.store.transition(claimed.id, State.ACKNOWLEDGED, actor="test", node=b.node)

    second = await b.send_receipt_back(await b.inbound.receive(xml, XTA), xml)   # sent again by A
    assert second.id != first.id and second.message_uuid != first.message_uuid
    assert (second.state, second.client, second.client_ref) == (State.READY, RECEIPT_CLIENT, f"{first.client_ref}/2")
    third = await b.send_receipt_back(await b.inbound.receive(xml, XTA), xml)    # again, before it went
    assert third.id == second.id
    assert len(await b.store.list(direction=Direction.OUT)) == 2
    assert len(await b.store.list(direction=Direction.IN)) == 1

    # the new receipt says what the first said, about the same message, and A accepts it
    receipt_xml = await b.store.payload(second.id)
    info = a.receipts.verify(receipt_xml, partner=OFFICE, refers_to=msg.message_uuid, now=a.clock())
    assert info.accepted and info.codes == ("0000",) and info.receipt_uuid == second.message_uuid
    got = await b.store.find(Direction.IN, msg.message_uuid)
    sent = [r for r in await b.store.receipts(got.id) if r.kind == "receipt-sent"]
    assert len(sent) == 2 and sent[-1].xml == receipt_xml
    assert any("queued to go back" in h.detail and "again" in h.detail for h in await b.store.history(got.id))
    await a.store.claim_due(a.node)
    await a.store.transition(msg.id, State.SENT, actor="test", node=a.node)
    result = await a.inbound.receive(receipt_xml, XTA)
    assert result.receipt_xml == b"" and await a.send_receipt_back(result, receipt_xml) is None
    assert (await a.store.get(msg.id)).state is State.ACKNOWLEDGED


async def test_a_rejected_message_received_again_gets_its_negative_receipt_again(pair):
    a, b = pair
    msg = await a.submit(LETTER, letter(), to=OFFICE)
    root = etree.fromstring(await a.store.payload(msg.id))          # signed by A, but for someone else
    root.remove(root.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    root.find("nachrichtenkopf.g2g/leser/kennung").text = "ags:09000001"
    xml = a.signer.sign(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), now=a.clock())
    first = await b.send_receipt_back(await b.inbound.receive(xml, XTA), xml)
    assert (await b.store.find(Direction.IN, msg.message_uuid)).state is State.REJECTED
    (claimed,) = await b.store.claim_due(b.node)
    await b.store.transition(claimed.id, State.DEAD, actor="test", node=b.node)   # given up this time
    second = await b.send_receipt_back(await b.inbound.receive(xml, XTA), xml)
    assert second.id != first.id and second.state is State.READY
    for back in (first, second):
        info = a.receipts.verify(await b.store.payload(back.id), partner=OFFICE, refers_to=msg.message_uuid,
                                 now=a.clock())
        assert not info.accepted and info.codes == ("1200",)


async def test_a_comment_inside_the_uuid_does_not_cut_it_short(pair):
    """Issue 14, item 9: the unverified header was read with findtext, which stops at a
    comment; the signed header (C14N drops comments) then differed and a validly signed
    message was refused. Comments are not signed, so one can be added in transit."""
    a, b = pair
    msg = await a.submit(LETTER, letter(), to=OFFICE)
    payload = await a.store.payload(msg.id)
    uuid = msg.message_uuid.encode()
    assert payload.count(uuid) == 1
    commented = payload.replace(uuid, uuid[:8] + b"<!-- in transit -->" + uuid[8:])
    result = await b.inbound.receive(commented, XTA)
    assert result.accepted and result.message_uuid == msg.message_uuid


@pytest.mark.parametrize("bad", ["not-a-uuid", "4D9E4CE8-D894-4445-AF80-000000000000", "x" * 300])
async def test_a_malformed_uuid_gets_a_clear_answer(pair, bad):
    a, b = pair
    msg = await a.submit(LETTER, letter(), to=OFFICE)
    payload = (await a.store.payload(msg.id)).replace(msg.message_uuid.encode(), bad.encode())
    with pytest.raises(MessageError, match=r"\(nachrichtenUUID\) .* is not a UUID"):
        await b.inbound.receive(payload, Peer("http", remote="x"))
    assert await b.store.list() == []
