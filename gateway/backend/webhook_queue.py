"""The durable queue of status webhooks: events derived from the routing slip (history).

Every move of an outbound message into one of `[webhooks] states` is a history row written
in the same transaction as the move, so the history is the outbox: `enqueue` copies new
qualifying rows into `webhook_events` (unique per history row: enqueueing twice is
harmless) and remembers how far it has read in `webhook_cursor`.

Why the cursor lags: on PostgreSQL, history ids come from a sequence, and a transaction
that took id 100 may commit after one that took 101. A reader that moved its cursor past
101 at once could miss 100 for ever. So the cursor only advances over rows older than
`LAG` seconds (far longer than any store transaction); newer rows are read again on the
next scan and their events inserted as soon as they are seen: each scan reads every row
past the cursor, however many (a burst of more than SCAN rows is queued at once). On SQLite (one writer) ids
commit in order anyway. The first scan starts at the newest history row: events are
pushed from the moment webhooks are switched on, not for the past.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import and_, delete, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..store.tables import history, messages, webhook_cursor, webhook_events

LAG = 60.0                 # seconds: history rows younger than this are read again
SCAN = 1000                # history rows read per query
KEEP_DELIVERED = 7         # days delivered events are kept (then deleted)
CURSOR = "status"
h, e, m = history.c, webhook_events.c, messages.c


@dataclass(frozen=True, slots=True)
class Event:
    """A status event to push: which routing-slip step of which message."""

    id: str
    message_id: str
    history_id: int
    state: str
    attempts: int


async def enqueue(store, states: Sequence[str], now: datetime) -> int:
    """Copy new history rows that move an outbound message into `states` into the queue;
    returns how many events were added."""
    added = 0
    async with store.writing() as conn:
        start = select(func.coalesce(func.max(h.id), 0)).scalar_subquery()
        created = await conn.execute(_dialect(conn).insert(webhook_cursor).from_select(
            ["name", "position"], select(literal(CURSOR), start)).on_conflict_do_nothing())
        if created.rowcount == 1:
            return 0
        q = select(webhook_cursor.c.position).where(webhook_cursor.c.name == CURSOR)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()               # one enqueuer at a time across nodes
        pos = (await conn.execute(q)).scalar()
        settled = now - timedelta(seconds=LAG)
        read, new_pos, passing = pos, pos, True
        while True:   # read every row past the cursor (a burst is queued at once, not 60 s later)
            rows = (await conn.execute(
                select(h.id, h.at, h.message_id, h.from_state, h.to_state, m.direction)
                .join(messages, m.id == h.message_id)
                .where(h.id > read).order_by(h.id).limit(SCAN))).all()
            wanted = [r for r in rows if r.direction == "out" and r.to_state in states
                      and r.from_state != r.to_state]
            if wanted:
                stmt = _insert(conn).values([
                    {"id": f"st-{r.id}", "message_id": r.message_id, "history_id": r.id,
                     "state": r.to_state, "created_at": now, "attempts": 0, "next_attempt_at": now}
                    for r in wanted]).on_conflict_do_nothing()
                added += max((await conn.execute(stmt)).rowcount or 0, 0)
            for r in rows:   # the durable cursor passes only the settled prefix
                if not passing or r.at >= settled:
                    passing = False
                    break
                new_pos = r.id
            if len(rows) < SCAN:
                break
            read = rows[-1].id
        if new_pos != pos:
            await conn.execute(update(webhook_cursor).where(webhook_cursor.c.name == CURSOR)
                               .values(position=new_pos))
        return added


async def claim(store, node: str, *, limit: int, now: datetime, lease_seconds: float) -> list[Event]:
    """Lease up to `limit` due, undelivered events for `node`."""
    async with store.writing() as conn:
        q = (select(e.id, e.message_id, e.history_id, e.state, e.attempts)
             .where(e.delivered_at.is_(None), e.next_attempt_at <= now,
                    or_(e.claimed_by.is_(None), e.lease_until < now))
             .order_by(e.next_attempt_at, e.history_id).limit(limit))
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = (await conn.execute(q)).all()
        if rows:
            await conn.execute(update(webhook_events).where(e.id.in_([r.id for r in rows]))
                               .values(claimed_by=node, lease_until=now + timedelta(seconds=lease_seconds)))
    return [Event(r.id, r.message_id, r.history_id, r.state, r.attempts) for r in rows]


async def settle(store, event: Event, node: str, *, now: datetime, delivered: bool,
                 error: str | None = None, retry_at: datetime | None = None) -> bool:
    """Record the outcome of a push by `node`; False when its lease was lost meanwhile."""
    values = {"attempts": event.attempts + 1, "claimed_by": None, "lease_until": None,
              "last_error": error}
    if delivered:
        values["delivered_at"] = now
    else:
        values["next_attempt_at"] = retry_at or now
    async with store.writing() as conn:
        done = await conn.execute(update(webhook_events)
                                  .where(and_(e.id == event.id, e.claimed_by == node))
                                  .values(**values))
    return done.rowcount == 1


async def step(store, history_id: int):
    """The history row of an event (None when the message was purged meanwhile)."""
    async with store.reading() as conn:
        return (await conn.execute(select(history).where(h.id == history_id))).first()


async def prune(store, now: datetime) -> int:
    """Delete events delivered more than KEEP_DELIVERED days ago."""
    async with store.writing() as conn:
        done = await conn.execute(delete(webhook_events).where(
            e.delivered_at < now - timedelta(days=KEEP_DELIVERED)))
    return done.rowcount or 0


async def pending(store) -> list[dict]:
    """Undelivered events (for tests and operators), oldest first."""
    async with store.reading() as conn:
        rows = (await conn.execute(select(webhook_events).where(e.delivered_at.is_(None))
                                   .order_by(e.history_id))).mappings().all()
    return [dict(r) for r in rows]


def _dialect(conn):
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def _insert(conn):
    return _dialect(conn).insert(webhook_events)
