"""Claiming due work with a lease, safely across several gateway nodes.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` picks due rows no other transaction is
claiming right now; the claim (state `sending`, claimed_by, lease_until, attempts + 1)
commits with the history row. SQLite: the single writer (BEGIN IMMEDIATE) makes the same
SELECT-then-UPDATE atomic.

Outbound claims skip partners whose circuit breaker is not closed (gateway.store.breakers:
their messages wait without spending attempts) and, when the caller says how many more
deliveries it may start per partner (`room`), take no more than that per partner, so one
slow partner never fills a node's delivery slots.

A node that dies leaves its messages in `sending`. They are not claimed again directly:
`reclaim` hands every expired lease (or, at a node's start, the node's own leases) to the
caller's `decide` (the retry policy: the lost attempt counts) in one transaction, which
moves it to `retry_wait` or `dead` with a slip entry; the dead node's late transition
fails with LeaseLost. `renew` extends the leases of deliveries still in flight.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Mapping, Sequence

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..model import CLAIMABLE, Direction, Message, State, Transition
from . import batch
from .tables import breakers, messages

m = messages.c


def _due(now: datetime):
    return or_(m.next_attempt_at.is_(None), m.next_attempt_at <= now)


def _breaker_open():
    return exists().where(breakers.c.partner == m.partner, breakers.c.state != "closed")


def _candidates(direction: Direction, now: datetime, limit: int, pg: bool,
                types: Sequence[str] | None = None, partners: Sequence[str] | None = None,
                skip_partners: Sequence[str] = (), skip_open: bool = True):
    where = and_(m.state.in_([s.value for s in CLAIMABLE[direction]]), _due(now))
    if direction is Direction.IN:
        where = and_(where, or_(m.claimed_by.is_(None), m.lease_until < now))
    elif skip_open:
        where = and_(where, ~_breaker_open())
    if types is not None:
        where = and_(where, m.message_type.in_(list(types)))
    if partners is not None:
        where = and_(where, m.partner.in_(list(partners)))
    if skip_partners:
        where = and_(where, m.partner.not_in(list(skip_partners)))
    q = (select(*batch.META_COLUMNS).where(m.direction == direction.value, where)
         .order_by(m.next_attempt_at.asc().nulls_first(), m.id).limit(limit))
    return q.with_for_update(skip_locked=True, of=messages) if pg else q


async def claim(conn: AsyncConnection, node: str, *, limit: int, direction: Direction,
                now: datetime, lease_seconds: float, types: Sequence[str] | None = None,
                partners: Sequence[str] | None = None, room: Mapping[str, int] | None = None,
                default_room: int | None = None, skip_open: bool = True) -> list[Message]:
    """Claim up to `limit` due messages for `node` in the caller's (write) transaction,
    only of these message `types` / from or to these `partners` when given. Outbound:
    partners with an open breaker are skipped (unless not `skip_open`); with `room`
    (partner -> deliveries the caller may still start; others: `default_room`) at most
    that many per partner."""
    pg = conn.dialect.name == "postgresql"
    skip: list[str] = []
    scan = limit
    if room is not None:
        skip = [p for p, n in room.items() if n <= 0]
        scan = limit * 4
    query = _candidates(direction, now, scan, pg, types, partners, skip, skip_open)
    rows: dict[str, dict] = {}
    taken: dict[str, int] = {}
    for r in (await conn.execute(query)).mappings():
        if len(rows) >= limit:
            break
        if room is not None:
            allowed = room.get(r["partner"], default_room if default_room is not None else limit)
            if taken.get(r["partner"], 0) >= allowed:
                continue
            taken[r["partner"]] = taken.get(r["partner"], 0) + 1
        rows[r["id"]] = dict(r)
    if not rows:
        return []
    until = now + timedelta(seconds=lease_seconds)
    if direction is Direction.IN:
        await conn.execute(
            update(messages).where(m.id == bindparam("b_id"))
            .values(claimed_by=bindparam("b_node"), lease_until=bindparam("b_until")),
            [{"b_id": i, "b_node": node, "b_until": until} for i in rows])
        out = []
        for row in rows.values():
            row.update(claimed_by=node, lease_until=until)
            out.append(batch.to_message(row))
        return out
    items = [Transition(row["id"], State.SENDING, actor=node,
                        detail=f"claimed by {node} (attempt {row['attempts'] + 1})")
             for row in rows.values()]
    leases = {i: batch.Lease(node, until) for i in rows}
    results = await batch.apply(conn, items, now, strict=True, leases=leases, rows=rows)
    return [r for r in results if isinstance(r, Message)]


async def reclaim(conn: AsyncConnection, decide: Callable[[Message], Transition], *, now: datetime,
                  node: str | None = None, limit: int = 500) -> list[Message]:
    """Outbound messages in `sending` whose lease expired (or, with `node`, that `node`
    holds: a restarted node's own) moved on as `decide` says, in the caller's transaction.
    `decide` gets the message as it is and returns its Transition (it must not set `node`)."""
    held = m.claimed_by == node if node is not None else m.lease_until < now
    q = (select(*batch.META_COLUMNS)
         .where(m.direction == Direction.OUT.value, m.state == State.SENDING.value, held)
         .order_by(m.lease_until, m.id).limit(limit))
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    rows = {r["id"]: dict(r) for r in (await conn.execute(q)).mappings()}
    if not rows:
        return []
    items = [decide(batch.to_message(r)) for r in rows.values()]
    results = await batch.apply(conn, items, now, strict=False, rows=rows)
    return [r for r in results if isinstance(r, Message)]


async def renew(conn: AsyncConnection, ids: Sequence[str], node: str, until: datetime) -> set[str]:
    """Extend `node`'s leases on outbound messages still in `sending` to `until`; returns the
    ids it still holds (a message missing from the answer was taken from it)."""
    if not ids:
        return set()
    still = set((await conn.execute(
        select(m.id).where(m.id.in_(list(ids)), m.claimed_by == node,
                           m.state == State.SENDING.value))).scalars())
    if still:
        await conn.execute(update(messages).where(m.id.in_(sorted(still)), m.claimed_by == node)
                           .values(lease_until=until))
    return still
