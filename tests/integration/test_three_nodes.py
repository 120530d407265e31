"""Three `gateway serve` processes on one PostgreSQL database send 1,000 messages submitted
across them through the REST API to a partner gateway (its own process); one sender node
is SIGKILLed midway. Every message reaches the partner exactly once (stored once, none
rejected) and is acknowledged, the killed node's message leases are taken over, and every
one-node job slot ran exactly once (the poll job every second, the certificate check at
start), read from the nodes' JSON logs and the store."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from dropfolder_pair import LETTER, OFFICE, example
from exchange_pair import pair_tables
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapters"))
from gateways import toml  # noqa: E402
from peer_double import free_port  # noqa: E402

COUNT = 1000
TOKEN = "three-nodes-operator-token-0123456789abcdef"
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Node:
    """One `gateway serve` process."""

    def __init__(self, folder: Path, raw: dict, port: int):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data").mkdir(exist_ok=True)
        (folder / "data" / "api-token").write_text(TOKEN + "\n")
        self.folder, self.port = folder, port
        (folder / "gateway.toml").write_text(toml(raw), encoding="utf-8")
        self.log_path = folder / "serve.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(folder / "gateway.toml"),
                                      "serve", "--port", str(port)], cwd=folder, stdout=self.log,
                                     stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()
            try:
                if requests.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.folder.name} not ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def json_lines(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:          # the last line of a killed process may be cut
                    pass
        return out


def query(pg_url: str, sql: str, *args) -> list[tuple]:
    """Rows of one SQL query on the nodes' PostgreSQL database."""
    import asyncpg

    async def run():
        conn = await asyncpg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(
            hide_password=False))
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()
    return asyncio.run(run())


def submit(node: Node, i: int) -> requests.Response:
    return requests.post(f"{node.url}/api/messages", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60,
                         json={"type": LETTER, "to": OFFICE, "record": example(), "client_ref": f"m-{i:04d}"})


