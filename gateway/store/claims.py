"""Claiming due work with a lease, safely across several gateway nodes.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` picks due rows no other transaction is
claiming right now; the claim (state `sending`, claimed_by, lease_until) commits with the
history row. A node that dies leaves its messages in `sending`; once lease_until passes,
any node claims them again (`sending -> sending`, "taken over"), and the dead node's late
transition fails with LeaseLost. SQLite: the single writer (BEGIN IMMEDIATE) makes the
same SELECT-then-UPDATE atomic.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..model import CLAIMABLE, Direction, Message, State, Transition
from . import batch
from .tables import messages

m = messages.c


def _due(now: datetime):
    return or_(m.next_attempt_at.is_(None), m.next_attempt_at <= now)


def _candidates(direction: Direction, now: datetime, limit: int, pg: bool,
                types: Sequence[str] | None = None, partners: Sequence[str] | None = None):
    if direction is Direction.OUT:
        where = or_(and_(m.state.in_([s.value for s in CLAIMABLE[direction]]), _due(now)),
                    and_(m.state == State.SENDING.value, m.lease_until < now))
    else:
        where = and_(m.state.in_([s.value for s in CLAIMABLE[direction]]), _due(now),
                     or_(m.claimed_by.is_(None), m.lease_until < now))
    if types is not None:
        where = and_(where, m.message_type.in_(list(types)))
    if partners is not None:
        where = and_(where, m.partner.in_(list(partners)))
    q = (select(*batch.META_COLUMNS).where(m.direction == direction.value, where)
         .order_by(m.next_attempt_at.asc().nulls_first(), m.id).limit(limit))
    return q.with_for_update(skip_locked=True) if pg else q


async def claim(conn: AsyncConnection, node: str, *, limit: int, direction: Direction,
                now: datetime, lease_seconds: float, types: Sequence[str] | None = None,
                partners: Sequence[str] | None = None) -> list[Message]:
    """Claim up to `limit` due messages for `node` in the caller's (write) transaction,
    only of these message `types` / from or to these `partners` when given."""
    pg = conn.dialect.name == "postgresql"
    query = _candidates(direction, now, limit, pg, types, partners)
    rows = {r["id"]: dict(r) for r in (await conn.execute(query)).mappings()}
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
    items = []
    for row in rows.values():
        if row["state"] == State.SENDING.value:
            detail = (f"lease of {row['claimed_by']} expired at "
                      f"{row['lease_until']:%Y-%m-%dT%H:%M:%SZ}; taken over by {node}")
        else:
            detail = f"claimed by {node} (attempt {row['attempts'] + 1})"
        items.append(Transition(row["id"], State.SENDING, actor=node, detail=detail))
    leases = {i: batch.Lease(node, until) for i in rows}
    results = await batch.apply(conn, items, now, strict=True, leases=leases, rows=rows)
    return [r for r in results if isinstance(r, Message)]
