"""Appending to and reading the audit log table, inside the caller's transaction.

Appends are serialized: on PostgreSQL by a transaction-scoped advisory lock taken just
before the chain head is read (held until commit), on SQLite by the single writer
(BEGIN IMMEDIATE). The seq primary key makes a forked chain impossible to commit.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import AsyncIterator, Sequence

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import StoreCorrupted
from ..files import write_output
from .chain import (
    GENESIS,
    AuditEntry,
    AuditEvent,
    ChainBreak,
    canonical,
    chain,
    timestamp,
    verify,
)
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


EXPORT_FORMAT = "xoev-gateway-audit/1"


async def export(engine: AsyncEngine, dest: Path, *, since: datetime | None, until: datetime | None,
                 created_at: datetime) -> dict:
    """Write the entries stamped within [since, until) (as one contiguous seq range) to the
    zip `dest`: audit.jsonl plus manifest.json with counts, the chain ends and SHA-256s."""
    rng = await seq_range(engine, since, until)
    lines = []
    if rng is not None:
        async for e in entries(engine, rng[0], rng[1]):
            lines.append(canonical(e.as_dict()) + b"\n")
    body = b"".join(lines)
    first = json.loads(lines[0]) if lines else None
    last = json.loads(lines[-1]) if lines else None
    manifest = {
        "format": EXPORT_FORMAT, "created_at": timestamp(created_at),
        "from": timestamp(since) if since else None, "to": timestamp(until) if until else None,
        "count": len(lines), "first_seq": first["seq"] if first else None,
        "last_seq": last["seq"] if last else None,
        "first_prev_hash": first["prev_hash"] if first else None,
        "last_hash": last["hash"] if last else None,
        "files": {"audit.jsonl": hashlib.sha256(body).hexdigest()},
    }
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()               # the body is in memory already; so is its zip
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("audit.jsonl", body)
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    data = buffer.getvalue()
    write_output(dest, data)            # a user-given path: never renames over a FIFO or device
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    return manifest


def verify_export(path: Path) -> tuple[dict, ChainBreak | None]:
    """Check an export: file digests, the chain inside it and its ends against the
    manifest. Returns (manifest, first break or None)."""
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            body = zf.read("audit.jsonl")
    except (KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise StoreCorrupted(f"{path}: not an audit export ({exc})") from None
    if hashlib.sha256(body).hexdigest() != manifest.get("files", {}).get("audit.jsonl"):
        return manifest, ChainBreak(0, "audit.jsonl does not match the manifest's SHA-256")
    rows = [json.loads(line) for line in body.splitlines() if line]
    if len(rows) != manifest.get("count"):
        return manifest, ChainBreak(0, "entry count does not match the manifest")
    if not rows:
        return manifest, None
    found = [AuditEntry(r["seq"], datetime.fromisoformat(r["at"].replace("Z", "+00:00")),
                        r["event"], r["actor"], r["message_id"], r["details"], r["prev_hash"],
                        r["hash"]) for r in rows]
    broken = verify(found, prev_hash=manifest["first_prev_hash"], first_seq=manifest["first_seq"])
    if broken is None and found[-1].hash != manifest["last_hash"]:
        broken = ChainBreak(found[-1].seq, "last hash does not match the manifest")
    return manifest, broken
