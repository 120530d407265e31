"""Orphan payload files (a payload written, its row never committed) are quarantined after
the grace period with one audit entry; files of live rows and young files are never
touched. On SQLite and PostgreSQL, from the store, the scheduler's retention job and
`gateway messages purge`."""
from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway import cli
from gateway import config as cfg
from gateway.errors import ConfigError
from gateway.model import State
from gateway.operations.scheduler import GatewayJobs
from gateway.store import Store
from gateway.store.orphans import QUARANTINE
from gateway.store.repository import new_id

HOUR = 3600.0
BIG = b"<nachricht>" + b"x" * 4096 + b"</nachricht>"   # over inline_max: stored as a file


def age(path: Path, seconds: float) -> None:
    """Set the file's modification time `seconds` into the past."""
    then = time.time() - seconds
    os.utime(path, (then, then))


async def live_message(store: Store, n: int = 0):
    """A committed message whose payload is a file."""
    sub = await store.submit_outbound(message_uuid=f"uuid-{n}-{new_id()}", message_type="t.a", partner="ags:1",
                                      payload=BIG + str(n).encode(), actor="test", state=State.READY)
    return sub.message


def crashed_write(store: Store, data: bytes) -> Path:
    """What a crash between writing the payload file and committing its row leaves."""
    return store.data_dir / store.files.write(new_id(), data)


async def audit_events(store: Store, event: str) -> list:
    return [e async for e in store.audit_entries() if e.event == event]


@pytest.fixture
async def store(db_url, tmp_path):
    s = await Store.open(db_url, tmp_path / "data", inline_max=1024)
    yield s
    await s.aclose()


async def test_old_orphans_are_quarantined_live_and_young_files_stay(store):
    live = await live_message(store)
    live_file = store.data_dir / store.files.relative(live.id)
    age(live_file, 3 * HOUR)                               # old, but a row points to it
    orphan = crashed_write(store, b"orphan payload")
    age(orphan, 2 * HOUR)
    half = orphan.parent / (new_id() + ".tmp")             # a write cut short before its rename
    half.write_bytes(b"half")
    age(half, 2 * HOUR)
    young = crashed_write(store, b"young orphan")          # its row may still be on its way
    stranger = orphan.parent / "notes.txt"                 # not ours: left alone
    stranger.write_text("x")
    age(stranger, 5 * HOUR)

    report = await store.sweep_orphans(HOUR, actor="test")

    assert sorted(o.file for o in report.orphans) == sorted(
        str(p.relative_to(store.data_dir)) for p in (orphan, half))
    assert report.scanned == 4 and report.bytes == len(b"orphan payload") + 4
    assert not orphan.exists() and not half.exists()
    assert live_file.exists() and young.exists() and stranger.exists()
    assert await store.payload(live.id) == BIG + b"0"
    moved = store.data_dir / QUARANTINE / orphan.parent.name / orphan.name
    assert moved.read_bytes() == b"orphan payload" and report.quarantine == store.data_dir / QUARANTINE
    (entry,) = await audit_events(store, "retention.orphans")
    assert entry.actor == "test" and entry.message_id is None
    assert entry.details["count"] == 2 and entry.details["grace_seconds"] == HOUR
    listed = {f["file"]: f for f in entry.details["files"]}
    assert listed[str(orphan.relative_to(store.data_dir))]["sha256"] == hashlib.sha256(b"orphan payload").hexdigest()
    assert (await store.verify_audit()).broken is None

    again = await store.sweep_orphans(HOUR, actor="test")  # nothing left: no second entry
    assert again.orphans == () and len(await audit_events(store, "retention.orphans")) == 1


async def test_dry_run_reports_without_moving_or_auditing(store):
    orphan = crashed_write(store, b"orphan")
    age(orphan, 2 * HOUR)
    report = await store.sweep_orphans(HOUR, actor="test", dry_run=True)
    assert [o.sha256 for o in report.orphans] == [hashlib.sha256(b"orphan").hexdigest()]
    assert report.quarantine is None and orphan.exists()
    assert await audit_events(store, "retention.orphans") == []


