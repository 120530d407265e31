"""Receipts on asynchronous transports (XTA): a partner's receipt that arrives as a message
settles our outbound message; our receipt for a message pulled from a mailbox goes back as
an outbound message; transport events are kept in the routing slip and as evidence.

Functions take the wired `Gateway` (gateway.exchange.service) as `gw`; its methods are the public face.
"""
from __future__ import annotations

import asyncio
import hashlib

from .. import xml as hardened
from ..errors import MessageError, StateError
from ..model import Direction, Message, NewReceipt, State
from ..ports import InboundResult, TransportEvent
from . import receipts as rc

SENT_RECEIPT = "receipt-sent"        # receipt kind: ours, for a message we received
ENCRYPTED_EVIDENCE = "encrypted"     # receipt kind: a received message as it arrived, encrypted
RECEIPT_CLIENT = "gateway:receipts"  # client of the outbound receipts we send back (client_ref:
                                     # the received message's id, then <id>/2, <id>/3 ...)


def digest(data: bytes) -> str:
    """SHA-256 hex of bytes."""
    return hashlib.sha256(data).hexdigest()


async def keep_events(gw, msg_id: str, actor: str, events: tuple[TransportEvent, ...]) -> None:
    """Transport events into a message's routing slip; their evidence (a transport report,
    a reply, an attachment) stored as a receipt record of the event's kind, once."""
    kept = None
    for event in events:
        await gw.store.note(msg_id, actor=actor, detail=f"{event.kind}: {event.detail}"[:2000])
        if not event.data:
            continue
        if kept is None:
            kept = {(r.kind, r.digest) for r in await gw.store.receipts(msg_id)}
        if (event.kind, digest(event.data)) not in kept:
            kept.add((event.kind, digest(event.data)))
            await gw.store.add_receipt(msg_id, NewReceipt(event.data, event.positive, kind=event.kind,
                                                          detail=event.detail[:2000]), actor=actor)


async def take_receipt(gw, info: rc.ReceiptInfo, xml: bytes, *, partner: str, transport: str) -> Message:
    """Settle our message by a partner's verified receipt that arrived as a message
    (asynchronous transports); MessageError when it refers to no message of ours to
    that partner. In a state a receipt cannot settle it is kept as evidence only."""
    msg = await gw.store.find(Direction.OUT, info.refers_to)
    if msg is None or msg.partner != partner or rc.is_receipt(msg.message_type):
        raise MessageError(f"receipt {info.receipt_uuid} refers to {info.refers_to}, which is no "
                           f"message of ours to {partner}")
    receipt, actor = NewReceipt(xml, info.accepted, detail=info.summary()), f"{transport}:{partner}"
    if not rc.settles(info, msg.digest):
        await _keep_evidence(gw, msg, receipt, xml, actor, f"receipt {info.receipt_uuid} kept as evidence, "
                             f"the message stays {msg.state.value}: it names no or another digest than "
                             f"the message we sent ({info.summary()})")
        return await gw.store.get(msg.id)
    try:
        done = await gw.store.transition(
            msg.id, State.ACKNOWLEDGED if info.accepted else State.REJECTED, actor=actor,
            detail=f"receipt {info.receipt_uuid}: {info.summary()}", receipt=receipt,
            last_error=None if info.accepted else info.summary())
    except StateError as exc:
        await _keep_evidence(gw, msg, receipt, xml, actor, f"receipt {info.receipt_uuid} kept as "
                             f"evidence, the message stays {msg.state.value}: {exc}")
        return await gw.store.get(msg.id)
    gw.count(transport, "acknowledged" if info.accepted else "rejected")
    return done


async def _keep_evidence(gw, msg: Message, receipt: NewReceipt, xml: bytes, actor: str, why: str) -> None:
    """A receipt that does not settle the message: kept once, with a note why."""
    if not any(r.digest == digest(xml) for r in await gw.store.receipts(msg.id)):
        await gw.store.add_receipt(msg.id, receipt, actor=actor)
        await gw.store.note(msg.id, actor=actor, detail=why[:2000])


