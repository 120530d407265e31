"""The small interfaces (ports) between the core and its edges: the transports in `adapters/`
(`Sender`, `Source`, `NamedSource`, `ClientSettings`) and the server's inward port (`Inbound`,
`Peer`, `InboundResult`, `StatusInfo`): what the HTTP and SOAP endpoints hand a received message to.

A transport implements `Sender` (push a signed message to a partner) and/or `Source`
(pull messages that partners left for us: an XTA mailbox, a drop folder). Adapters raise
only `gateway.errors.RetryLater` or `gateway.errors.Refused`; library exceptions are
translated at the adapter's edge.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence, runtime_checkable

ERROR_SUFFIX = ".error.txt"     # a refused file's reason, kept beside it (folders, quarantine)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A signed message ready to go to one partner."""

    message_id: str                 # the store's id of this message
    message_uuid: str               # nachrichtenUUID from the header
    message_type: str               # type id, e.g. "personenstand.antrag.0100"
    partner_id: str                 # reader's kennung, e.g. "ags:09000009"
    endpoint: str                   # where the partner directory says to send it
    xml: bytes                      # the signed document
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TransportEvent:
    """Something a transport reports about a message, kept in its routing slip."""

    kind: str                       # e.g. "transport-report", "provider-accepted"
    detail: str = ""
    data: bytes = b""               # raw evidence (a transport report document)
    positive: bool = True           # False: the evidence reports a failure (a red report)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a transport hands back for a sent message."""

    receipt_xml: bytes | None = None          # the partner's signed receipt, if synchronous
    transport_id: str = ""                    # the transport's own id for the message
    events: tuple[TransportEvent, ...] = ()
    receipt_later: bool = False               # asynchronous transport (XTA): the receipt
                                              # arrives later as a message from the partner


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message pulled from a source, not yet stored or settled."""

    xml: bytes
    handle: str                     # opaque: what `settle` needs to find it again
    sender_hint: str = ""           # what the transport says about the sender, unverified
    events: tuple[TransportEvent, ...] = ()


@runtime_checkable
class Sender(Protocol):
    """Pushes one message to a partner; returns the result or raises RetryLater/Refused."""

    async def send(self, msg: Outgoing) -> SendResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Source(Protocol):
    """Pulls messages left for us; `settle` only after the message is durably stored
    (`note`: why a refused message was refused, kept beside it where the source can)."""

    async def fetch(self, limit: int) -> Sequence[Incoming]: ...

    async def settle(self, item: Incoming, accepted: bool, note: str = "") -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class NamedSource:
    """A Source with the name used in logs, quarantine folders and the Peer."""

    name: str                  # e.g. "xta:ags:09162000", "folder:partners"
    transport: str             # Peer.transport: "xta", "folder"
    source: Source
    receipts_back: bool = False  # our receipts go back to the sender over the transport


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """What every Sender adapter needs: timeouts and the TLS context for a partner."""

    connect_timeout: float = 10.0
    timeout: float = 60.0
    max_response_bytes: int = 4 * 1024 * 1024
    ssl_for: Callable[[str], ssl.SSLContext | None] = field(default=lambda partner_id: None)
    partner_timeouts: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # id -> (connect, total)

    def timeouts(self, partner_id: str) -> tuple[float, float]:
        """(connect, total) seconds for one exchange with this partner."""
        return self.partner_timeouts.get(partner_id, (self.connect_timeout, self.timeout))


# -- the server's inward port: the endpoints only move bytes; the pipeline behind `Inbound`
# (gateway.exchange.inbound.InboundPipeline) parses, identifies, verifies, validates, stores
# and answers with a signed receipt.

@dataclass(frozen=True, slots=True)
class Peer:
    """What the transport knows about the caller: unproven except for a verified TLS cert."""

    transport: str                  # "http", "soap", "memory"
    remote: str = ""                # remote address as seen by the server
    cert_der: bytes | None = None   # client certificate verified by mutual TLS, if any
    connected: Callable[[], bool] | None = field(default=None, compare=False)
                                    # False once the caller has gone (no CPU-heavy work for it)

    def gone(self) -> bool:
        """True when the caller is known to have closed its connection."""
        return self.connected is not None and not self.connected()


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
