"""The server's inward port: what the HTTP and SOAP endpoints hand a received message to.

The endpoints only move bytes: they enforce the size limit, read the TLS peer, and call
`Inbound.receive`; everything else (parse, identify, verify, validate, store, receipt) is
the pipeline behind this port (`gateway.inbound.InboundPipeline`), so the server is tested
with a small double and the pipeline with plain calls.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Peer:
    """What the transport knows about the caller: unproven except for a verified TLS cert."""

    transport: str                  # "http", "soap", "memory"
    remote: str = ""                # remote address as seen by the server
    cert_der: bytes | None = None   # client certificate verified by mutual TLS, if any


@dataclass(frozen=True, slots=True)
class InboundResult:
    """The synchronous answer to a delivered message: a signed receipt, positive or negative."""

    message_uuid: str
    accepted: bool
    receipt_xml: bytes
    codes: tuple[str, ...] = ()     # feedback codes of a negative receipt


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """State of a received message for `getMessageStatus` and `GET /messages/{uuid}`."""

    message_uuid: str
    state: str
    receipt_xml: bytes | None = None


@runtime_checkable
class Inbound(Protocol):
    """Receives messages for the server; raises MessageError when no receipt can be made
    (e.g. not XML), RetryLater when the gateway cannot take messages right now."""

    async def receive(self, xml: bytes, peer: Peer) -> InboundResult: ...

    async def status(self, message_uuid: str, peer: Peer) -> StatusInfo | None: ...
