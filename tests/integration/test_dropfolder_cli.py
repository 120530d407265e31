"""`gateway folders list|scan|deliver` and `gateway jobs [run]` against a real config file,
real folders and a real SQLite store (in-process CLI, exit codes and output)."""
from __future__ import annotations

import json

import pytest
from dropfolder_pair import LETTER, OFFICE, example
from exchange_pair import make_keys

from gateway.cli import main


@pytest.fixture
def config_file(tmp_path):
    """A portal gateway with one outbound and one inbound folder; the partner is memory://."""
    other = tmp_path / "office"
    other.mkdir()
    cert = make_keys(other, OFFICE, "Standesamt")
    (tmp_path / "out").mkdir()
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[gateway]
data_dir = "data"
authority_id = "ags:09162000"
authority_name = "Bürgerportal"
node_id = "cli-node"

[partners."{OFFICE}"]
name = "Standesamt"
endpoints = ["memory://nobody"]
transport = "memory"
accepts = ["*"]
[partners."{OFFICE}".trust]
certificates = ["{cert}"]

[folders.outbound.portal]
path = "out"
type = "{LETTER}"
partner = "{OFFICE}"

[folders.inbound.registry]
path = "inbox"
record_json = true

[store.retention]
acknowledged = 30
""", encoding="utf-8")
    return path


def run(config_file, *argv) -> int:
    return main(["--config", str(config_file), *argv])


def test_folders_list(config_file, capsys):
    assert run(config_file, "folders", "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["name"]) for r in rows] == [("outbound", "portal"), ("inbound", "registry")]
    assert rows[0]["path"] == str(config_file.parent / "out") and rows[0]["backend"] == "folder:portal"


def test_folders_scan_prints_each_file_and_fails_on_a_bad_one(config_file, capsys):
    out = config_file.parent / "out"
    (out / "good.json").write_text(json.dumps(example()))
    assert run(config_file, "folders", "scan") == 0
    line = capsys.readouterr().out.strip()
    name, status, msg_id, uuid = line.split("\t")
    assert (name, status) == ("portal/good.json", "submitted") and len(msg_id) == 32
    (out / "bad.json").write_text(json.dumps({"record": {"betreff": 5}}))
    assert run(config_file, "folders", "scan", "--folder", "portal") == 1
    assert "portal/bad.json\tfailed" in capsys.readouterr().out
    assert (out / "failed" / "bad.json.error.txt").exists()
    assert run(config_file, "folders", "scan", "--folder", "nope") == 2
    assert "no outbound folder 'nope' (configured: portal)" in capsys.readouterr().err


def test_folders_deliver_with_nothing_received(config_file, capsys):
    assert run(config_file, "folders", "deliver") == 0
    assert capsys.readouterr().out.strip() == "0 message(s) written"


def test_jobs_list_and_run(config_file, capsys):
    assert run(config_file, "jobs", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [j["name"] for j in listed["jobs"]] == ["outbox", "folders", "inbound", "sanitizer", "retention", "audit", "certificates"]
    assert listed["node"] == "cli-node" and listed["running"] is False
    (config_file.parent / "out" / "brief.json").write_text(json.dumps(example()))
    assert run(config_file, "jobs", "run", "folders") == 0
    assert capsys.readouterr().out.strip() == "folders: submitted=1"
    assert run(config_file, "jobs", "run", "outbox") == 0             # nobody listens: retry later
    assert capsys.readouterr().out.strip() == "outbox: 1"
    assert run(config_file, "jobs", "run", "poll") == 2
    assert "no job 'poll'" in capsys.readouterr().err
    assert run(config_file, "jobs") == 0
    table = capsys.readouterr()
    assert "folders" in table.out and "every 5s" in table.out and "is not running" in table.err