def test_three_nodes_one_killed_every_message_once(tmp_path, pg_url):
    pb = free_port()
    raw_a, raw_b = pair_tables(tmp_path, transport="http", endpoint_a="http://127.0.0.1:9/unused",
                               endpoint_b=f"http://127.0.0.1:{pb}")
    raw_b["store"] = {"lease_seconds": 30}
    raw_b["logging"] = {"format": "json"}
    partner = Node(tmp_path / "b", raw_b, pb)
    nodes: list[Node] = []
    try:
        partner.wait_ready()
        source = tmp_path / "source"             # an (empty) shared source folder: the poll job every second
        source.mkdir()
        keys = tmp_path / "a" / "data" / "keys"
        for n in (1, 2, 3):
            raw = json.loads(json.dumps(raw_a))
            raw["gateway"]["node_id"] = f"n{n}"
            raw["store"] = {"url": pg_url, "lease_seconds": 5}
            raw["delivery"].update(timeout=3, connect_timeout=1, drain_interval=0.2, batch=20, max_attempts=50,
                                   backoff_initial=0.2)
            raw["scheduler"] = {"heartbeat_interval": 0.5, "node_timeout": 2, "poll_interval": 1,
                                "retention_time": "", "audit_time": ""}
            raw["folders"] = {"source": {"shared": {"path": str(source)}}}
            raw["logging"] = {"format": "json"}
            folder = tmp_path / f"a{n}"
            (folder / "data").mkdir(parents=True)
            os.symlink(keys, folder / "data" / "keys")
            nodes.append(Node(folder, raw, free_port()))
            nodes[-1].wait_ready()           # one after another: the first migrates the schema

        killed, takeover_ids = nodes[1], set()
        failed: list[int] = []

        def submit_range(numbers, targets):
            for i in numbers:
                node = targets[i % len(targets)]
                try:
                    answer = submit(node, i)
                    assert answer.status_code in (200, 201), answer.text
                except requests.RequestException:
                    failed.append(i)        # the killed node: submitted again elsewhere (same client_ref)

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda part: submit_range(part, nodes), [range(k, COUNT // 2, 6) for k in range(6)]))
            # kill n2 while it holds leases of messages in flight
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                ((held,),) = query(pg_url, "SELECT count(*) FROM messages WHERE state = 'sending' "
                                           "AND claimed_by = 'n2'")
                if held:
                    killed.proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
            killed.proc.wait(timeout=10)
            takeover_ids = {r[0] for r in query(
                pg_url, "SELECT id FROM messages WHERE state = 'sending' AND claimed_by = 'n2'")}
            alive = [nodes[0], nodes[2]]
            list(pool.map(lambda part: submit_range(part, alive), [range(COUNT // 2 + k, COUNT, 6) for k in range(6)]))
            retry = list(failed)
            failed.clear()
            submit_range(retry, alive)
        assert failed == []

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            states = dict(query(pg_url, "SELECT state, count(*) FROM messages WHERE direction = 'out' "
                                        "GROUP BY state"))
            if states.get("acknowledged", 0) == COUNT:
                break
            time.sleep(1)
        assert states == {"acknowledged": COUNT}, states
        time.sleep(2)                                   # a few more poll slots after the kill

        # the partner stored each message exactly once, none rejected
        with sqlite3.connect(tmp_path / "b" / "data" / "gateway.db") as db:
            inbound = db.execute("SELECT message_uuid, state FROM messages WHERE direction = 'in'").fetchall()
        assert len(inbound) == COUNT and len({u for u, _ in inbound}) == COUNT
        assert {s for _, s in inbound} <= {"verified", "delivered", "acknowledged"}
        sent_uuids = {r[0] for r in query(pg_url, "SELECT message_uuid FROM messages WHERE direction = 'out'")}
        ((refs,),) = query(pg_url, "SELECT count(DISTINCT client_ref) FROM messages")
        # the killed node's in-flight messages were taken over by a live node
        assert takeover_ids, "n2 held no lease when it was killed"
        for msg_id in takeover_ids:
            steps = query(pg_url, "SELECT actor, detail, to_state FROM history WHERE message_id = $1 ORDER BY id",
                          msg_id)
            assert any("lease of n2 expired" in detail for _, detail, _ in steps), steps
            assert [actor for actor, _, to in steps if to == "acknowledged"] in (["n1"], ["n3"]), steps
        runs = query(pg_url, "SELECT job, slot, node, attempt, finished_at IS NOT NULL, ok FROM job_runs")
        live = dict(query(pg_url, "SELECT name, stopped_at IS NULL FROM nodes"))
        assert {u for u, _ in inbound} == sent_uuids and refs == COUNT
        assert set(live) == {"n1", "n2", "n3"}

        # every one-node job slot ran (finished) once: in the store and in the logs of all nodes
        assert all(done and ok for _, _, _, _, done, ok in runs), [r for r in runs if not (r[4] and r[5])]
        polls = [r for r in runs if r[0] == "poll"]
        # which node wins a slot is a race (under load one node may win them all): only the count
        # and the exactly-once rule below are properties of the gateway
        assert len(polls) >= 10
        assert [r[0] for r in runs].count("certificates") == 1            # the start-up slot, once for 3 nodes
        finished = Counter()
        for node in nodes:
            for line in node.json_lines():
                if line.get("logger") == "gateway.scheduler" and " finished on " in line["message"]:
                    finished[line["message"].split(" finished on ")[0]] += 1
        assert finished and set(finished.values()) == {1}, [k for k, v in finished.items() if v != 1]
        assert len(finished) == len(runs)
        # a line about a message carries it (JSON logs with contextvars)
        about = [line for node in nodes for line in node.json_lines() if "message_id" in line]
        assert all(line["partner"] == OFFICE and line["message_uuid"] in sent_uuids for line in about)
    finally:
        for node in nodes:
            node.stop()                     # the killed one: only its log is closed
        partner.stop()