async def test_a_file_left_by_a_purge_cut_short_is_swept(store):
    msg = await live_message(store)
    await store.cancel(msg.id, actor="test")
    path = store.data_dir / store.files.relative(msg.id)
    saved = path.read_bytes()
    assert await store.purge([msg.id], actor="test") == [msg.id]
    path.write_bytes(saved)                    # as if the process died before removing the file
    age(path, 2 * HOUR)
    report = await store.sweep_orphans(HOUR, actor="test")
    assert [o.file for o in report.orphans] == [store.files.relative(msg.id)]


async def test_many_files_are_checked_in_chunks(store):
    lives = [await live_message(store, n) for n in range(3)]
    orphans = [crashed_write(store, f"o{n}".encode()) for n in range(7)]
    for path in [store.data_dir / store.files.relative(m.id) for m in lives] + orphans:
        age(path, 2 * HOUR)
    from gateway.store import orphans as module
    chunk, module.CHUNK = module.CHUNK, 2
    try:
        report = await store.sweep_orphans(HOUR, actor="test")
    finally:
        module.CHUNK = chunk
    assert len(report.orphans) == 7 and report.scanned == 10
    for m in lives:
        assert await store.payload(m.id)


async def test_the_scheduler_retention_job_sweeps_even_without_retention(store, tmp_path):
    config = cfg.from_dict({"gateway": {"data_dir": str(store.data_dir)}}, base_dir=tmp_path)
    orphan = crashed_write(store, b"orphan")
    age(orphan, 2 * HOUR)
    jobs = GatewayJobs(SimpleNamespace(store=store, node="n1"), config)
    assert [j.name for j in jobs.jobs() if j.name == "retention"] == ["retention"]
    result = await jobs.retention()
    assert result == "no [store.retention]; 1 orphan payload file(s) quarantined (6 bytes) of 1 scanned"
    (entry,) = await audit_events(store, "retention.orphans")
    assert entry.actor == "scheduler:n1"


def test_messages_purge_quarantines_orphans(tmp_path, capsys):
    data = tmp_path / "data"
    path = tmp_path / "gateway.toml"
    path.write_text(f'[gateway]\ndata_dir = "data"\n[store]\npayload_inline_max = 1024\norphan_grace = 600\n'
                    '[store.retention]\ncancelled = 1\n')

    async def setup():
        store = await Store.open("", data, inline_max=1024)
        try:
            live = await live_message(store)
            orphan = crashed_write(store, b"orphan")
            age(orphan, 700)
            age(data / store.files.relative(live.id), 700)
            return orphan
        finally:
            await store.aclose()

    orphan = asyncio.run(setup())
    assert cli.main(["--config", str(path), "messages", "purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "0 message(s) would be purged" in out
    assert f"orphan {orphan.relative_to(data)}  6 bytes" in out and "(dry run: nothing moved)" in out
    assert orphan.exists()
    assert cli.main(["--config", str(path), "messages", "purge"]) == 0
    out = capsys.readouterr().out
    assert "purged 0 message(s)" in out
    assert "1 orphan payload file(s) quarantined (6 bytes) of 2 scanned" in out
    assert not orphan.exists() and (data / QUARANTINE / orphan.parent.name / orphan.name).exists()
    assert cli.main(["--config", str(path), "audit", "verify"]) == 0
    assert "audit log ok" in capsys.readouterr().out


@pytest.mark.parametrize("grace", [0, 59.5])
def test_a_grace_below_a_minute_is_refused(tmp_path, grace):
    with pytest.raises(ConfigError, match="orphan_grace: must be >= 60 seconds"):
        cfg.from_dict({"store": {"orphan_grace": grace}}, base_dir=tmp_path)


def test_grace_default_is_an_hour(tmp_path):
    assert cfg.from_dict({}, base_dir=tmp_path).store.orphan_grace == HOUR
