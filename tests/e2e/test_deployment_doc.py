"""docs/deployment.md cannot rot: the shell blocks between its walk-through markers run as
one bash script (two folders instead of two machines; the ports swapped for free ones),
with this checkout's `gateway` first on PATH, and must end with an exchanged, receipted
message."""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployment.md"

pytestmark = pytest.mark.slow


DOC_DB = "postgresql://gateway@127.0.0.1:5432/gateway_office"


def walk_through(name: str = "walk-through") -> str:
    """The sh blocks between the markers `<!-- NAME: begin -->` and `<!-- NAME: end -->`."""
    text = DOC.read_text(encoding="utf-8")
    part = text.split(f"<!-- {name}: begin -->", 1)[1].split(f"<!-- {name}: end -->", 1)[0]
    return "\n".join(re.findall(r"```sh\n(.*?)```", part, flags=re.S))


def run_script(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """The script under bash -e in tmp_path, free ports for the documented ones, this
    checkout's `gateway` first on PATH; background servers are stopped at the end."""
    ports = {p: str(free_port()) for p in ("8481", "8482", "8483")}
    script = re.sub(r"\b(8481|8482|8483)\b", lambda m: ports[m.group(1)], script)
    bin_dir = Path(sys.executable).parent
    (tmp_path / "run.sh").write_text("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n"
                                     + script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") or k.startswith("GATEWAY_TEST")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.Popen(["bash", "run.sh"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)         # the servers the script started, too
        stdout, stderr = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_walk_through_names_every_step():
    script = walk_through()
    for step in ("gateway init", "partners card", "partners add", "config check", "serve",
                 "tokens create", "curl -s --fail-with-body"):
        assert step in script, step


def test_the_walk_through_runs(tmp_path):
    need(shutil.which("curl") is not None, "curl is not installed")
    proc = run_script(walk_through(), tmp_path)
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") or k.startswith("GATEWAY_TEST")}
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "all checks passed" in proc.stderr
    assert '"state": "ready"' in proc.stdout
    portal = subprocess.run([str(bin_dir / "gateway"), "--config", "portal/gateway.toml", "messages", "list",
                             "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    office = subprocess.run([str(bin_dir / "gateway"), "--config", "office/gateway.toml", "messages", "list",
                             "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    sent, = json.loads(portal.stdout)
    received, = json.loads(office.stdout)
    assert (sent["direction"], sent["state"], sent["partner"]) == ("out", "acknowledged", "psw:09162000")
    assert (received["direction"], received["partner"]) == ("in", "ags:09162000")
    assert received["message_uuid"] == sent["message_uuid"]
    assert (tmp_path / "portal" / "partners.toml").exists() and (tmp_path / "office" / "partners" / "ags_09162000"
                                                                  / "signing.cert.pem").exists()


def test_the_postgresql_two_node_steps_run(tmp_path):
    """The walk-through, then its PostgreSQL part on a scratch database: the office moves to
    PostgreSQL with two nodes; a message received by node 1 is listed by node 2 with a
    token created on node 1."""
    need(shutil.which("curl") is not None, "curl is not installed")
    import asyncio

    from tests.integration.conftest import PG_URL, _pg_connect

    async def database(sql: str) -> Exception | None:
        conn = await _pg_connect()
        if isinstance(conn, Exception):
            return conn
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
        return None

    problem = asyncio.run(database("SELECT 1"))
    need(problem is None, f"no PostgreSQL server answers at {PG_URL}: {problem}")
    name = f"gw_doc_{secrets.token_hex(4)}"

    asyncio.run(database(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(PG_URL).set(drivername="postgresql", database=name).render_as_string(hide_password=False)
        steps = walk_through("walk-through postgresql")
        assert DOC_DB in steps
        proc = run_script(walk_through() + "\n" + steps.replace(DOC_DB, url), tmp_path)
    finally:
        asyncio.run(database(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    page = json.loads(proc.stdout.strip().splitlines()[-1])
    (item,) = page["items"]
    assert item["partner"] == "ags:09162000" and item["direction"] == "in"
    assert "database upgraded from revision none (empty)" in proc.stdout
