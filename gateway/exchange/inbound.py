"""The inbound pipeline behind the server (the `Inbound` port of gateway.ports):
from received bytes to a stored message and a signed receipt.

In this order (issue 5): size limit (server) -> hardened parse -> partner identified from
the header's autor (of an encrypted message: from its unencrypted routing facts) -> decrypted
with our own key (issue 17; failure: negative receipt "cannot decrypt", audited) -> signature
verified against THAT partner's trust -> a partner with `encrypt = true` that sent in clear is
refused -> the signed content
is read again (never the unsigned document) -> validated -> duplicate check -> durably
stored -> signed receipt. A positive receipt is signed before and stored in the same
transaction as the message (one commit per message), and given out only after that commit;
a duplicate or conflicting message does not keep it (it gets its earlier or a negative one).
Unauthenticated rejections (unknown partner, bad signature) are audited but never stored as
messages, so a forger cannot occupy a message UUID. A partner's receipt arriving as a
message leaves the pipeline after the signature check (gateway.exchange.receipt_flow).
"""
from __future__ import annotations

import asyncio
from datetime import datetime

from .. import logcontext
from .. import xml as hardened
from ..config import PartnerSpec
from ..crypto.encryption import is_encrypted, routing
from ..crypto.tls import fingerprint
from ..errors import DecryptionError, MessageError, SignatureError, errors_of
from ..model import Direction, NewReceipt, State
from ..ports import InboundResult, Peer, StatusInfo
from . import receipts as rc
from .admission import Admission
from .header import Header, from_routing_facts
from .receipt_flow import ENCRYPTED_EVIDENCE, SENT_RECEIPT, digest


