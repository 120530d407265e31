"""The wired gateway: `Gateway` holds the parts (store, signer, verifier, encryption,
directory, senders, retry policy, clock) and is the public face of what they do together.

The work lives in modules named after it:
  gateway.exchange.outbound      submit, prepare, drain the outbox, deliver, settle by a receipt
  gateway.exchange.delivery      the node's continuous delivery: slots per partner, breakers, leases
  gateway.exchange.inbound       the inbound pipeline behind the server (InboundPipeline)
  gateway.exchange.receipt_flow  receipts arriving as messages, our receipts sent back, transport events
  gateway.exchange.retry         RetryPolicy/Decision: the one place that decides retry vs dead
  gateway.exchange.header        Headers/Header: a message's routing facts through its standard's profile

The names other parts imported from here before the split are re-exported.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from ..crypto.encryption import Decryptor
from ..crypto.recipients import Encryption
from ..mapping import Authority, Registry
from ..model import Message, Submitted
from ..ports import InboundResult, TransportEvent
from . import outbound, receipt_flow
from . import receipts as rc
from .delivery import Deliverer, PartnerHealth
from .directory import Directory
from .header import Header, Headers, read_header
from .inbound import InboundPipeline
from .outbound import SYNC_REPLY
from .receipt_flow import RECEIPT_CLIENT, SENT_RECEIPT, digest
from .retry import Decision, RetryPolicy

__all__ = ["Gateway", "InboundPipeline", "RetryPolicy", "Decision", "Header", "read_header",
           "RECEIPT_CLIENT", "SENT_RECEIPT", "SYNC_REPLY", "digest", "utcnow"]


def utcnow() -> datetime:
    """The current time in UTC (the shell's clock; the core gets `now` passed in)."""
    return datetime.now(timezone.utc)


class Gateway:
    """One wired gateway: submit, deliver, receive. Built by gateway.bootstrap."""

    def __init__(self, *, config, store, registry: Registry, validator, signer, verifier,
                 directory: Directory, senders: Mapping[str, Any], policy: RetryPolicy,
                 metrics=None, clock: Callable[[], datetime] = utcnow, node: str = "node",
                 encryption: Encryption | None = None):
        self.config = config
        self.store = store
        self.registry = registry
        self.validator = validator
        self.headers = Headers(validator.catalog.standards)  # compiled once: start-up errors here
        self.signer = signer
        self.verifier = verifier
        self.encryption = encryption or Encryption({}, frozenset(), Decryptor(()))
        self.directory = directory
        self.senders = dict(senders)
        self.policy = policy
        self.metrics = metrics
        self.clock = clock
        self.node = node
        self.authority = Authority.from_config(config)
        self.receipts = rc.Receipts(registry, signer, verifier, self.authority)
        self.limits = config.schemas.parser_limits()
        self.inbound = InboundPipeline(self)
        self.health = PartnerHealth(self)
        self.delivery = Deliverer(self)

    # -- outbound (gateway.exchange.outbound) -----------------------------------------------------

    async def submit(self, message_type: str, record: Any, *, to: str, client: str = "",
                     client_ref: str | None = None, actor: str = "api") -> Message:
        """Build, validate, sign and store a message for partner `to` (state ready).
        Refuses a partner that does not accept the type before anything is stored."""
        return (await self.submit_new(message_type, record, to=to, client=client,
                                      client_ref=client_ref, actor=actor)).message

    async def submit_new(self, message_type: str, record: Any, *, to: str, client: str = "",
                         client_ref: str | None = None, actor: str = "api",
                         ref_checked: bool = False) -> Submitted:
        """As `submit`, also telling whether this call stored the message (created) or the
        same (client, client_ref) was submitted before (then nothing is built or stored).
        `ref_checked`: the caller has just looked the client_ref up and found nothing."""
        return await outbound.submit_new(self, message_type, record, to=to, client=client,
                                         client_ref=client_ref, actor=actor, ref_checked=ref_checked)

    async def submit_xml(self, xml: bytes, *, to: str, client: str = "", client_ref: str | None = None,
                         actor: str = "api", authorize=None) -> Submitted:
        """Validate, sign and store a backend's complete XML message of a configured standard
        (the type is the root element; header facts through the standard's profile)."""
        return await outbound.submit_xml(self, xml, to=to, client=client, client_ref=client_ref,
                                         actor=actor, authorize=authorize)

    async def drain_once(self, limit: int = 20) -> int:
        """Claim due outbound messages and deliver them concurrently; returns how many."""
        return await outbound.drain_once(self, limit)

    async def deliver(self, msg: Message) -> Message:
        """One delivery attempt of a claimed message, ending in its next state."""
        return await outbound.deliver(self, msg)

    async def wait_final(self, msg_id: str, *, timeout: float, deliver: bool = True,
                         interval: float = 0.2) -> Message:
        """Deliver due messages (when `deliver`) until `msg_id` is final or `timeout` passes."""
        return await outbound.wait_final(self, msg_id, timeout=timeout, deliver=deliver, interval=interval)

    # -- receipts on asynchronous transports (gateway.exchange.receipt_flow) ----------------------

    async def keep_events(self, msg_id: str, actor: str, events: tuple[TransportEvent, ...]) -> None:
        """Transport events into a message's routing slip, their data kept as evidence once."""
        await receipt_flow.keep_events(self, msg_id, actor, events)

    async def take_receipt(self, info: rc.ReceiptInfo, xml: bytes, *, partner: str, transport: str) -> Message:
        """Settle our message by a partner's verified receipt that arrived as a message."""
        return await receipt_flow.take_receipt(self, info, xml, partner=partner, transport=transport)

    async def send_receipt_back(self, result: InboundResult, xml: bytes) -> Message | None:
        """Queue our signed receipt for a message received without a synchronous exchange."""
        return await receipt_flow.send_receipt_back(self, result, xml)

    # -- shared --------------------------------------------------------------------------

    def count(self, transport: str, outcome: str) -> None:
        """Count an outbound outcome in the metrics (when there are metrics)."""
        if self.metrics is not None:
            self.metrics.outbound.labels(transport, outcome).inc()

    async def aclose(self) -> None:
        """Stop delivering, close the adapters and the store."""
        await self.delivery.aclose(self.config.scheduler.shutdown_timeout)
        for sender in self.senders.values():
            await sender.aclose()
        await self.store.aclose()
