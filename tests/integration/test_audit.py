"""The audit log in the database: tampering is found, exports verify, appends from several
nodes at once stay one chain (PostgreSQL)."""
from __future__ import annotations

import asyncio
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from gateway.cli import main as cli
from gateway.model import State
from gateway.store import Store
from gateway.store.audit import verify_export


async def _filled(url, data_dir, n=6) -> Store:
    store = await Store.open(url, data_dir)
    for i in range(n):
        res = await store.submit_outbound(message_uuid=f"a{i}", message_type="t", partner="p",
                                          payload=b"<a/>", actor="test")
        await store.transition(res.message.id, State.READY, actor="signer")
    return store


@pytest.mark.parametrize("sql,seq,reason", [
    ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4", 4, "altered"),
    ("UPDATE audit_log SET details = '{}' WHERE seq = 7", 7, "altered"),
    ("DELETE FROM audit_log WHERE seq = 5", 5, "missing"),
    ("UPDATE audit_log SET prev_hash = hash WHERE seq = 9", 9, "prev_hash"),
])
async def test_tampering_in_the_database_is_reported(store_url, tmp_path, sql, seq, reason):
    store = await _filled(store_url, tmp_path)
    try:
        assert (await store.verify_audit()).broken is None
        async with store._writer.begin() as conn:
            await conn.execute(text(sql))
        report = await store.verify_audit()
        assert report.broken is not None and report.broken.seq == seq
        assert reason in report.broken.reason and report.count == seq - 1
    finally:
        await store.aclose()


async def test_concurrent_appends_from_several_nodes_make_one_chain(migrated_pg_url, tmp_path):
    stores = [await Store.open(migrated_pg_url, tmp_path) for n in range(4)]
    try:
        await asyncio.gather(*[s.audit("config.changed", actor=f"node-{k}", details={"n": i})
                               for i in range(25) for k, s in enumerate(stores)])
        report = await stores[0].verify_audit()
        assert report.broken is None and report.count == 100
    finally:
        for s in stores:
            await s.aclose()


async def test_export_range_and_verify(store_url, tmp_path):
    clock_now = [datetime(2026, 5, 1, tzinfo=timezone.utc)]
    store = await Store.open(store_url, tmp_path, clock=lambda: clock_now[0])
    try:
        for day in range(4):
            await store.audit("config.changed", actor="op", details={"day": day})
            clock_now[0] += timedelta(days=1)
        manifest = await store.export_audit(tmp_path / "a.zip",
                                            since=datetime(2026, 5, 2, tzinfo=timezone.utc),
                                            until=datetime(2026, 5, 4, tzinfo=timezone.utc))
        assert (manifest["count"], manifest["first_seq"], manifest["last_seq"]) == (2, 2, 3)
        checked, broken = verify_export(tmp_path / "a.zip")
        assert broken is None and checked["last_hash"] == manifest["last_hash"]
        # an edited export fails
        with zipfile.ZipFile(tmp_path / "a.zip") as zf:
            lines = zf.read("audit.jsonl").decode().splitlines()
            meta = zf.read("manifest.json")
        row = json.loads(lines[1])
        row["details"] = {"day": 99}
        lines[1] = json.dumps(row)
        body = ("\n".join(lines) + "\n").encode()
        import hashlib
        fixed = json.loads(meta)
        fixed["files"]["audit.jsonl"] = hashlib.sha256(body).hexdigest()  # even with a fixed digest
        with zipfile.ZipFile(tmp_path / "b.zip", "w") as zf:
            zf.writestr("audit.jsonl", body)
            zf.writestr("manifest.json", json.dumps(fixed))
        _, broken = verify_export(tmp_path / "b.zip")
        assert broken is not None and broken.seq == 3
    finally:
        await store.aclose()


def _config(tmp_path) -> str:
    path = tmp_path / "gateway.toml"
    path.write_text('[gateway]\ndata_dir = "data"\n')
    return str(path)


def test_cli_verify_and_export(tmp_path, capsys):
    cfg = _config(tmp_path)

    async def fill():
        store = await _filled("", tmp_path / "data", n=3)
        await store.aclose()

    asyncio.run(fill())
    assert cli(["--config", cfg, "audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "audit log ok: 6 entries" in out
    head = out.split("hash ")[-1].strip()
    assert cli(["--config", cfg, "audit", "verify", "--expect-head", head]) == 0
    assert cli(["--config", cfg, "audit", "verify", "--expect-head", "f" * 64]) == 1
    assert "not in it" in capsys.readouterr().out
    export = tmp_path / "out" / "audit.zip"
    assert cli(["--config", cfg, "audit", "export", "--from", "2000-01-01", "--to", "1d",
                str(export)]) == 0
    assert "0 entries" in capsys.readouterr().out          # everything is younger than 1 day
    assert cli(["--config", cfg, "audit", "export", "--from", "2000-01-01", str(export)]) == 0
    assert "6 entries (seq 1..6)" in capsys.readouterr().out
    assert cli(["--config", cfg, "audit", "verify", "--export", str(export)]) == 0
    assert "chain ok" in capsys.readouterr().out

    async def tamper():
        store = await Store.open("", tmp_path / "data")
        async with store._writer.begin() as conn:
            await conn.execute(text("UPDATE audit_log SET event = 'x' WHERE seq = 2"))
        await store.aclose()

    asyncio.run(tamper())
    assert cli(["--config", cfg, "audit", "verify"]) == 1
    assert "BROKEN at entry 2" in capsys.readouterr().out
