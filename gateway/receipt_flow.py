"""Receipts on asynchronous transports (XTA): a partner's receipt that arrives as a message
settles our outbound message; our receipt for a message pulled from a mailbox goes back as
an outbound message; transport events are kept in the routing slip and as evidence.

Functions take the wired `Gateway` (gateway.service) as `gw`; its methods are the public face.
"""
from __future__ import annotations

import asyncio
import hashlib

from . import receipts as rc
from . import xml as hardened
from .errors import MessageError, StateError
from .header import read_header
from .model import Direction, Message, NewReceipt, State
from .ports import TransportEvent
from .server.inbound import InboundResult

SENT_RECEIPT = "receipt-sent"        # receipt kind: ours, for a message we received
RECEIPT_CLIENT = "gateway:receipts"  # client of the outbound receipts we send back (client_ref:
                                     # the received message's id, so one receipt per message)


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
    try:
        done = await gw.store.transition(
            msg.id, State.ACKNOWLEDGED if info.accepted else State.REJECTED, actor=actor,
            detail=f"receipt {info.receipt_uuid}: {info.summary()}", receipt=receipt,
            last_error=None if info.accepted else info.summary())
    except StateError as exc:
        if not any(r.digest == digest(xml) for r in await gw.store.receipts(msg.id)):
            await gw.store.add_receipt(msg.id, receipt, actor=actor)
            await gw.store.note(msg.id, actor=actor, detail=f"receipt {info.receipt_uuid} kept as "
                                f"evidence, the message stays {msg.state.value}: {exc}"[:2000])
        return await gw.store.get(msg.id)
    gw.count(transport, "acknowledged" if info.accepted else "rejected")
    return done


async def send_receipt_back(gw, result: InboundResult, xml: bytes) -> Message | None:
    """Queue our signed receipt for a message that did not arrive over a synchronous
    exchange (XTA mailbox, sync reply) as an outbound message to its author, delivered
    by the outbox like any other (durable, retried). One per stored message; nothing
    for a receipt, or for a message that was not stored (refused, conflicting)."""
    if not result.receipt_xml:
        return None
    got = await gw.store.find(Direction.IN, result.message_uuid)
    if got is None or got.digest != digest(xml) or rc.is_receipt(got.message_type):
        return None
    tree = await asyncio.to_thread(hardened.parse, result.receipt_xml, gw.limits)
    receipt_uuid = read_header(tree.getroot()).message_uuid
    sub = await gw.store.submit_outbound(
        message_uuid=receipt_uuid, message_type=rc.RECEIPT_TYPE, partner=got.partner,
        payload=result.receipt_xml, actor=gw.node, client=RECEIPT_CLIENT, client_ref=got.id,
        state=State.READY, detail=f"{'positive' if result.accepted else 'negative'} receipt for "
        f"{got.message_uuid} ({got.id}), to go back to {got.partner}")
    if sub.created:
        await gw.store.note(got.id, actor=gw.node, detail=f"receipt {receipt_uuid} queued to go back "
                            f"to {got.partner} as message {sub.message.id}")
    return sub.message
