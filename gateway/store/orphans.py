"""Orphan payload files: files under data_dir/payloads that no message row points to.

A payload file is written (and fsynced) before the row that names it commits. A crash in
between leaves the file without a row; so does a crash in a purge between deleting the rows
and their files, and a half-written `.<id>.bin.<random>.tmp` (gateway.files). The sweep
finds files older than a grace period (`[store] orphan_grace`, long enough that no insert
can still be on its way to its commit) that no row references, and moves them to
data_dir/quarantine/orphan-payloads/ with one audit entry (`retention.orphans`: name, size,
SHA-256, modification time of each).

Why quarantine and not delete: an orphan is usually the payload of a message nobody was
told was accepted, but not always. After the database is restored from a backup older
than the payload folder, the files of messages acknowledged after the backup have no rows
either, and they are then the only copy. The audit log's `message.accepted` /
`message.received` entries carry each payload's SHA-256, so a quarantined file can be
matched to its message. Empty the quarantine folder by hand once checked (it holds
citizens' data; it is not cleaned automatically).
"""
from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from ..files import make_dirs, publish
from .chain import timestamp
from .payloads import SUBDIR
from .tables import messages

QUARANTINE = "quarantine/orphan-payloads"
SUFFIXES = (".bin", ".tmp")      # what PayloadFiles writes; anything else is left alone
LISTED = 1000                    # files named in the audit entry; the rest are counted
CHUNK = 500                      # paths per "is it referenced" query


@dataclass(frozen=True, slots=True)
class Orphan:
    """A payload file no row references, old enough to be swept."""

    file: str                    # relative to the data dir: payloads/<xx>/<id>.bin
    size: int
    modified: datetime
    sha256: str = ""             # filled when it is moved (or hashed for a dry run)


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What `sweep` found and did."""

    scanned: int                 # payload files looked at
    orphans: tuple[Orphan, ...]  # unreferenced and older than the grace period
    quarantine: Path | None      # where they went (None: dry run or nothing to move)

    @property
    def bytes(self) -> int:
        """Total size of the orphans."""
        return sum(o.size for o in self.orphans)

    def summary(self) -> str:
        """One line for logs and the CLI."""
        verb = "quarantined" if self.quarantine else "found"
        return (f"{len(self.orphans)} orphan payload file(s) {verb} ({self.bytes} bytes) "
                f"of {self.scanned} scanned")


def old_files(data_dir: Path, cutoff: datetime) -> tuple[int, list[Orphan]]:
    """(files scanned, candidates): payload files last modified before `cutoff`."""
    root = Path(data_dir) / SUBDIR
    scanned, found = 0, []
    if not root.is_dir():
        return 0, []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(sub.iterdir()):
            if path.suffix not in SUFFIXES or not path.is_file():
                continue
            scanned += 1
            try:
                modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            except FileNotFoundError:   # moved by a concurrent sweep or a purge
                continue
            if modified < cutoff:
                found.append(Orphan(f"{SUBDIR}/{sub.name}/{path.name}", path.stat().st_size, modified))
    return scanned, found


async def referenced(store, files: list[str]) -> set[str]:
    """The paths among `files` that a message row names as its payload file."""
    found: set[str] = set()
    async with store.reading() as conn:
        for i in range(0, len(files), CHUNK):
            chunk = files[i:i + CHUNK]
            rows = await conn.execute(select(messages.c.payload_file)
                                      .where(messages.c.payload_file.in_(chunk)))
            found.update(r[0] for r in rows)
    return found


def _quarantine(data_dir: Path, orphan: Orphan) -> Orphan | None:
    """Move one orphan into the quarantine folder durably; None if it is gone already."""
    src = data_dir / orphan.file
    dest_dir = data_dir / QUARANTINE / Path(orphan.file).parent.name
    make_dirs(dest_dir)
    dest, n = dest_dir / src.name, 0
    while dest.exists():
        n += 1
        dest = dest_dir / f"{src.name}.{n}"
    try:
        sha = publish(src, dest)
    except FileNotFoundError:
        return None
    return Orphan(orphan.file, orphan.size, orphan.modified, sha)


def _hash(data_dir: Path, orphan: Orphan) -> Orphan | None:
    try:
        with open(data_dir / orphan.file, "rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return None
    return Orphan(orphan.file, orphan.size, orphan.modified, sha)


async def sweep(store, *, grace: float, actor: str, now: datetime | None = None,
                dry_run: bool = False) -> SweepReport:
    """Move payload files older than `grace` seconds that no row references to the
    quarantine folder, with one `retention.orphans` audit entry (none when there are none).
    A dry run only reports them."""
    now = now or store.clock()
    data_dir = store.data_dir
    scanned, candidates = await asyncio.to_thread(old_files, data_dir, now - timedelta(seconds=grace))
    if not candidates:
        return SweepReport(scanned, (), None)
    live = await referenced(store, [c.file for c in candidates])
    orphans = [c for c in candidates if c.file not in live]
    act = _hash if dry_run else _quarantine
    done = [o for o in await asyncio.to_thread(lambda: [act(data_dir, c) for c in orphans]) if o is not None]
    if dry_run or not done:
        return SweepReport(scanned, tuple(done), None)
    await store.audit("retention.orphans", actor=actor, details={
        "count": len(done), "bytes": sum(o.size for o in done), "grace_seconds": grace,
        "quarantine": QUARANTINE, "more": max(len(done) - LISTED, 0),
        "files": [{"file": o.file, "size": o.size, "sha256": o.sha256, "modified": timestamp(o.modified)}
                  for o in done[:LISTED]]})
    return SweepReport(scanned, tuple(done), data_dir / QUARANTINE)
