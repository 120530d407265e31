"""Outbound: submit (build, validate, sign, store), drain the outbox, deliver one claimed
message and settle it by the partner's receipt (synchronous transports) or leave it in
`sent` awaiting the receipt (asynchronous transports such as XTA).

Functions take the wired `Gateway` (gateway.exchange.service) as `gw`; its methods are the public
face. CPU-bound work (mapping, lxml, signxml) runs in threads, never on the loop. Whether a
failed delivery is retried is decided by `gw.policy` (gateway.exchange.retry) alone.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Callable

from lxml import etree

from .. import logcontext
from .. import xml as hardened
from ..config import PartnerSpec
from ..errors import (
    DeliveryError,
    GatewayError,
    Issue,
    LeaseLost,
    MessageError,
    Refused,
    RetryLater,
    ValidationFailed,
    errors_of,
)
from ..mapping import complete_record
from ..mapping.xsderrors import to_record_paths
from ..model import Message, NewReceipt, State, Submitted
from ..ports import Outgoing, Peer, SendResult
from . import receipts as rc
from .delivery import timeouts
from .header import Header, routing_facts

log = logging.getLogger("gateway.outbound")
SYNC_REPLY = "sync-reply"           # TransportEvent kind: a sendMessageSync reply (XTA)


async def submit_new(gw, message_type: str, record: Any, *, to: str, client: str = "",
                     client_ref: str | None = None, actor: str = "api",
                     ref_checked: bool = False) -> Submitted:
    """Build, validate, sign and store a message for partner `to` (state ready), telling
    whether this call stored it (created) or the same (client, client_ref) was submitted
    before (then nothing is built or stored). Refuses a partner that does not accept the
    type before anything is stored. `ref_checked`: the caller has just looked the client_ref
    up and found nothing (the store still settles a race by its unique index)."""
    partner = gw.directory.require(to, message_type)
    if client_ref is not None and not ref_checked:
        first = await gw.store.find_client_ref(client, client_ref)
        if first is not None:
            return Submitted(first, created=False)
    now = gw.clock()
    signed, uuid = await asyncio.to_thread(prepare, gw, message_type, record, partner, now)
    done = await gw.store.submit_outbound(
        message_uuid=uuid, message_type=message_type, partner=partner.id, payload=signed,
        actor=actor, client=client, client_ref=client_ref, state=State.READY,
        detail=f"built, validated, signed{' and encrypted' if gw.encryption.required(partner.id) else ''} "
               f"for {partner.id}")
    if done.created:
        gw.delivery.wake()          # handed to delivery at once; the outbox scan is the safety net
    return done


def prepare(gw, message_type: str, record: Any, partner: PartnerSpec, now: datetime) -> tuple[bytes, str]:
    """The signed (and, for a partner with `encrypt = true`, then encrypted) message bytes and
    its UUID for a record (CPU-bound: run in a thread)."""
    message_type_plan = gw.registry.get(message_type).plan
    if isinstance(record, dict):
        record = dict(record)
        head = dict(record.get("nachrichtenkopfG2g") or {})
        head.setdefault("leser", {"verzeichnisdienst": {"code": "DVDV"}, "kennung": partner.id,
                                  "name": (partner.name or partner.id)[:200]})
        record["nachrichtenkopfG2g"] = head
    record = complete_record(message_type_plan, message_type, record, authority=gw.authority, now=now)
    root = gw.registry.build(message_type, record)
    header = gw.headers.read(root)
    if header.reader != partner.id:
        raise MessageError(f"nachrichtenkopfG2g.leser.kennung is {header.reader}, but the message "
                           f"goes to {partner.id}")
    issues = errors_of(gw.validator.validate_tree(root, now=now))
    if issues:  # the backend sent a record: name its fields, not XML paths
        raise ValidationFailed(to_record_paths(issues, message_type_plan, root))
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return seal(gw, xml, header, partner, now), header.message_uuid


def seal(gw, xml: bytes, header: Header, partner: PartnerSpec, now: datetime) -> bytes:
    """Sign, then (for a partner with `encrypt = true`) encrypt for the partner's current
    encryption certificate, keeping the header's routing facts readable (docs/encryption.md)."""
    signed = gw.signer.sign(xml, now=now, partner=partner.id)
    if gw.encryption.required(partner.id):
        signed = gw.encryption.encrypt_for(partner.id, signed, now=now, routing=routing_facts(header))
    return signed


