"""Two real `gateway serve` processes for the end-to-end benchmarks, and what /proc says of them.

`pair()` writes the demo's two config tables (gateway.demo.tables: portal and office, each
trusting only the other's certificate, everything else the embedded defaults), development
keys of the chosen kind, and starts both servers on free ports on 127.0.0.1. `cpu_seconds()`
and `peak_rss()` read a process (and its live children) from /proc.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from gateway import demo
from gateway.crypto.devca import write_dev_keys

PG_ADMIN = os.environ.get("GATEWAY_TEST_PG", "postgresql://127.0.0.1:5432/test")
TICK = os.sysconf("SC_CLK_TCK")


def toml(data: dict, prefix: str = "") -> str:
    """A small TOML writer for config tables (strings, numbers, booleans, lists, tables)."""
    lines, tables = [], []
    for key, value in data.items():
        name = key if key.replace("_", "").isalnum() else json.dumps(key)
        if isinstance(value, dict):
            tables.append((f"{prefix}.{name}" if prefix else name, value))
        else:
            lines.append(f"{name} = {json.dumps(value, ensure_ascii=False)}")
    out = "\n".join(lines) + "\n"
    for name, table in tables:
        out += f"\n[{name}]\n" + toml(table, name)
    return out


class Serve:
    """One `gateway serve` subprocess with its config folder."""

    def __init__(self, folder: Path, raw: dict):
        self.folder = folder
        self.config = folder / "gateway.toml"
        self.config.write_text(toml(raw), encoding="utf-8")
        self.log_path = folder / "serve.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(self.config), "serve"],
                                     cwd=folder, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.pid = self.proc.pid
        url_file = folder / "data" / "server.url"
        deadline = time.monotonic() + 90
        while not (url_file.exists() and url_file.read_text().strip().startswith("http")):  # written, not only made
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gateway serve did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        self.url = url_file.read_text().strip()
        self.token = (folder / "data" / "api-token").read_text().strip()

    def stop(self) -> int:
        """SIGTERM (graceful shutdown), then wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, its live children and its waited-for children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = sum(int(v) for v in fields[11:15]) / TICK     # utime stime cutime cstime
    return own + sum(cpu_seconds(child) for child in _children(pid))


def peak_rss(pid: int) -> int:
    """Peak resident set size (VmHWM) in bytes of a process; the largest of its live children
    when one of those is larger."""
    def hwm(p: int) -> int:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0
    return max([hwm(pid)] + [hwm(c) for c in _children(pid)])


async def _pg(sql: str) -> None:
    import asyncpg
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_url(name: str) -> str:
    """The URL of database `name` on the benchmark's PostgreSQL server."""
    from sqlalchemy.engine import make_url
    return make_url(PG_ADMIN).set(drivername="postgresql", database=name).render_as_string(hide_password=False)


@contextmanager
def pair(folder: Path, *, transport: str = "http", store: str = "sqlite",
         key: str = "ecdsa") -> Iterator[tuple[Serve, Serve]]:
    """The portal (sender) and the office (receiver) as two running `gateway serve` processes."""
    import asyncio
    folder.mkdir(parents=True, exist_ok=True)
    ports = (demo.free_port(), demo.free_port())
    portal_raw, office_raw = demo.tables(folder, transport, ports)
    databases = []
    now = datetime.now(timezone.utc)
    for sub, raw in (("portal", portal_raw), ("office", office_raw)):
        raw.pop("delivery", None)            # the embedded defaults, as a user starts it
        keys = folder / sub / "data" / "keys"
        keys.mkdir(parents=True, exist_ok=True)
        write_dev_keys(keys, kind=key, authority_id=raw["gateway"]["authority_id"],
                       authority_name=raw["gateway"]["authority_name"], now=now)
        if store == "postgresql":
            name = f"bench_{sub}_{secrets.token_hex(4)}"
            asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
            databases.append(name)
            raw["store"] = {"url": pg_url(name)}
    started: list[Serve] = []
    try:
        for sub, raw in (("portal", portal_raw), ("office", office_raw)):
            started.append(Serve(folder / sub, raw))
        yield started[0], started[1]
    finally:
        for serve in started:
            serve.stop()
        for name in databases:
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
