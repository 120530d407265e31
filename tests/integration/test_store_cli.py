"""`gateway messages ...` and `gateway db ...` against a real SQLite store."""
from __future__ import annotations

import asyncio
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from gateway.cli import main as cli
from gateway.model import NewReceipt, State
from gateway.store import Store


@pytest.fixture
def setup(tmp_path):
    """A config file and a store with: one dead, one acknowledged (old), one inbound."""
    cfg = tmp_path / "gateway.toml"
    cfg.write_text('[gateway]\ndata_dir = "data"\n[store]\narchive_dir = "arch"\n'
                   '[store.retention]\nacknowledged = 30\n')
    old = datetime.now(timezone.utc) - timedelta(days=40)

    async def fill():
        store = await Store.open("", tmp_path / "data", clock=lambda: old)
        dead = (await store.submit_outbound(message_uuid="u1", message_type="t.a",
                                            partner="ags:1", payload=b"<a/>", actor="api",
                                            state=State.READY)).message
        await store.claim_due("n1")
        await store.transition(dead.id, State.DEAD, actor="n1", last_error="gave up")
        done = (await store.submit_outbound(message_uuid="u2", message_type="t.b",
                                            partner="ags:2", payload=b"<b/>", actor="api",
                                            state=State.READY)).message
        await store.claim_due("n1")
        await store.transition(done.id, State.ACKNOWLEDGED, actor="n1",
                               receipt=NewReceipt(b"<r/>", True))
        await store.aclose()
        store = await Store.open("", tmp_path / "data")
        inbound = (await store.record_inbound(message_uuid="i1", message_type="t.c",
                                              partner="ags:3", payload=b"<c/>",
                                              actor="server")).message
        await store.aclose()
        return dead.id, done.id, inbound.id

    return str(cfg), *asyncio.run(fill())


def test_list_with_filters(setup, capsys):
    cfg, dead, done, inbound = setup
    assert cli(["--config", cfg, "messages", "list"]) == 0
    out = capsys.readouterr().out
    assert all(i in out for i in (dead, done, inbound)) and "(3 messages)" in out
    assert cli(["--config", cfg, "messages", "list", "--state", "dead", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [dead] and rows[0]["last_error"] == "gave up"
    assert cli(["--config", cfg, "messages", "list", "--partner", "ags:2", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [done]
    assert cli(["--config", cfg, "messages", "list", "--type", "t.c", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [inbound]
    assert cli(["--config", cfg, "messages", "list", "--since", "1d", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [inbound]
    assert cli(["--config", cfg, "messages", "list", "--since", "soon"]) == 2


def test_show_prints_metadata_timeline_and_receipts(setup, capsys):
    cfg, dead, done, _ = setup
    assert cli(["--config", cfg, "messages", "show", done]) == 0
    out = capsys.readouterr().out
    assert "ready -> sending" in out and "sending -> acknowledged" in out
    assert "receipt positive" in out and "ags:2" in out
    assert cli(["--config", cfg, "messages", "show", done, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["to"] for t in data["timeline"]] == ["ready", "sending", "acknowledged"]
    assert data["receipts"][0]["positive"] is True
    assert cli(["--config", cfg, "messages", "show", "nope"]) == 1
    assert "not found" in capsys.readouterr().err


def test_retry_and_cancel(setup, capsys):
    cfg, dead, done, inbound = setup
    assert cli(["--config", cfg, "messages", "retry", dead, "--reason", "partner fixed"]) == 0
    assert "ready" in capsys.readouterr().out
    assert cli(["--config", cfg, "messages", "retry", done]) == 1
    assert "can be retried" in capsys.readouterr().err
    assert cli(["--config", cfg, "messages", "cancel", dead]) == 0
    assert cli(["--config", cfg, "messages", "cancel", inbound]) == 1
    assert "can be cancelled" in capsys.readouterr().err
    assert cli(["--config", cfg, "messages", "show", dead, "--json"]) == 0
    timeline = json.loads(capsys.readouterr().out)["timeline"]
    assert timeline[-2]["detail"] == "partner fixed" and timeline[-2]["actor"].startswith("cli")
    assert timeline[-1]["to"] == "cancelled"


def test_purge_archives_first(setup, tmp_path, capsys):
    cfg, dead, done, inbound = setup
    assert cli(["--config", cfg, "messages", "purge", "--dry-run"]) == 0
    assert "1 message(s) would be purged" in capsys.readouterr().out
    assert cli(["--config", cfg, "messages", "purge"]) == 0
    out = capsys.readouterr().out
    assert "purged 1 message(s)" in out
    (arc,) = (tmp_path / "arch").glob("*.zip")
    with zipfile.ZipFile(arc) as zf:
        assert zf.read(f"messages/{done}/message.xml") == b"<b/>"
    assert cli(["--config", cfg, "messages", "show", done]) == 1
    assert cli(["--config", cfg, "audit", "verify"]) == 0


def test_db_upgrade_and_current(tmp_path, capsys):
    cfg = tmp_path / "gateway.toml"
    cfg.write_text('[gateway]\ndata_dir = "d"\n')
    assert cli(["--config", str(cfg), "db", "current"]) == 0
    assert "none (empty)" in capsys.readouterr().out
    assert cli(["--config", str(cfg), "db", "upgrade"]) == 0
    assert "upgraded from revision none" in capsys.readouterr().out
    assert cli(["--config", str(cfg), "db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (tmp_path / "d" / "gateway.db").exists()


def test_bad_store_url_is_a_config_error(tmp_path, capsys):
    cfg = tmp_path / "gateway.toml"
    cfg.write_text('[store]\nurl = "mysql://x/y"\n')
    assert cli(["--config", str(cfg), "messages", "list"]) == 2
    assert "only sqlite and postgresql" in capsys.readouterr().err