async def submit_xml(gw, xml: bytes, *, to: str, client: str = "", client_ref: str | None = None,
                     actor: str = "api", authorize: Callable[[Header], None] | None = None) -> Submitted:
    """A complete, unsigned message of a configured standard (or of our own): its header read
    through the standard's profile, the partner's `accepts` checked, validated by the
    standard's layers, signed and stored (state ready) as for a record. Nothing is stored
    when anything is wrong (MessageError naming the XML line or the missing fact).
    `authorize(header)` may refuse (raise) once the header is read, before anything else."""
    if client_ref is not None:
        first = await gw.store.find_client_ref(client, client_ref)
        if first is not None:
            return Submitted(first, created=False)
    now = gw.clock()
    signed, header, partner = await asyncio.to_thread(prepare_xml, gw, xml, to, now, authorize)
    return await gw.store.submit_outbound(
        message_uuid=header.message_uuid, message_type=header.root, partner=partner.id, payload=signed,
        actor=actor, client=client, client_ref=client_ref, state=State.READY,
        detail=f"{header.standard} message validated, signed"
               f"{' and encrypted' if gw.encryption.required(partner.id) else ''} for {partner.id}")


def prepare_xml(gw, xml: bytes, to: str, now: datetime,
                authorize: Callable[[Header], None] | None = None) -> tuple[bytes, Header, PartnerSpec]:
    """(signed, perhaps encrypted, bytes, header, partner) of a backend's XML message (CPU-bound:
    in a thread)."""
    tree = hardened.parse(xml, gw.limits)
    root = tree.getroot()
    schema = gw.validator.catalog.select(root)
    if isinstance(schema, Issue):          # no configured standard for this root
        raise ValidationFailed([schema])
    header = gw.headers.read(root)
    if authorize is not None:
        authorize(header)
    partner = gw.directory.require(to, header.root, header.standard)
    if header.reader != partner.id:
        raise MessageError(f"{header.standard}: the header's reader is {header.reader}, but the "
                           f"message goes to {partner.id}")
    if header.author != gw.authority.kennung:
        raise MessageError(f"{header.standard}: the header's author is {header.author}, but this "
                           f"gateway is {gw.authority.kennung}")
    issues = errors_of(gw.validator.validate_tree(tree, now=now))
    if issues:
        raise ValidationFailed(issues)
    return seal(gw, xml, header, partner, now), header, partner


async def drain_once(gw, limit: int = 20) -> int:
    """Claim due outbound messages (at most `[delivery] max_in_flight` per partner, none of a
    partner whose breaker is open) and deliver them concurrently; returns how many. For the
    CLI and tests; `gateway serve` delivers continuously (gateway.exchange.delivery)."""
    claimed = await gw.store.claim_due(gw.node, limit=limit, room={},
                                       default_room=gw.config.delivery.max_in_flight)
    if claimed:
        await asyncio.gather(*(deliver(gw, m) for m in claimed))
    return len(claimed)


async def deliver(gw, msg: Message) -> Message:
    """One delivery attempt of a claimed message, ending in its next state."""
    logcontext.bind(**logcontext.of_message(msg))          # this task's log lines are about msg
    partner = gw.directory.find(msg.partner)
    if partner is None:
        return await move(gw, msg, State.FAILED, f"partner {msg.partner} is no longer in the directory")
    sender = gw.senders.get(partner.transport)
    if sender is None:
        return await move(gw, msg, State.FAILED, f"transport {partner.transport} is not available")
    payload = await gw.store.payload(msg.id)
    connect, total = timeouts(gw.config, partner)
    error: DeliveryError | None = None
    for endpoint in partner.endpoints:
        out = Outgoing(msg.id, msg.message_uuid, msg.message_type, partner.id, endpoint, payload,
                       dict(partner.options))
        try:
            try:
                async with asyncio.timeout(connect + total):    # whatever the adapter does
                    result = await sender.send(out)
            except TimeoutError:
                raise RetryLater(f"{endpoint}: no answer within {connect + total:g}s",
                                 code="timeout") from None
        except RetryLater as exc:
            error = exc
            gw.count(partner.transport, "retry")
            continue  # the next endpoint may answer
        except Refused as exc:
            error = exc
            gw.count(partner.transport, "refused")
            break
        await gw.health.outcome(partner, None)
        return await _sent(gw, msg, partner, result)
    await gw.health.outcome(partner, error if isinstance(error, RetryLater) else None)
    decision = gw.policy.decide(error or RetryLater("no endpoint"), msg.attempts, gw.clock())
    return await move(gw, msg, decision.state, decision.reason, next_attempt_at=decision.at,
                      last_error=str(error))


