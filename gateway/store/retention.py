"""Retention: archive final messages to a zip, then purge their rows and payload files.

The audit log is never purged: its entries keep message ids and digests of what was
removed (event "retention.purged"), and the archive's SHA-256 is recorded too
("retention.archived"), so an auditor can match an archive to the log.

Archive layout (one zip):
    manifest.json                   format, created_at, messages, SHA-256 of every file
    messages/<id>/message.xml       the payload as stored (digest checked on read)
    messages/<id>/receipt-<n>.xml   receipts and transport reports
    messages/<id>/timeline.json     metadata, routing slip, receipt metadata
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Mapping, Sequence

from sqlalchemy import delete

from ..errors import NotFound, StoreCorrupted
from ..files import create_temp, make_dirs, publish
from ..model import FINAL, Direction, State
from . import audit, batch
from .chain import AuditEvent, timestamp
from .tables import history, messages, receipts

FORMAT = "xoev-gateway-archive/1"


@dataclass(frozen=True, slots=True)
class Archived:
    """An archive file written by `archive`."""

    path: Path
    count: int
    sha256: str


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What `purge_expired` did (or would do, for a dry run)."""

    candidates: int
    purged: tuple[str, ...] = ()
    archives: tuple[Archived, ...] = field(default_factory=tuple)


def _json(obj) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str).encode()


async def archive(store, ids: Sequence[str], dest: Path, *, actor: str) -> Archived:
    """Write the messages (payload, receipts, timeline) and a manifest to the zip `dest`,
    durably (temp file, fsync, rename); record the archive's SHA-256 in the audit log.

    Safe beside concurrent runs (one node or several): a message purged meanwhile by
    another run (which archived it) is left out; the temporary file is this run's own
    (created exclusively, 0600) and never outlives it, whatever happens; an archive that
    would be empty is not written (count 0)."""
    dest = Path(dest)
    make_dirs(dest.parent)
    tmp, fd = create_temp(dest)
    try:
        with os.fdopen(fd, "w+b") as fh:
            listed = await _write_zip(store, ids, fh)
        if not listed:
            return Archived(dest, 0, "")
        sha = publish(tmp, dest)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    await store.audit("retention.archived", actor=actor,
                      details={"file": dest.name, "sha256": sha, "count": len(listed)})
    return Archived(dest, len(listed), sha)


async def _write_zip(store, ids: Sequence[str], fh) -> list[dict]:
    files: dict[str, str] = {}
    listed = []
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        def put(name: str, data: bytes) -> None:
            zf.writestr(name, data)
            files[name] = hashlib.sha256(data).hexdigest()

        for msg_id in ids:
            try:
                msg, payload = await store.get(msg_id), await store.payload(msg_id)
                found_receipts, found_history = await store.receipts(msg_id), await store.history(msg_id)
            except (NotFound, StoreCorrupted):
                if not await _gone(store, msg_id):
                    raise                   # still there: a real problem, not a concurrent purge
                continue                    # purged meanwhile by another run
            base = f"messages/{msg_id}"
            put(f"{base}/message.xml", payload)
            rec_meta = []
            for n, r in enumerate(found_receipts, 1):
                name = f"{base}/receipt-{n}.xml"
                put(name, r.xml)
                rec_meta.append({"file": name, "kind": r.kind, "positive": r.positive,
                                 "at": timestamp(r.at), "sha256": r.digest, "detail": r.detail})
            timeline = [{"at": timestamp(h.at), "from": h.from_state, "to": h.to_state,
                         "actor": h.actor, "detail": h.detail} for h in found_history]
            meta = {k: (timestamp(v) if isinstance(v, datetime) else v)
                    for k, v in asdict(msg).items()}
            put(f"{base}/timeline.json", _json({"message": meta, "timeline": timeline,
                                                "receipts": rec_meta}))
            listed.append({"id": msg.id, "message_uuid": msg.message_uuid,
                           "direction": msg.direction.value, "state": msg.state.value,
                           "sha256": msg.digest})
        if listed:
            manifest = {"format": FORMAT, "created_at": timestamp(store.clock()),
                        "count": len(listed), "messages": listed, "files": files}
            zf.writestr("manifest.json", _json(manifest))
    return listed


async def _gone(store, msg_id: str) -> bool:
    try:
        await store.get(msg_id)
    except NotFound:
        return True
    return False


async def purge(store, ids: Sequence[str], *, actor: str,
                updated_before: datetime | None = None) -> list[str]:
    """Delete final messages (rows, history, receipts, payload files); skips any that are
    no longer final or were updated since `updated_before`. Returns the purged ids."""
    if not ids:
        return []
    async with store._write() as conn:
        rows = await batch.load(conn, ids, lock=True)
        gone = sorted(i for i, r in rows.items()
                      if State(r["state"]) in FINAL[Direction(r["direction"])]
                      and (updated_before is None or r["updated_at"] < updated_before))
        if not gone:
            return []
        await conn.execute(delete(receipts).where(receipts.c.message_id.in_(gone)))
        await conn.execute(delete(history).where(history.c.message_id.in_(gone)))
        await conn.execute(delete(messages).where(messages.c.id.in_(gone)))
        await audit.append(conn, [AuditEvent("retention.purged", actor, None, {
            "count": len(gone), "ids": gone,
            "sha256": {i: rows[i]["digest"] for i in gone}})], store.clock())
    for i in gone:
        if rows[i]["payload_file"]:
            store.files.remove(rows[i]["payload_file"])
    return gone


async def purge_expired(store, retention: Mapping[str, int], *, actor: str,
                        archive_dir: Path | None, now: datetime | None = None,
                        dry_run: bool = False, chunk: int = 500) -> PurgeReport:
    """Purge final messages older than their state's retention (days, by last update),
    archiving each chunk to archive_dir first (None: no archive)."""
    now = now or store.clock()
    candidates = 0
    purged: list[str] = []
    archives: list[Archived] = []
    for state, days in sorted(retention.items()):
        cutoff = now - timedelta(days=days)
        before_id = None
        while True:
            page = await store.list(state=State(state), updated_before=cutoff, limit=chunk,
                                    before_id=before_id)
            page = [p for p in page if p.final]
            if not page:
                break
            before_id = page[-1].id
            candidates += len(page)
            if dry_run:
                continue
            ids = [p.id for p in page]
            if archive_dir is not None:
                # unique per run: concurrent runs started in the same second never share a name
                name = f"messages-{now:%Y%m%dT%H%M%S}-{state}-{len(archives) + 1:04d}-{secrets.token_hex(3)}.zip"
                done = await archive(store, ids, Path(archive_dir) / name, actor=actor)
                if done.count:
                    archives.append(done)
            purged += await purge(store, ids, actor=actor, updated_before=cutoff)
    return PurgeReport(candidates, tuple(purged), tuple(archives))