class InboundPipeline:
    """The server's Inbound port: from received bytes to a signed receipt."""

    def __init__(self, gateway):
        self.gw = gateway
        server = gateway.config.server
        self.admission = Admission(server.verify_concurrency, server.verify_per_sender)

    async def receive(self, xml: bytes, peer: Peer) -> InboundResult:
        """Run the pipeline; raises MessageError only when no receipt can be addressed."""
        gw = self.gw
        now = gw.clock()
        tree = await asyncio.to_thread(hardened.parse, xml, gw.limits)
        encrypted = is_encrypted(tree.getroot())
        claimed = from_routing_facts(routing(tree.getroot())) if encrypted else gw.headers.read(tree)
        rc.check_reference(claimed.message_uuid)
        logcontext.bind(message_uuid=claimed.message_uuid, partner=claimed.author, type=claimed.root)
        partner = gw.directory.find(claimed.author)
        if partner is None:
            return await self._refuse(claimed, rc.UNKNOWN_SENDER, f"sender {claimed.author} is not in the "
                                      "partner directory", now, peer)
        problem = _tls_problem(partner, peer)
        if problem:
            return await self._refuse(claimed, rc.UNKNOWN_SENDER, problem, now, peer)
        received, evidence = xml, None
        if encrypted:
            try:
                xml = await asyncio.to_thread(gw.encryption.decrypt, tree.getroot())
            except DecryptionError as exc:
                return await self._refuse(claimed, rc.CANNOT_DECRYPT, exc.reason, now, peer,
                                          told=DecryptionError.TEXT, event="message.undecryptable")
            evidence = NewReceipt(received, True, kind=ENCRYPTED_EVIDENCE,
                                  detail="the message as received, encrypted")
        try:
            async with self.admission.turn(partner.id, peer):   # bounded, fair; not for a gone client
                verified = await asyncio.to_thread(gw.verifier.verify, xml, partner=partner.id, now=now)
        except SignatureError as exc:
            return await self._refuse(claimed, rc.signature_feedback(exc), str(exc), now, peer)
        except MessageError as exc:
            if not encrypted:
                raise
            return await self._refuse(claimed, rc.CANNOT_DECRYPT, f"decrypted content is no acceptable XML "
                                      f"document: {exc}", now, peer, told=DecryptionError.TEXT,
                                      event="message.undecryptable")
        header = gw.headers.read(verified.tree)  # from here on: only what was signed
        if (header.message_uuid, header.author) != (claimed.message_uuid, claimed.author) or \
                (encrypted and _facts(header) != _facts(claimed)):
            return await self._refuse(claimed, rc.SIGNATURE_INVALID, "the signed header differs from "
                                      "the document's header" + (" (routing facts of the encrypted message)"
                                                                 if encrypted else ""), now, peer)
        if not encrypted and gw.encryption.required(partner.id) and not rc.is_receipt(header.root):
            return await self._refuse(claimed, rc.NOT_ENCRYPTED, f"{partner.id} must encrypt its messages "
                                      "for us (encrypt = true); this one arrived in clear", now, peer)
        if rc.is_receipt(header.root):
            return await self._take_receipt(header, xml, verified.tree, partner, peer, now)
        if header.reader != gw.authority.kennung:
            return await self._reject(header, xml, partner, [rc.Feedback(
                rc.UNKNOWN_READER, f"message is for {header.reader}, this gateway is {gw.authority.kennung}")],
                now, evidence)
        found = await asyncio.to_thread(gw.validator.validate_tree, verified.tree, now=now)
        issues = errors_of(found)
        if issues:
            return await self._reject(header, xml, partner, [
                rc.Feedback(rc.CHECK_CODES.get(i.check, rc.SCHEMA), i.format()[:2000]) for i in issues[:20]],
                now, evidence)
        accepted = [rc.Feedback(rc.ACCEPTED)]
        receipt = await self._build(header, partner, True, accepted, now, digest=digest(received))
        stored = await gw.store.record_inbound(   # the message, its evidence and our receipt: one transaction
            message_uuid=header.message_uuid, message_type=header.root, partner=partner.id, payload=xml,
            actor=f"{peer.transport}:{partner.id}", state=State.VERIFIED, evidence=evidence,
            detail=f"{'decrypted, ' if encrypted else ''}signed by {verified.signer.subject} "
                   f"({verified.signer.via})",
            receipt=NewReceipt(receipt, True, kind=SENT_RECEIPT, detail=rc.ACCEPTED), receipt_actor=gw.node)
        warnings = [i for i in found if i.is_warning]
        if warnings and stored.outcome.value == "new":
            await gw.store.note(stored.message.id, actor=gw.node, detail=_warnings_text(warnings))
        if stored.outcome.value == "new":
            return InboundResult(header.message_uuid, True, receipt, (rc.ACCEPTED,))
        if stored.outcome.value == "conflict":
            return await self._answer(header, partner, False, [rc.Feedback(
                rc.DUPLICATE_CONFLICT, "this message UUID was received before with different content")],
                now, None, digest=digest(xml))
        if stored.outcome.value == "duplicate":
            earlier = await self._sent_receipt(stored.message.id)
            if earlier is not None:
                return InboundResult(header.message_uuid, True, earlier)
        return await self._answer(header, partner, True, accepted, now, stored.message.id, digest=digest(xml))

    async def _take_receipt(self, header: Header, xml: bytes, tree, partner: PartnerSpec, peer: Peer,
                            now: datetime) -> InboundResult:
        """A partner's verified receipt arriving as a message (asynchronous transports): it
        settles our message and is never stored as a message, delivered or answered (the
        result carries no receipt: no loops). MessageError (audited) when it does not fit."""
        gw = self.gw
        try:
            if header.reader != gw.authority.kennung:
                raise MessageError(f"receipt is for {header.reader}, this gateway is {gw.authority.kennung}")
            issues = errors_of(await asyncio.to_thread(gw.validator.validate_tree, tree, now=now))
            if issues:
                raise MessageError(f"receipt does not validate: {issues[0].format()}")
            info = rc.read(tree)
            await gw.take_receipt(info, xml, partner=partner.id, transport=peer.transport)
        except MessageError as exc:
            await gw.store.audit("receipt.refused", actor=f"{peer.transport}:{peer.remote}", details={
                "receipt_uuid": header.message_uuid, "author": partner.id, "reason": str(exc)[:500]})
            raise
        return InboundResult(header.message_uuid, True, b"", info.codes)

    async def _reject(self, header: Header, xml: bytes, partner: PartnerSpec, feedback, now,
                      evidence: NewReceipt | None = None) -> InboundResult:
        """An authenticated but unacceptable message: stored as rejected, negative receipt."""
        detail = "; ".join(f"{f.code} {f.text}" for f in feedback)[:2000]
        stored = await self.gw.store.record_inbound(
            message_uuid=header.message_uuid, message_type=header.root, partner=partner.id, payload=xml,
            actor=partner.id, state=State.REJECTED, detail=detail, evidence=evidence)
        if stored.outcome.value == "duplicate" and stored.message.state is not State.REJECTED:
            feedback = [rc.Feedback(rc.DUPLICATE_CONFLICT, "message UUID already used")]
        return await self._answer(header, partner, False, list(feedback), now,
                                  stored.message.id if stored.outcome.value == "new" else None,
                                  digest=digest(xml))

    async def _refuse(self, claimed: Header, code: str, reason: str, now: datetime, peer: Peer, *,
                      told: str | None = None, event: str = "message.refused") -> InboundResult:
        """An unauthenticated message: audited (with the `reason`), never stored; negative
        receipt to the claimed author (saying `told`, when given, instead of the reason) that
        names no digest (rc.settles: it never settles the author's message, since anyone can
        send a copy under its UUID)."""
        await self.gw.store.audit(event, actor=f"{peer.transport}:{peer.remote}", details={
            "message_uuid": claimed.message_uuid, "claimed_author": claimed.author, "code": code,
            "reason": reason[:500]})
        partner = self.gw.directory.find(claimed.author)
        return await self._answer(claimed, partner, False, [rc.Feedback(code, told or reason)], now, None,
                                  reader=claimed.author)

    async def _answer(self, header: Header, partner: PartnerSpec | None, accepted: bool, feedback,
                      now: datetime, msg_id: str | None, reader: str | None = None,
                      digest: str = "") -> InboundResult:
        gw = self.gw
        xml = await self._build(header, partner, accepted, feedback, now, reader, digest=digest)
        if msg_id is not None:
            await gw.store.add_receipt(msg_id, NewReceipt(xml, accepted, kind=SENT_RECEIPT,
                                                          detail=feedback[0].code), actor=gw.node)
        return InboundResult(header.message_uuid, accepted, xml, tuple(f.code for f in feedback))

    async def _build(self, header: Header, partner: PartnerSpec | None, accepted: bool, feedback,
                     now: datetime, reader: str | None = None, *, digest: str = "") -> bytes:
        """Our signed receipt for a message (in a thread: signing is CPU-bound); `digest`
        (the message's SHA-256) only when its signature was verified."""
        return await asyncio.to_thread(
            self.gw.receipts.build, refers_to=header.message_uuid, reader=reader or header.author,
            reader_name=partner.name if partner else "", accepted=accepted,
            feedback=tuple(feedback), received_at=now, now=now, digest=digest)

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


def _warnings_text(warnings) -> str:
    """The routing-slip entry of a received message's validation warnings (code-list policy
    "known": lists that are not loaded), shown, never a reason to refuse."""
    shown = "; ".join(w.format(layer=True) for w in warnings[:10])
    more = f" (+{len(warnings) - 10} more)" if len(warnings) > 10 else ""
    return f"validation warnings: {shown}{more}"[:2000]


def _facts(header: Header) -> tuple[str, ...]:
    """What the routing facts of an encrypted message claim and the signed header must say."""
    return (header.root, header.message_uuid, header.message_type, header.author, header.reader)


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
