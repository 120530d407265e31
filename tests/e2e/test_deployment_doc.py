"""docs/deployment.md cannot rot: the shell blocks between its walk-through markers run as
one bash script (two folders instead of two machines; the ports swapped for free ones),
with this checkout's `gateway` first on PATH, and must end with an exchanged, receipted
message."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployment.md"

pytestmark = pytest.mark.slow


def walk_through() -> str:
    """The sh blocks between the markers, in order."""
    text = DOC.read_text(encoding="utf-8")
    part = text.split("<!-- walk-through: begin -->", 1)[1].split("<!-- walk-through: end -->", 1)[0]
    return "\n".join(re.findall(r"```sh\n(.*?)```", part, flags=re.S))


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
    ports = {"8481": str(free_port()), "8482": str(free_port())}
    script = re.sub(r"\b(8481|8482)\b", lambda m: ports[m.group(1)], walk_through())
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
    proc = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
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
