"""Running real `gateway serve` processes for the e2e tests: config files, start, stop."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

GATEWAY = [sys.executable, "-m", "gateway"]


def toml(data: dict, prefix: str = "") -> str:
    """A small TOML writer for config tables (strings, numbers, booleans, lists, tables)."""
    lines, tables = [], []
    for key, value in data.items():
        name = json.dumps(key) if not key.replace("_", "").isalnum() else key
        if isinstance(value, dict):
            tables.append((f"{prefix}.{name}" if prefix else name, value))
        else:
            lines.append(f"{name} = {json.dumps(value, ensure_ascii=False)}")
    out = "\n".join(lines) + "\n"
    for name, table in tables:
        out += f"\n[{name}]\n" + toml(table, name)
    return out


class Process:
    """One `gateway serve` subprocess with its config folder."""

    def __init__(self, folder: Path, raw: dict, port: int):
        self.folder = folder
        self.config = folder / "gateway.toml"
        self.config.write_text(toml(raw), encoding="utf-8")
        self.port = port
        self.log = open(folder / "serve.log", "wb")
        self.proc = subprocess.Popen([*GATEWAY, "--config", str(self.config), "serve", "--port", str(port)],
                                     cwd=folder, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        url_file = folder / "data" / "server.url"
        deadline = time.monotonic() + 60
        while not url_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gateway did not start:\n{(folder / 'serve.log').read_text()}")
            time.sleep(0.1)
        self.url = url_file.read_text().strip()
        self.token = (folder / "data" / "api-token").read_text().strip()

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run `gateway --config <this> ARGS` and return the finished process."""
        return subprocess.run([*GATEWAY, "--config", str(self.config), *args], cwd=self.folder,
                              capture_output=True, text=True, timeout=timeout)

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
