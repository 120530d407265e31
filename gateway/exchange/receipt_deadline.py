"""The receipt deadline: a message in `sent` (handed to an asynchronous transport such as
XTA, the partner's receipt still to arrive as a message) waits at most `[delivery]
receipt_timeout` seconds. Then the send counts as a failed attempt (the message or its
receipt may have been lost): the retry policy (gateway.exchange.retry, the one place that decides)
moves it to `retry_wait`, to be sent again when due — the partner recognises the duplicate
by its nachrichtenUUID and sends its receipt again — or to `dead` when the attempts are
exhausted. A receipt that arrives later still settles it (gateway.model: late receipts).

Run by the scheduler's `receipts` job on every node; the move is conditional on the
message being unchanged since it was found overdue (`Transition.unchanged_since`), so two
nodes, or a receipt arriving meanwhile, never move it twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import GatewayError, RetryLater
from ..model import AWAITING_RECEIPT, Direction, Message, State, Transition
from . import receipts as rc

log = logging.getLogger("gateway.receipt_deadline")
#: transports whose receipts arrive later as messages (their messages wait in `sent`)
ASYNC_TRANSPORTS = frozenset({"xta"})
PAGE = 100


@dataclass(frozen=True, slots=True)
class DeadlineReport:
    """What one pass of the receipt deadline did."""

    overdue: int = 0           # messages found in `sent` past the deadline
    retried: int = 0           # moved to retry_wait (sent again when due)
    dead: int = 0              # attempts exhausted
    skipped: int = 0           # settled or changed meanwhile: left as they are

    def __str__(self) -> str:
        return (f"{self.overdue} overdue: {self.retried} to be sent again, {self.dead} dead, "
                f"{self.skipped} changed meanwhile")


def needed(config) -> bool:
    """Whether a node with this configuration needs the deadline job (a timeout is set and
    some partner is reached over an asynchronous transport)."""
    return config.delivery.receipt_timeout > 0 and any(
        p.transport in ASYNC_TRANSPORTS for p in config.partners.values())


async def expire_overdue(gw, *, timeout: float, now: datetime | None = None) -> DeadlineReport:
    """Move every outbound message in `sent` for more than `timeout` seconds on, as the retry
    policy decides (timeout <= 0: nothing is ever overdue)."""
    if timeout <= 0:
        return DeadlineReport()
    now = now or gw.clock()
    cutoff = now - timedelta(seconds=timeout)
    counts = {"overdue": 0, "retried": 0, "dead": 0, "skipped": 0}
    before = None
    while True:
        page = await gw.store.list(direction=Direction.OUT, state=sorted(AWAITING_RECEIPT),
                                   updated_before=cutoff, limit=PAGE, before_id=before)
        for msg in page:
            if not rc.is_receipt(msg.message_type):
                counts["overdue"] += 1
                counts[await _expire(gw, msg, timeout, now)] += 1
        if len(page) < PAGE:
            return DeadlineReport(**counts)
        before = page[-1].id


async def _expire(gw, msg: Message, timeout: float, now: datetime) -> str:
    """One overdue message: the policy's decision, written only if it is still unchanged."""
    error = RetryLater(f"no receipt within {timeout:g} s", code="receipt-timeout")
    decision = gw.policy.decide(error, msg.attempts, now)
    try:
        (moved,) = await gw.store.transition_many([Transition(
            msg.id, decision.state, actor=gw.node, detail=decision.reason,
            next_attempt_at=decision.at, last_error=str(error), unchanged_since=msg.updated_at)])
    except GatewayError as exc:   # settled by its receipt, retried or sent again meanwhile
        log.info("message %s not moved by the receipt deadline: %s", msg.id, exc)
        return "skipped"
    partner = gw.directory.find(msg.partner)
    gw.count(partner.transport if partner else "unknown", "receipt-timeout")
    log.warning("message %s to %s: %s", msg.id, msg.partner, decision.reason)
    return "dead" if moved.state is State.DEAD else "retried"
