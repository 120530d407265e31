"""Circuit breakers per partner and transport, kept in the store so every node sees one state.

    closed ──(threshold consecutive transport failures)──► open ──(cool-down over; one node
      ▲                                                     ▲  takes the probe)──► probing
      └──────────────(a delivery succeeds)──────────────────┴──(the probe fails: cool-down grows)

Closed: messages are claimed as usual. Open and probing: `claims` skips the partner's
messages (they wait; no attempt is spent) except the one probe that `claim_probe` takes,
atomically with the move to `probing`, once `retry_at` has passed (or when the node that
probed died: `probe_until` passed). A success closes the breaker; a transport failure of
the probe opens it again with cool-down x factor^probes (up to a ceiling), and never
shorter than the partner's Retry-After. Every change of state is written to the audit log
in the same transaction (events breaker.opened / breaker.probing / breaker.closed /
breaker.reopened, no message id).

`step` is the pure rule; `record`, `claim_probe` and `read` apply and read it in the
caller's transaction.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..model import Message
from . import audit
from .chain import AuditEvent
from .tables import breakers

b = breakers.c
CLOSED, OPEN, PROBING = "closed", "open", "probing"


@dataclass(frozen=True, slots=True)
class BreakerRule:
    """When a breaker opens and how long it stays open (from [delivery] and the partner)."""

    threshold: int = 5              # consecutive transport failures that open it; 0 = never
    cooldown: float = 30.0          # seconds open before the first probe
    factor: float = 2.0             # growth of the cool-down per failed probe
    cooldown_max: float = 1800.0    # ceiling of one cool-down

    def cooldown_after(self, probes: int) -> float:
        """Seconds open after `probes` failed probes."""
        return min(self.cooldown * self.factor ** max(probes, 0), self.cooldown_max)


@dataclass(frozen=True, slots=True)
class Breaker:
    """One partner's breaker on one transport, as stored (also shown by status, metrics, console)."""

    partner: str
    transport: str
    state: str = CLOSED
    failures: int = 0
    probes: int = 0
    opened_at: datetime | None = None
    retry_at: datetime | None = None
    probe_by: str | None = None
    probe_until: datetime | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None
    updated_at: datetime | None = None

    def as_dict(self) -> dict:
        """JSON-ready form (times as ISO 8601)."""
        return {k: v.isoformat() if isinstance(v, datetime) else v
                for k, v in dataclasses.asdict(self).items()}


def step(old: Breaker, ok: bool, rule: BreakerRule, now: datetime, *, error: str = "",
         retry_after: float | None = None) -> tuple[Breaker, str | None]:
    """The breaker after one delivery outcome (`ok`: the partner answered; else a transport
    failure), and the audit event name when its state changed."""
    if ok:
        if old.state == CLOSED:
            return dataclasses.replace(old, failures=0, last_success_at=now, updated_at=now), None
        return Breaker(old.partner, old.transport, CLOSED, last_success_at=now,
                       last_failure_at=old.last_failure_at, last_error=old.last_error,
                       updated_at=now), "breaker.closed"
    new = dataclasses.replace(old, failures=old.failures + 1, last_failure_at=now,
                              last_error=(error or None) and error[:2000], updated_at=now)
    wait = lambda probes: max(rule.cooldown_after(probes), retry_after or 0.0)  # noqa: E731
    if old.state == CLOSED:
        if rule.threshold > 0 and new.failures >= rule.threshold:
            return dataclasses.replace(new, state=OPEN, probes=0, opened_at=now,
                                       retry_at=now + timedelta(seconds=wait(0))), "breaker.opened"
        return new, None
    if old.state == PROBING:
        probes = old.probes + 1
        return dataclasses.replace(new, state=OPEN, probes=probes, probe_by=None, probe_until=None,
                                   retry_at=now + timedelta(seconds=wait(probes))), "breaker.reopened"
    return new, None       # already open: a delivery that started before it opened failed too


def _value(row) -> Breaker:
    return Breaker(**{f.name: row[f.name] for f in dataclasses.fields(Breaker)})


async def read(conn: AsyncConnection) -> list[Breaker]:
    """Every stored breaker, by partner and transport."""
    rows = (await conn.execute(select(breakers).order_by(b.partner, b.transport))).mappings()
    return [_value(r) for r in rows]


async def _load(conn: AsyncConnection, partner: str, transport: str) -> Breaker | None:
    q = select(breakers).where(b.partner == partner, b.transport == transport)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = (await conn.execute(q)).mappings().first()
    return _value(row) if row else None


async def _save(conn: AsyncConnection, new: Breaker) -> None:
    values = {f.name: getattr(new, f.name) for f in dataclasses.fields(Breaker)}
    await conn.execute(update(breakers).where(b.partner == new.partner, b.transport == new.transport)
                       .values(values))


async def _audit(conn: AsyncConnection, event: str, actor: str, new: Breaker, now: datetime,
                 **extra) -> None:
    details = {"partner": new.partner, "transport": new.transport, "state": new.state,
               "failures": new.failures, "probes": new.probes,
               "retry_at": new.retry_at.isoformat() if new.retry_at else None, **extra}
    if new.last_error and event != "breaker.closed":
        details["error"] = new.last_error[:500]
    await audit.append(conn, [AuditEvent(event, actor, None, details)], now)


async def record(conn: AsyncConnection, partner: str, transport: str, ok: bool, rule: BreakerRule,
                 now: datetime, *, actor: str, error: str = "",
                 retry_after: float | None = None) -> tuple[Breaker, str | None]:
    """Apply one delivery outcome in the caller's transaction; returns the breaker and the
    audit event written (None: no change of state). A success on a partner without a
    stored breaker writes nothing."""
    if not ok:      # make sure the row exists, so that concurrent failures lock one row
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        await conn.execute(dialect.insert(breakers).values(
            partner=partner, transport=transport, state=CLOSED, failures=0, probes=0,
            updated_at=now).on_conflict_do_nothing())
    old = await _load(conn, partner, transport)
    if old is None:
        return Breaker(partner, transport, last_success_at=now, updated_at=now), None
    new, event = step(old, ok, rule, now, error=error, retry_after=retry_after)
    await _save(conn, new)
    if event:
        await _audit(conn, event, actor, new, now)
    return new, event


async def claim_probe(conn: AsyncConnection, partner: str, transport: str, node: str, now: datetime,
                      lease_seconds: float, claim) -> Message | None:
    """Take the partner's probe for `node` when its cool-down is over: claim one due message
    (`claim(conn)` -> list of messages, ignoring breakers) and move the breaker to
    `probing` in the caller's transaction. None (nothing written) when the probe is not
    due, another node holds it, or no message is due."""
    old = await _load(conn, partner, transport)
    due = old is not None and ((old.state == OPEN and old.retry_at is not None and old.retry_at <= now)
                               or (old.state == PROBING and old.probe_until is not None
                                   and old.probe_until < now))
    if not due:
        return None
    claimed = await claim(conn)
    if not claimed:
        return None
    new = dataclasses.replace(old, state=PROBING, probe_by=node,
                              probe_until=now + timedelta(seconds=lease_seconds), updated_at=now)
    await _save(conn, new)
    await _audit(conn, "breaker.probing", node, new, now, message_id=claimed[0].id,
                 taken_over_from=old.probe_by if old.state == PROBING else None)
    return claimed[0]
