"""The orchestrator: submit (build, validate, sign, store), drain the outbox (send, verify
the receipt, acknowledge), and the inbound pipeline behind the server.

Inbound, in this order (issue 5): size limit (server) -> hardened parse -> partner
identified from the header's autor -> signature verified against THAT partner's trust ->
the signed content is read again (never the unsigned document) -> validated -> duplicate
check -> durably stored -> signed receipt. A positive receipt is made only after the store
committed. Unauthenticated rejections (unknown partner, bad signature) are audited but
never stored as messages, so a forger cannot occupy a message UUID.

CPU-bound work (lxml, signxml) runs in threads (`asyncio.to_thread`), never on the loop.
Whether a failed delivery is retried is decided in one place: `RetryPolicy.decide`.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from lxml import etree

from . import receipts as rc
from . import xml as hardened
from .config import PartnerSpec
from .directory import Directory
from .errors import (DeliveryError, GatewayError, LeaseLost, MessageError, Refused, RetryLater,
                     SignatureError, StateError, ValidationFailed)
from .mapping import Authority, Registry, complete_record
from .mapping.xsderrors import to_record_paths
from .model import Direction, Message, NewReceipt, State, Submitted
from .ports import Outgoing, SendResult, TransportEvent
from .server.inbound import InboundResult, Peer, StatusInfo
from .tls import fingerprint

log = logging.getLogger("gateway.service")
SENT_RECEIPT = "receipt-sent"
SYNC_REPLY = "sync-reply"           # TransportEvent kind: a sendMessageSync reply (XTA)
RECEIPT_CLIENT = "gateway:receipts"  # client of the outbound receipts we send back (client_ref:
                                     # the received message's id, so one receipt per message)


def utcnow() -> datetime:
    """The current time in UTC (the shell's clock; the core gets `now` passed in)."""
    return datetime.now(timezone.utc)


# -- retry policy ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a message after a failed attempt: its next state, when, and why."""

    state: State                     # RETRY_WAIT, DEAD or REJECTED
    at: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with a ceiling and an attempt limit: the one place that decides
    retry vs dead (a value object, like urllib3's Retry)."""

    max_attempts: int = 12
    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 3600.0

    @classmethod
    def from_config(cls, delivery) -> "RetryPolicy":
        """From the [delivery] section."""
        return cls(delivery.max_attempts, delivery.backoff_initial, delivery.backoff_factor,
                   delivery.backoff_max)

    def delay(self, attempt: int, retry_after: str = "") -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based); a partner's
        Retry-After (seconds) is honoured up to the ceiling."""
        wait = min(self.initial * self.factor ** max(attempt - 1, 0), self.maximum)
        if retry_after.strip().isdigit():
            wait = max(wait, min(float(retry_after), self.maximum))
        return wait

    def decide(self, error: DeliveryError, attempt: int, now: datetime) -> Decision:
        """RetryLater -> retry_wait (or dead after max_attempts); Refused -> dead."""
        if isinstance(error, Refused):
            return Decision(State.DEAD, None, f"refused by the partner: {error}")
        if attempt >= self.max_attempts:
            return Decision(State.DEAD, None, f"gave up after {attempt} attempts: {error}")
        wait = self.delay(attempt, error.detail if isinstance(error, RetryLater) else "")
        return Decision(State.RETRY_WAIT, now + timedelta(seconds=wait),
                        f"attempt {attempt} failed, retry in {wait:.0f}s: {error}")


# -- message header ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Header:
    """The routing facts of a message's nachrichtenkopf.g2g."""

    root: str
    message_uuid: str
    message_type: str
    author: str
    reader: str


def read_header(root: etree._Element) -> Header:
    """Read the header of a message tree; MessageError naming the missing path."""
    head = root.find("nachrichtenkopf.g2g")
    if head is None:
        raise MessageError(f"{etree.QName(root).localname}: nachrichtenkopf.g2g is missing")

    def text(path: str) -> str:
        value = (head.findtext(path) or "").strip()
        if not value:
            raise MessageError(f"nachrichtenkopf.g2g/{path} is missing")
        return value

    return Header(etree.QName(root).localname, text("identifikation.nachricht/nachrichtenUUID"),
                  text("identifikation.nachricht/nachrichtentyp/code"), text("autor/kennung"),
                  text("leser/kennung"))


# -- the gateway -------------------------------------------------------------------------


class Gateway:
    """One wired gateway: submit, deliver, receive. Built by gateway.bootstrap."""

    def __init__(self, *, config, store, registry: Registry, validator, signer, verifier,
                 directory: Directory, senders: Mapping[str, Any], policy: RetryPolicy,
                 metrics=None, clock: Callable[[], datetime] = utcnow, node: str = "node"):
        self.config = config
        self.store = store
        self.registry = registry
        self.validator = validator
        self.signer = signer
        self.verifier = verifier
        self.directory = directory
        self.senders = dict(senders)
        self.policy = policy
        self.metrics = metrics
        self.clock = clock
        self.node = node
        self.authority = Authority.from_config(config)
        self.receipts = rc.Receipts(registry, signer, verifier, self.authority)
        self.limits = hardened.Limits(config.schemas.max_bytes, config.schemas.max_depth)
        self.inbound = InboundPipeline(self)

    # -- outbound ------------------------------------------------------------------------

    async def submit(self, message_type: str, record: Any, *, to: str, client: str = "",
                     client_ref: str | None = None, actor: str = "api") -> Message:
        """Build, validate, sign and store a message for partner `to` (state ready).
        Refuses a partner that does not accept the type before anything is stored."""
        return (await self.submit_new(message_type, record, to=to, client=client,
                                      client_ref=client_ref, actor=actor)).message

    async def submit_new(self, message_type: str, record: Any, *, to: str, client: str = "",
                         client_ref: str | None = None, actor: str = "api") -> Submitted:
        """As `submit`, also telling whether this call stored the message (created) or the
        same (client, client_ref) was submitted before (then nothing is built or stored)."""
        partner = self.directory.require(to, message_type)
        if client_ref is not None:
            first = await self.store.find_client_ref(client, client_ref)
            if first is not None:
                return Submitted(first, created=False)
        now = self.clock()
        signed, uuid = await asyncio.to_thread(self._prepare, message_type, record, partner, now)
        return await self.store.submit_outbound(
            message_uuid=uuid, message_type=message_type, partner=partner.id, payload=signed,
            actor=actor, client=client, client_ref=client_ref, state=State.READY,
            detail=f"built, validated and signed for {partner.id}")

    def _prepare(self, message_type: str, record: Any, partner: PartnerSpec, now: datetime) -> tuple[bytes, str]:
        message_type_plan = self.registry.get(message_type).plan
        if isinstance(record, dict):
            record = dict(record)
            head = dict(record.get("nachrichtenkopfG2g") or {})
            head.setdefault("leser", {"verzeichnisdienst": {"code": "DVDV"}, "kennung": partner.id,
                                      "name": (partner.name or partner.id)[:200]})
            record["nachrichtenkopfG2g"] = head
        record = complete_record(message_type_plan, message_type, record, authority=self.authority, now=now)
        root = self.registry.build(message_type, record)
        header = read_header(root)
        if header.reader != partner.id:
            raise MessageError(f"nachrichtenkopfG2g.leser.kennung is {header.reader}, but the message "
                               f"goes to {partner.id}")
        issues = self.validator.validate_tree(root, now=now)
        if issues:  # the backend sent a record: name its fields, not XML paths
            raise ValidationFailed(to_record_paths(issues, message_type_plan, root))
        xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        return self.signer.sign(xml, now=now, partner=partner.id), header.message_uuid

    async def drain_once(self, limit: int = 20) -> int:
        """Claim due outbound messages and deliver them concurrently; returns how many."""
        claimed = await self.store.claim_due(self.node, limit=limit)
        if claimed:
            await asyncio.gather(*(self.deliver(m) for m in claimed))
        return len(claimed)

    async def deliver(self, msg: Message) -> Message:
        """One delivery attempt of a claimed message, ending in its next state."""
        partner = self.directory.find(msg.partner)
        if partner is None:
            return await self._move(msg, State.FAILED, f"partner {msg.partner} is no longer in the directory")
        sender = self.senders.get(partner.transport)
        if sender is None:
            return await self._move(msg, State.FAILED, f"transport {partner.transport} is not available")
        payload = await self.store.payload(msg.id)
        error: DeliveryError | None = None
        for endpoint in partner.endpoints:
            out = Outgoing(msg.id, msg.message_uuid, msg.message_type, partner.id, endpoint, payload,
                           dict(partner.options))
            try:
                result = await sender.send(out)
            except RetryLater as exc:
                error = exc
                self._count(partner.transport, "retry")
                continue  # the next endpoint may answer
            except Refused as exc:
                error = exc
                self._count(partner.transport, "refused")
                break
            return await self._sent(msg, partner, result)
        decision = self.policy.decide(error or RetryLater("no endpoint"), msg.attempts, self.clock())
        return await self._move(msg, decision.state, decision.reason, next_attempt_at=decision.at,
                                last_error=str(error))

    async def _sent(self, msg: Message, partner: PartnerSpec, result: SendResult) -> Message:
        """The transport took the message: its events go into the routing slip, then the
        receipt decides (synchronous), or the message waits for it in `sent` (asynchronous
        transports), or it is done (a receipt is never answered with a receipt)."""
        transport_id = result.transport_id or None
        await self.keep_events(msg.id, partner.transport, result.events)
        if rc.is_receipt(msg.message_type):
            self._count(partner.transport, "acknowledged")
            done = await self._move(msg, State.ACKNOWLEDGED, f"receipt handed to the {partner.transport} "
                                    "transport (a receipt is not answered with a receipt)",
                                    transport_id=transport_id)
        elif result.receipt_xml or not result.receipt_later:
            done = await self._receipt(msg, partner, result.receipt_xml, result.transport_id)
        else:
            self._count(partner.transport, "sent")
            done = await self._move(msg, State.SENT, f"taken by the {partner.transport} transport as "
                                    f"{result.transport_id or '-'}; {partner.id}'s receipt will arrive as a message",
                                    transport_id=transport_id)
        for event in result.events:
            if event.kind == SYNC_REPLY and event.data:
                await self._sync_reply(msg, partner, event.data)
                done = await self.store.get(msg.id)
        return done

    async def _sync_reply(self, msg: Message, partner: PartnerSpec, xml: bytes) -> None:
        """A synchronous reply (already kept as evidence with the message) goes through the
        inbound pipeline now: a receipt settles our message, a message is stored and its
        receipt queued back. A reply that is no gateway message stays evidence only."""
        actor = f"{partner.transport}:{partner.id}"
        try:
            result = await self.inbound.receive(xml, Peer(partner.transport, remote=f"sync reply of {partner.id}"))
            await self.send_receipt_back(result, xml)
        except MessageError as exc:
            await self.store.note(msg.id, actor=actor, detail=f"sync reply is no gateway message ({exc}); "
                                  "kept as evidence only")
        except Exception as exc:  # noqa: BLE001 - the send is done; the reply stays evidence
            log.exception("sync reply to message %s not processed", msg.id)
            await self.store.note(msg.id, actor=actor, detail=f"sync reply not processed ({exc}); "
                                  "kept as evidence only")
        else:
            await self.store.note(msg.id, actor=actor, detail=(
                f"sync reply {result.message_uuid} processed: "
                + ("accepted" if result.accepted else f"refused ({', '.join(result.codes) or '-'})")))

    async def keep_events(self, msg_id: str, actor: str, events: tuple[TransportEvent, ...]) -> None:
        """Transport events into a message's routing slip; their evidence (a transport report,
        a reply, an attachment) stored as a receipt record of the event's kind, once."""
        kept = None
        for event in events:
            await self.store.note(msg_id, actor=actor, detail=f"{event.kind}: {event.detail}"[:2000])
            if not event.data:
                continue
            if kept is None:
                kept = {(r.kind, r.digest) for r in await self.store.receipts(msg_id)}
            if (event.kind, digest(event.data)) not in kept:
                kept.add((event.kind, digest(event.data)))
                await self.store.add_receipt(msg_id, NewReceipt(event.data, event.positive, kind=event.kind,
                                                                detail=event.detail[:2000]), actor=actor)

    async def take_receipt(self, info: rc.ReceiptInfo, xml: bytes, *, partner: str, transport: str) -> Message:
        """Settle our message by a partner's verified receipt that arrived as a message
        (asynchronous transports); MessageError when it refers to no message of ours to
        that partner. In a state a receipt cannot settle it is kept as evidence only."""
        msg = await self.store.find(Direction.OUT, info.refers_to)
        if msg is None or msg.partner != partner or rc.is_receipt(msg.message_type):
            raise MessageError(f"receipt {info.receipt_uuid} refers to {info.refers_to}, which is no "
                               f"message of ours to {partner}")
        receipt, actor = NewReceipt(xml, info.accepted, detail=info.summary()), f"{transport}:{partner}"
        try:
            done = await self.store.transition(
                msg.id, State.ACKNOWLEDGED if info.accepted else State.REJECTED, actor=actor,
                detail=f"receipt {info.receipt_uuid}: {info.summary()}", receipt=receipt,
                last_error=None if info.accepted else info.summary())
        except StateError as exc:
            if not any(r.digest == digest(xml) for r in await self.store.receipts(msg.id)):
                await self.store.add_receipt(msg.id, receipt, actor=actor)
                await self.store.note(msg.id, actor=actor, detail=f"receipt {info.receipt_uuid} kept as "
                                      f"evidence, the message stays {msg.state.value}: {exc}"[:2000])
            return await self.store.get(msg.id)
        self._count(transport, "acknowledged" if info.accepted else "rejected")
        return done

    async def send_receipt_back(self, result: InboundResult, xml: bytes) -> Message | None:
        """Queue our signed receipt for a message that did not arrive over a synchronous
        exchange (XTA mailbox, sync reply) as an outbound message to its author, delivered
        by the outbox like any other (durable, retried). One per stored message; nothing
        for a receipt, or for a message that was not stored (refused, conflicting)."""
        if not result.receipt_xml:
            return None
        got = await self.store.find(Direction.IN, result.message_uuid)
        if got is None or got.digest != digest(xml) or rc.is_receipt(got.message_type):
            return None
        tree = await asyncio.to_thread(hardened.parse, result.receipt_xml, self.limits)
        receipt_uuid = read_header(tree.getroot()).message_uuid
        sub = await self.store.submit_outbound(
            message_uuid=receipt_uuid, message_type=rc.RECEIPT_TYPE, partner=got.partner,
            payload=result.receipt_xml, actor=self.node, client=RECEIPT_CLIENT, client_ref=got.id,
            state=State.READY, detail=f"{'positive' if result.accepted else 'negative'} receipt for "
            f"{got.message_uuid} ({got.id}), to go back to {got.partner}")
        if sub.created:
            await self.store.note(got.id, actor=self.node, detail=f"receipt {receipt_uuid} queued to go back "
                                  f"to {got.partner} as message {sub.message.id}")
        return sub.message

    async def _receipt(self, msg: Message, partner: PartnerSpec, xml: bytes | None, transport_id: str) -> Message:
        if not xml:
            error = RetryLater("the partner answered without a receipt", code="no-receipt")
        else:
            try:
                info = await asyncio.to_thread(self.receipts.verify, xml, partner=partner.id,
                                               refers_to=msg.message_uuid, now=self.clock())
            except GatewayError as exc:
                self._count(partner.transport, "bad-receipt")
                error = RetryLater(f"receipt not valid: {exc}", code="bad-receipt")
            else:
                self._count(partner.transport, "acknowledged" if info.accepted else "rejected")
                state = State.ACKNOWLEDGED if info.accepted else State.REJECTED
                return await self._move(msg, state, f"receipt {info.receipt_uuid}: {info.summary()}",
                                        receipt=NewReceipt(xml, info.accepted, detail=info.summary()),
                                        transport_id=transport_id or None,
                                        last_error=None if info.accepted else info.summary())
        decision = self.policy.decide(error, msg.attempts, self.clock())
        return await self._move(msg, decision.state, decision.reason, next_attempt_at=decision.at,
                                last_error=str(error))

    async def _move(self, msg: Message, to: State, detail: str, **kw) -> Message:
        try:
            return await self.store.transition(msg.id, to, actor=self.node, node=self.node,
                                               detail=detail, **kw)
        except LeaseLost:
            log.warning("message %s changed meanwhile (taken over by another node, or settled by "
                        "its receipt)", msg.id)
            return await self.store.get(msg.id)

    def _count(self, transport: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.outbound.labels(transport, outcome).inc()

    async def wait_final(self, msg_id: str, *, timeout: float, deliver: bool = True,
                         interval: float = 0.2) -> Message:
        """Deliver due messages (when `deliver`) until `msg_id` is final or `timeout` passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self.store.get(msg_id)
            if msg.final or loop.time() >= deadline:
                return msg
            if deliver:
                await self.drain_once()
            await asyncio.sleep(interval)

    async def aclose(self) -> None:
        """Close the adapters and the store."""
        for sender in self.senders.values():
            await sender.aclose()
        await self.store.aclose()


class InboundPipeline:
    """The server's Inbound port: from received bytes to a signed receipt."""

    def __init__(self, gateway: Gateway):
        self.gw = gateway

    async def receive(self, xml: bytes, peer: Peer) -> InboundResult:
        """Run the pipeline; raises MessageError only when no receipt can be addressed."""
        gw = self.gw
        now = gw.clock()
        tree = await asyncio.to_thread(hardened.parse, xml, gw.limits)
        claimed = read_header(tree.getroot())
        partner = gw.directory.find(claimed.author)
        if partner is None:
            return await self._refuse(claimed, rc.UNKNOWN_SENDER, f"sender {claimed.author} is not in the "
                                      "partner directory", now, peer)
        problem = _tls_problem(partner, peer)
        if problem:
            return await self._refuse(claimed, rc.UNKNOWN_SENDER, problem, now, peer)
        try:
            verified = await asyncio.to_thread(gw.verifier.verify, xml, partner=partner.id, now=now)
        except SignatureError as exc:
            return await self._refuse(claimed, _signature_code(str(exc)), str(exc), now, peer)
        header = read_header(verified.tree)  # from here on: only what was signed
        if (header.message_uuid, header.author) != (claimed.message_uuid, claimed.author):
            return await self._refuse(claimed, rc.SIGNATURE_INVALID, "the signed header differs from "
                                      "the document's header", now, peer)
        if rc.is_receipt(header.root):
            return await self._take_receipt(header, xml, verified.tree, partner, peer, now)
        if header.reader != gw.authority.kennung:
            return await self._reject(header, xml, partner, [rc.Feedback(
                rc.UNKNOWN_READER, f"message is for {header.reader}, this gateway is {gw.authority.kennung}")], now)
        issues = await asyncio.to_thread(gw.validator.validate_tree, verified.tree, now=now)
        if issues:
            return await self._reject(header, xml, partner, [
                rc.Feedback(rc.CHECK_CODES.get(i.check, rc.SCHEMA), i.format()[:2000]) for i in issues[:20]], now)
        stored = await gw.store.record_inbound(
            message_uuid=header.message_uuid, message_type=header.root, partner=partner.id, payload=xml,
            actor=f"{peer.transport}:{partner.id}", state=State.VERIFIED,
            detail=f"signed by {verified.signer.subject} ({verified.signer.via})")
        if stored.outcome.value == "conflict":
            return await self._answer(header, partner, False, [rc.Feedback(
                rc.DUPLICATE_CONFLICT, "this message UUID was received before with different content")],
                now, None)
        if stored.outcome.value == "duplicate":
            earlier = await self._sent_receipt(stored.message.id)
            if earlier is not None:
                return InboundResult(header.message_uuid, True, earlier)
        return await self._answer(header, partner, True, [rc.Feedback(rc.ACCEPTED)], now, stored.message.id)

    async def _take_receipt(self, header: Header, xml: bytes, tree, partner: PartnerSpec, peer: Peer,
                            now: datetime) -> InboundResult:
        """A partner's verified receipt arriving as a message (asynchronous transports): it
        settles our message and is never stored as a message, delivered or answered (the
        result carries no receipt: no loops). MessageError (audited) when it does not fit."""
        gw = self.gw
        try:
            if header.reader != gw.authority.kennung:
                raise MessageError(f"receipt is for {header.reader}, this gateway is {gw.authority.kennung}")
            issues = await asyncio.to_thread(gw.validator.validate_tree, tree, now=now)
            if issues:
                raise MessageError(f"receipt does not validate: {issues[0].format()}")
            info = rc.read(tree)
            await gw.take_receipt(info, xml, partner=partner.id, transport=peer.transport)
        except MessageError as exc:
            await gw.store.audit("receipt.refused", actor=f"{peer.transport}:{peer.remote}", details={
                "receipt_uuid": header.message_uuid, "author": partner.id, "reason": str(exc)[:500]})
            raise
        return InboundResult(header.message_uuid, True, b"", info.codes)

    async def _reject(self, header: Header, xml: bytes, partner: PartnerSpec, feedback, now) -> InboundResult:
        """An authenticated but unacceptable message: stored as rejected, negative receipt."""
        detail = "; ".join(f"{f.code} {f.text}" for f in feedback)[:2000]
        stored = await self.gw.store.record_inbound(
            message_uuid=header.message_uuid, message_type=header.root, partner=partner.id, payload=xml,
            actor=partner.id, state=State.REJECTED, detail=detail)
        if stored.outcome.value == "duplicate" and stored.message.state is not State.REJECTED:
            feedback = [rc.Feedback(rc.DUPLICATE_CONFLICT, "message UUID already used")]
        return await self._answer(header, partner, False, list(feedback), now,
                                  stored.message.id if stored.outcome.value == "new" else None)

    async def _refuse(self, claimed: Header, code: str, reason: str, now: datetime, peer: Peer) -> InboundResult:
        """An unauthenticated message: audited, never stored; negative receipt to the claimed author."""
        await self.gw.store.audit("message.refused", actor=f"{peer.transport}:{peer.remote}", details={
            "message_uuid": claimed.message_uuid, "claimed_author": claimed.author, "code": code,
            "reason": reason[:500]})
        partner = self.gw.directory.find(claimed.author)
        return await self._answer(claimed, partner, False, [rc.Feedback(code, reason)], now, None,
                                  reader=claimed.author)

    async def _answer(self, header: Header, partner: PartnerSpec | None, accepted: bool, feedback,
                      now: datetime, msg_id: str | None, reader: str | None = None) -> InboundResult:
        gw = self.gw
        reader = reader or header.author
        xml = await asyncio.to_thread(
            gw.receipts.build, refers_to=header.message_uuid, reader=reader,
            reader_name=partner.name if partner else "", accepted=accepted,
            feedback=tuple(feedback), received_at=now, now=now)
        if msg_id is not None:
            await gw.store.add_receipt(msg_id, NewReceipt(xml, accepted, kind=SENT_RECEIPT,
                                                          detail=feedback[0].code), actor=gw.node)
        return InboundResult(header.message_uuid, accepted, xml, tuple(f.code for f in feedback))

    async def _sent_receipt(self, msg_id: str) -> bytes | None:
        for receipt in await self.gw.store.receipts(msg_id):
            if receipt.kind == SENT_RECEIPT and receipt.positive:
                return receipt.xml
        return None

    async def status(self, message_uuid: str, peer: Peer) -> StatusInfo | None:
        """State of a received message and the receipt we gave for it."""
        msg = await self.gw.store.find(Direction.IN, message_uuid)
        if msg is None:
            return None
        sent = [r for r in await self.gw.store.receipts(msg.id) if r.kind == SENT_RECEIPT]
        return StatusInfo(message_uuid, msg.state.value, sent[-1].xml if sent else None)


def _tls_problem(partner: PartnerSpec, peer: Peer) -> str:
    """When the partner pins client certificates (options.client_cert_sha256), the TLS peer
    must present one of them."""
    pins = dict(partner.options).get("client_cert_sha256", "")
    wanted = {p.strip().lower().replace(":", "") for p in pins.split(",") if p.strip()}
    if not wanted:
        return ""
    if peer.cert_der is None:
        return f"partner {partner.id} must deliver over mutual TLS"
    if fingerprint(peer.cert_der) not in wanted:
        return f"TLS client certificate is not one of {partner.id}'s"
    return ""


def _signature_code(reason: str) -> str:
    text = reason.lower()
    if "no signature" in text or "not signed" in text or "missing" in text:
        return rc.NOT_SIGNED
    if "trust" in text or "expired" in text or "revoked" in text or "not valid" in text:
        return rc.SIGNER_UNTRUSTED
    return rc.SIGNATURE_INVALID


def digest(data: bytes) -> str:
    """SHA-256 hex of bytes."""
    return hashlib.sha256(data).hexdigest()