async def send_receipt_back(gw, result: InboundResult, xml: bytes) -> Message | None:
    """Queue our signed receipt for a message that did not arrive over a synchronous
    exchange (XTA mailbox, sync reply) as an outbound message to its author, delivered by
    the outbox like any other (durable, retried). Nothing for a receipt, or for a message
    that was not stored (refused, conflicting).

    The same message received again (a duplicate: the sender sent it again, most likely
    because our receipt never reached it) gets its receipt again, but never more than one
    queued at a time: while the last receipt for it is still on its way (not final) that
    one is returned; once it is final (handed to the transport, or given up) a new one is
    queued. A receipt message is unique by its nachrichtenUUID, so the new one is signed
    afresh with the same verdict and feedback. Client refs: the received message's id for
    the first, `<id>/2`, `<id>/3`, ... for the ones after it."""
    if not result.receipt_xml:
        return None
    got = await stored_for(gw, result.message_uuid, xml)
    if got is None or rc.is_receipt(got.message_type):
        return None
    earlier = await _receipts_back(gw, got.id)
    if earlier and not earlier[-1].final:
        return earlier[-1]                      # still on its way: one at a time
    tree = await asyncio.to_thread(hardened.parse, result.receipt_xml, gw.limits)
    info = rc.read(tree.getroot())
    payload, again = result.receipt_xml, bool(earlier)
    if await gw.store.find(Direction.OUT, info.receipt_uuid) is not None:
        payload = await _resign(gw, got, info)
        info = rc.read((await asyncio.to_thread(hardened.parse, payload, gw.limits)).getroot())
    sub = await gw.store.submit_outbound(
        message_uuid=info.receipt_uuid, message_type=rc.RECEIPT_TYPE, partner=got.partner,
        payload=payload, actor=gw.node, client=RECEIPT_CLIENT, client_ref=_ref(got.id, len(earlier) + 1),
        state=State.READY, detail=f"{'positive' if info.accepted else 'negative'} receipt for "
        f"{got.message_uuid} ({got.id}), to go back to {got.partner}" + (f" again (#{len(earlier) + 1}: "
        f"received again after receipt {earlier[-1].message_uuid} was {earlier[-1].state.value})" if again else ""))
    if sub.created:
        gw.delivery.wake()                      # goes back at once, not at the next outbox scan
        if again:
            await gw.store.add_receipt(got.id, NewReceipt(payload, info.accepted, kind=SENT_RECEIPT,
                                                          detail=f"sent again (#{len(earlier) + 1})"), actor=gw.node)
        await gw.store.note(got.id, actor=gw.node, detail=f"receipt {info.receipt_uuid} queued to go back "
                            f"to {got.partner} as message {sub.message.id}" + (" (again: the sender sent the "
                            "message again, our earlier receipt may be lost)" if again else ""))
    return sub.message


async def stored_for(gw, message_uuid: str, xml: bytes) -> Message | None:
    """The inbound message stored for exactly these received bytes (kept as they are, or
    decrypted from them: then they are its encrypted evidence), or None."""
    got = await gw.store.find(Direction.IN, message_uuid)
    if got is None:
        return None
    sha = digest(xml)
    if got.digest == sha or any(r.kind == ENCRYPTED_EVIDENCE and r.digest == sha
                                for r in await gw.store.receipts(got.id)):
        return got
    return None


def _ref(msg_id: str, number: int) -> str:
    """Client ref of the `number`-th receipt sent back for received message `msg_id`."""
    return msg_id if number == 1 else f"{msg_id}/{number}"


async def _receipts_back(gw, msg_id: str) -> list[Message]:
    """The receipt messages queued back for a received message so far, oldest first."""
    found: list[Message] = []
    while (msg := await gw.store.find_client_ref(RECEIPT_CLIENT, _ref(msg_id, len(found) + 1))) is not None:
        found.append(msg)
    return found


async def _resign(gw, got: Message, info: rc.ReceiptInfo) -> bytes:
    """A fresh signed receipt (new nachrichtenUUID) with the verdict and feedback of `info`."""
    partner = gw.directory.find(got.partner)
    now = gw.clock()
    return await asyncio.to_thread(
        gw.receipts.build, refers_to=got.message_uuid, reader=got.partner,
        reader_name=partner.name if partner else "", accepted=info.accepted, feedback=info.feedback,
        received_at=got.created_at, now=now)
