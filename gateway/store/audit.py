"""Appending to and reading the audit log table, inside the caller's transaction.

Appends are serialized: on PostgreSQL by a transaction-scoped advisory lock taken just
before the chain head is read (held until commit), on SQLite by the single writer
(BEGIN IMMEDIATE). The seq primary key makes a forked chain impossible to commit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import AsyncIterator, Sequence

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..audit import GENESIS, AuditEntry, AuditEvent, ChainBreak, canonical, chain, verify
from .tables import audit_log

ADVISORY_KEY = 0x6761_7564   # "gaud": the audit chain's lock id on PostgreSQL


async def append(conn: AsyncConnection, events: Sequence[AuditEvent], at: datetime) -> list[AuditEntry]:
    """Chain and insert events after the current head, in the caller's transaction."""
    if not events:
        return []
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})
    head = (await conn.execute(select(audit_log.c.seq, audit_log.c.hash)
                               .order_by(audit_log.c.seq.desc()).limit(1))).first()
    entries = chain(head.seq if head else 0, head.hash if head else GENESIS, events, at)
    await conn.execute(insert(audit_log), [
        {"seq": e.seq, "at": e.at, "event": e.event, "actor": e.actor,
         "message_id": e.message_id, "details": canonical(dict(e.details)).decode(),
         "prev_hash": e.prev_hash, "hash": e.hash} for e in entries])
    return entries


def _entry(row) -> AuditEntry:
    return AuditEntry(row.seq, row.at, row.event, row.actor, row.message_id,
                      json.loads(row.details), row.prev_hash, row.hash)


async def seq_range(engine: AsyncEngine, since: datetime | None = None,
                    until: datetime | None = None) -> tuple[int, int] | None:
    """(first, last) seq of the entries stamped within [since, until), or None if there are
    none. An export covers the whole contiguous seq range, so it verifies as a chain."""
    q = select(func.min(audit_log.c.seq), func.max(audit_log.c.seq))
    if since is not None:
        q = q.where(audit_log.c.at >= since)
    if until is not None:
        q = q.where(audit_log.c.at < until)
    async with engine.connect() as conn:
        first, last = (await conn.execute(q)).one()
    return None if first is None else (int(first), int(last))


async def entries(engine: AsyncEngine, first: int = 1, last: int | None = None,
                  chunk: int = 2000) -> AsyncIterator[AuditEntry]:
    """Entries from seq `first` to `last` (inclusive; None: to the end), in seq order."""
    after = first - 1
    while True:
        q = select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(chunk)
        if last is not None:
            q = q.where(audit_log.c.seq <= last)
        async with engine.connect() as conn:
            rows = (await conn.execute(q)).all()
        for row in rows:
            yield _entry(row)
        if len(rows) < chunk:
            return
        after = rows[-1].seq


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of verifying the stored chain: how far it holds and its head."""

    count: int                      # entries checked
    head_seq: int                   # last good entry (0: none)
    head_hash: str                  # its hash (GENESIS: none): record it to detect truncation
    broken: ChainBreak | None       # the first broken entry, if any


async def verify_chain(engine: AsyncEngine, chunk: int = 5000) -> ChainReport:
    """Verify the whole stored chain from seq 1, chunk by chunk; stop at the first break."""
    prev, next_seq, count, block = GENESIS, 1, 0, []
    stream = entries(engine, chunk=chunk)
    while True:
        done = False
        try:
            while len(block) < chunk:
                block.append(await anext(stream))
        except StopAsyncIteration:
            done = True
        broken = verify(block, prev_hash=prev, first_seq=next_seq)
        good = block if broken is None else [e for e in block if e.seq < broken.seq]
        if good:   # entries before the break verified (verify walks in order)
            prev, next_seq, count = good[-1].hash, good[-1].seq + 1, count + len(good)
        if broken is not None or done:
            return ChainReport(count, next_seq - 1, prev, broken)
        block = []
