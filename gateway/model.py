"""Message states, the transition table and the stored message values.

Rule 1 (after h11's `_state.py`): everything that decides which state a message may move
to lives in this file. The store asks `check_transition` before it writes a state change
and writes the change together with a history row (the routing slip) in one transaction;
the orchestrator decides *when* to move a message (retry policy, timeouts), never *whether*
a move is allowed.

Outbound (direction "out"):

    accepted ──► ready ──► sending ──► sent ──► acknowledged / rejected  (receipt arrives
       │           │        │  ▲ │       │                  later as a message: XTA)
       │           │        │  │ └──► acknowledged / rejected (synchronous receipt)
       │           │        ▼  │        ▼
       │           │     retry_wait ◄───┘                 (partner busy / no receipt yet)
       │           │        │
       ▼           ▼        ▼
     failed    cancelled   dead / rejected / failed        (final; dead, failed -> ready by retry)

Late receipts: an asynchronous transport may have delivered a message whose send the
gateway counted as failed (the provider's answer was lost). The partner's signed receipt
then arrives while the message waits for a retry or after it was given up, so
`retry_wait` and `dead` may move to `acknowledged`/`rejected` by a receipt. A `sent`
message whose receipt is overdue may be sent again by an operator (`sent -> ready`).

Receipt deadline: a message waits in `sent` (AWAITING_RECEIPT) at most `[delivery]
receipt_timeout` seconds; then the send counts as a failed attempt and the retry policy
moves it `sent -> retry_wait` (sent again when due) or `sent -> dead` (attempts exhausted).
That move is made with `Transition.unchanged_since`, so it never hits a message that was
settled or sent again since it was found overdue.

Inbound (direction "in"):

    received ──► verified ──► delivered ──► acknowledged   (by the backend)
        │            │
        └────────────┴──► rejected

`sending -> sending` is the one self-transition: another node taking over a message whose
lease expired. `ready`/`retry_wait` -> `sending` happens only by claiming (a lease).
A history "note" (from == to == current state) records an event without a state change.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from .errors import StateError


class Direction(enum.StrEnum):
    """Which way a message travels: out to a partner, or in from one."""

    OUT = "out"
    IN = "in"


class State(enum.StrEnum):
    """Every state a stored message can be in (see the diagrams in the module docstring)."""

    # outbound
    ACCEPTED = "accepted"          # stored, not yet validated/signed
    READY = "ready"                # signed, waiting to be claimed for sending
    SENDING = "sending"            # claimed by a node (lease), transport call in flight
    SENT = "sent"                  # transport took it, receipt still outstanding
    RETRY_WAIT = "retry_wait"      # will be claimed again at next_attempt_at
    FAILED = "failed"              # local error retrying cannot fix (config, mapping)
    DEAD = "dead"                  # retries exhausted: dead letter
    CANCELLED = "cancelled"        # withdrawn by an operator or the backend
    # inbound
    RECEIVED = "received"          # stored as received, signature not yet checked
    VERIFIED = "verified"          # signature and schema ok, waiting for the backend
    DELIVERED = "delivered"        # handed to the backend
    # both directions
    ACKNOWLEDGED = "acknowledged"  # out: positive receipt; in: backend confirmed
    REJECTED = "rejected"          # out: partner refused; in: we refused it


S = State
_OUT = {
    S.ACCEPTED: {S.READY, S.FAILED, S.CANCELLED},
    S.READY: {S.SENDING, S.CANCELLED, S.FAILED},
    S.SENDING: {S.SENDING, S.SENT, S.ACKNOWLEDGED, S.RETRY_WAIT, S.REJECTED, S.DEAD, S.FAILED,
                S.READY},
    S.SENT: {S.ACKNOWLEDGED, S.REJECTED, S.RETRY_WAIT, S.DEAD, S.READY},
    S.RETRY_WAIT: {S.SENDING, S.READY, S.CANCELLED, S.DEAD, S.ACKNOWLEDGED, S.REJECTED},
    S.DEAD: {S.READY, S.CANCELLED, S.ACKNOWLEDGED, S.REJECTED},
    S.FAILED: {S.READY, S.CANCELLED},
    S.ACKNOWLEDGED: set(),
    S.REJECTED: set(),
    S.CANCELLED: set(),
}
_IN = {
    S.RECEIVED: {S.VERIFIED, S.REJECTED},
    S.VERIFIED: {S.DELIVERED, S.REJECTED},
    S.DELIVERED: {S.ACKNOWLEDGED},
    S.ACKNOWLEDGED: set(),
    S.REJECTED: set(),
}

#: direction -> state -> the states it may move to
TRANSITIONS: dict[Direction, dict[State, frozenset[State]]] = {
    Direction.OUT: {k: frozenset(v) for k, v in _OUT.items()},
    Direction.IN: {k: frozenset(v) for k, v in _IN.items()},
}

#: states a message may be created in
INITIAL: dict[Direction, frozenset[State]] = {
    Direction.OUT: frozenset({S.ACCEPTED, S.READY}),
    Direction.IN: frozenset({S.RECEIVED, S.VERIFIED, S.REJECTED}),
}

#: states in which nothing happens without an operator: retention may purge these
FINAL: dict[Direction, frozenset[State]] = {
    Direction.OUT: frozenset({S.ACKNOWLEDGED, S.REJECTED, S.FAILED, S.DEAD, S.CANCELLED}),
    Direction.IN: frozenset({S.ACKNOWLEDGED, S.REJECTED}),
}

#: states claimed for work when due: out -> moved to `sending`; in -> leased for delivery
CLAIMABLE: dict[Direction, frozenset[State]] = {
    Direction.OUT: frozenset({S.READY, S.RETRY_WAIT}),
    Direction.IN: frozenset({S.VERIFIED}),
}

#: states an operator may retry from (-> ready) and cancel from (-> cancelled); `sent`: the
#: receipt is overdue (the partner deduplicates by nachrichtenUUID)
RETRYABLE = frozenset({S.RETRY_WAIT, S.DEAD, S.FAILED, S.SENT})

#: outbound states that wait for the partner's receipt (asynchronous transports); the
#: receipt deadline moves an overdue one to one of RECEIPT_OVERDUE (the retry policy picks)
AWAITING_RECEIPT = frozenset({S.SENT})
RECEIPT_OVERDUE = frozenset({S.RETRY_WAIT, S.DEAD})
CANCELLABLE = frozenset({S.ACCEPTED, S.READY, S.RETRY_WAIT, S.DEAD, S.FAILED})

#: (direction, new state) -> audit event written with the transition
AUDIT_EVENTS: dict[tuple[Direction, State], str] = {
    (Direction.OUT, S.ACCEPTED): "message.accepted",
    (Direction.OUT, S.READY): "message.signed",
    (Direction.OUT, S.SENT): "message.sent",
    (Direction.OUT, S.ACKNOWLEDGED): "message.acknowledged",
    (Direction.OUT, S.REJECTED): "message.rejected",
    (Direction.OUT, S.FAILED): "message.failed",
    (Direction.OUT, S.DEAD): "message.dead",
    (Direction.OUT, S.CANCELLED): "message.cancelled",
    (Direction.IN, S.RECEIVED): "message.received",
    (Direction.IN, S.VERIFIED): "message.verified",
    (Direction.IN, S.REJECTED): "message.rejected",
    (Direction.IN, S.DELIVERED): "message.delivered",
    (Direction.IN, S.ACKNOWLEDGED): "message.acknowledged",
}


def check_transition(direction: Direction, current: State | None, to: State) -> None:
    """Raise StateError unless a message of `direction` may move from `current` to `to`
    (`current` None: the message is being created)."""
    direction, to = Direction(direction), State(to)
    if current is None:
        if to not in INITIAL[direction]:
            raise StateError(f"{direction.value} message cannot be created in state {to.value!r}")
        return
    allowed = TRANSITIONS[direction].get(State(current))
    if allowed is None:
        raise StateError(f"{direction.value} message cannot be in state {current!s}")
    if to not in allowed:
        options = ", ".join(sorted(allowed)) or "none, it is final"
        raise StateError(f"{direction.value} message cannot move from {current!s} to {to.value} "
                         f"(allowed: {options})")


def audit_event(direction: Direction, to: State, current: State | None) -> str | None:
    """The audit event name for a transition, or None when it is not security-relevant."""
    if current == to:
        return None
    return AUDIT_EVENTS.get((Direction(direction), State(to)))


def check_history(direction: Direction, steps: list[tuple[State | None, State]],
                  state: State) -> str | None:
    """Check a routing slip against the table; return what is wrong, or None when it is
    consistent (first step creates, each step legal and chained, last ends in `state`)."""
    current: State | None = None
    for i, (frm, to) in enumerate(steps):
        if frm != current:
            return f"step {i + 1}: starts from {frm} but the message was {current}"
        if frm is not None and frm == to:
            continue  # a note or a lease takeover: no state change
        try:
            check_transition(direction, frm, to)
        except StateError as exc:
            return f"step {i + 1}: {exc}"
        current = to
    if current != state:
        return f"history ends in {current} but the message is {state}"
    return None


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message's metadata (the payload is read separately)."""

    id: str
    direction: Direction
    message_uuid: str
    message_type: str
    partner: str
    state: State
    attempts: int
    created_at: datetime
    updated_at: datetime
    digest: str                         # SHA-256 (hex) of the payload bytes
    size: int                           # payload length in bytes
    client: str = ""                    # submitting backend (outbound)
    client_ref: str | None = None       # backend's reference, unique per client
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None       # node holding the lease
    lease_until: datetime | None = None
    last_error: str | None = None
    transport_id: str | None = None     # the transport's own id for the message
    payload_file: str | None = None     # relative to the data dir; None: stored in the row

    @property
    def final(self) -> bool:
        """True when nothing more happens to the message without an operator."""
        return self.state in FINAL[self.direction]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One step of a message's routing slip."""

    at: datetime
    from_state: State | None            # None: the message was created
    to_state: State
    actor: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """A receipt or transport report stored with a message."""

    id: int
    message_id: str
    kind: str                           # "receipt", "transport-report", ...
    positive: bool
    at: datetime
    xml: bytes
    digest: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class NewReceipt:
    """A receipt to store together with a transition."""

    xml: bytes
    positive: bool
    kind: str = "receipt"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Transition:
    """A requested state change (input of `Store.transition_many`)."""

    message_id: str
    to: State
    actor: str
    detail: str = ""
    next_attempt_at: datetime | None = None   # set when moving to retry_wait; else cleared
    last_error: str | None = None             # None keeps the previous value
    transport_id: str | None = None           # None keeps the previous value
    node: str | None = None                   # if set: the caller must hold the lease
    receipt: NewReceipt | None = None         # stored in the same transaction
    unchanged_since: datetime | None = None   # if set: only while updated_at is still this


@dataclass(frozen=True, slots=True)
class Submitted:
    """Result of `submit_outbound`: the message and whether this call created it."""

    message: Message
    created: bool


class InboundOutcome(enum.StrEnum):
    """What `record_inbound` did with a received message."""

    NEW = "new"                 # stored for the first time
    DUPLICATE = "duplicate"     # same UUID, same content: acknowledge again, do not deliver
    CONFLICT = "conflict"       # same UUID, different content: reject and flag


@dataclass(frozen=True, slots=True)
class Inbound:
    """Result of `record_inbound`: the stored message (the first one for a duplicate or a
    conflict) and what happened."""

    message: Message
    outcome: InboundOutcome
