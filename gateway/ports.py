"""The small interfaces (ports) between the core and the transports in `adapters/`.

A transport implements `Sender` (push a signed message to a partner) and/or `Source`
(pull messages that partners left for us: an XTA mailbox, a drop folder). Adapters raise
only `gateway.errors.RetryLater` or `gateway.errors.Refused`; library exceptions are
translated at the adapter's edge.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence, runtime_checkable


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
    """Pulls messages left for us; `settle` only after the message is durably stored."""

    async def fetch(self, limit: int) -> Sequence[Incoming]: ...

    async def settle(self, item: Incoming, accepted: bool) -> None: ...

    async def aclose(self) -> None: ...