async def _sent(gw, msg: Message, partner: PartnerSpec, result: SendResult) -> Message:
    """The transport took the message: its events go into the routing slip, then the
    receipt decides (synchronous), or the message waits for it in `sent` (asynchronous
    transports), or it is done (a receipt is never answered with a receipt)."""
    transport_id = result.transport_id or None
    await gw.keep_events(msg.id, partner.transport, result.events)
    if rc.is_receipt(msg.message_type):
        gw.count(partner.transport, "acknowledged")
        done = await move(gw, msg, State.ACKNOWLEDGED, f"receipt handed to the {partner.transport} "
                          "transport (a receipt is not answered with a receipt)",
                          transport_id=transport_id)
    elif result.receipt_xml or not result.receipt_later:
        done = await _receipt(gw, msg, partner, result.receipt_xml, result.transport_id)
    else:
        gw.count(partner.transport, "sent")
        done = await move(gw, msg, State.SENT, f"taken by the {partner.transport} transport as "
                          f"{result.transport_id or '-'}; {partner.id}'s receipt will arrive as a message",
                          transport_id=transport_id)
    for event in result.events:
        if event.kind == SYNC_REPLY and event.data:
            await _sync_reply(gw, msg, partner, event.data)
            done = await gw.store.get(msg.id)
    return done


async def _sync_reply(gw, msg: Message, partner: PartnerSpec, xml: bytes) -> None:
    """A synchronous reply (already kept as evidence with the message) goes through the
    inbound pipeline now: a receipt settles our message, a message is stored and its
    receipt queued back. A reply that is no gateway message stays evidence only."""
    actor = f"{partner.transport}:{partner.id}"
    try:
        result = await gw.inbound.receive(xml, Peer(partner.transport, remote=f"sync reply of {partner.id}"))
        await gw.send_receipt_back(result, xml)
    except MessageError as exc:
        await gw.store.note(msg.id, actor=actor, detail=f"sync reply is no gateway message ({exc}); "
                            "kept as evidence only")
    except Exception as exc:  # noqa: BLE001 - the send is done; the reply stays evidence
        log.exception("sync reply to message %s not processed", msg.id)
        await gw.store.note(msg.id, actor=actor, detail=f"sync reply not processed ({exc}); "
                            "kept as evidence only")
    else:
        await gw.store.note(msg.id, actor=actor, detail=(
            f"sync reply {result.message_uuid} processed: "
            + ("accepted" if result.accepted else f"refused ({', '.join(result.codes) or '-'})")))


async def _receipt(gw, msg: Message, partner: PartnerSpec, xml: bytes | None, transport_id: str) -> Message:
    """Settle a message by the receipt its transport answered with; no or a bad receipt is
    a failed attempt."""
    if not xml:
        error = RetryLater("the partner answered without a receipt", code="no-receipt")
    else:
        try:
            info = await asyncio.to_thread(gw.receipts.verify, xml, partner=partner.id,
                                           refers_to=msg.message_uuid, now=gw.clock())
        except GatewayError as exc:
            gw.count(partner.transport, "bad-receipt")
            error = RetryLater(f"receipt not valid: {exc}", code="bad-receipt")
        else:
            if not rc.settles(info, msg.digest):
                gw.count(partner.transport, "bad-receipt")
                error = RetryLater(f"receipt {info.receipt_uuid} does not settle the message (it names no "
                                   f"or another digest): {info.summary()}", code="receipt-not-for-us")
                decision = gw.policy.decide(error, msg.attempts, gw.clock())
                return await move(gw, msg, decision.state, decision.reason, next_attempt_at=decision.at,
                                  last_error=str(error)[:2000], receipt=NewReceipt(
                                      xml, info.accepted, detail=f"kept as evidence: {info.summary()}"[:2000]))
            gw.count(partner.transport, "acknowledged" if info.accepted else "rejected")
            state = State.ACKNOWLEDGED if info.accepted else State.REJECTED
            return await move(gw, msg, state, f"receipt {info.receipt_uuid}: {info.summary()}",
                              receipt=NewReceipt(xml, info.accepted, detail=info.summary()),
                              transport_id=transport_id or None,
                              last_error=None if info.accepted else info.summary())
    decision = gw.policy.decide(error, msg.attempts, gw.clock())
    return await move(gw, msg, decision.state, decision.reason, next_attempt_at=decision.at,
                      last_error=str(error))


async def move(gw, msg: Message, to: State, detail: str, **kw) -> Message:
    """Move a message this node holds; when another node took it over or its receipt
    settled it meanwhile, log and return it as it is now."""
    try:
        return await gw.store.transition(msg.id, to, actor=gw.node, node=gw.node, detail=detail, **kw)
    except LeaseLost:
        log.warning("message %s changed meanwhile (taken over by another node, or settled by "
                    "its receipt)", msg.id)
        return await gw.store.get(msg.id)


async def wait_final(gw, msg_id: str, *, timeout: float, deliver: bool = True,
                     interval: float = 0.2) -> Message:
    """Deliver due messages (when `deliver`) until `msg_id` is final or `timeout` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await gw.store.get(msg_id)
        if msg.final or loop.time() >= deadline:
            return msg
        if deliver:
            await drain_once(gw)
        await asyncio.sleep(interval)
