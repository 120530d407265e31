"""Readiness of a node: can it take work now? (GET /ready; /health only says the process is up.)

Checks, each with a reason when it fails:
- store: a write transaction commits (this node's heartbeat row), so a store that is down,
  read-only, locked or out of space is noticed;
- disk: a file can be written and synced in data_dir (payload files go there) and at least
  `[store] min_free_mb` MiB are free;
- keys: an own signing key is valid now;
- schemas: the message types are compiled;
- scheduler: running (unless `[scheduler] enabled = false`) and the heartbeat is recent.
"""
from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from ..store import nodes as store_nodes

STORE_TIMEOUT = 5.0          # seconds the store's write may take before the node is not ready


async def readiness(gw, *, scheduler=None, cluster=None) -> dict:
    """{"status": "ready"|"not ready", "node", "checks": {name: "ok"|reason}, "reasons": [...]}."""
    config, now = gw.config, gw.clock()
    checks: dict[str, str] = {"store": await _store_writable(gw, now)}
    checks["disk"] = await asyncio.to_thread(_disk, config.data_dir, config.store.min_free_mb)
    try:
        gw.signer.keyring.current(now)
        checks["keys"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["keys"] = f"no signing key valid now: {_brief(exc)}"
    checks["schemas"] = "ok" if gw.registry.types() else "no message types compiled"
    if not config.scheduler.enabled:
        checks["scheduler"] = "ok"          # this node serves requests only
    elif scheduler is None or not scheduler.running:
        checks["scheduler"] = "scheduler not running"
    else:
        checks["scheduler"] = "ok"
    if cluster is not None and cluster.last_beat is not None:
        age = (now - cluster.last_beat).total_seconds()
        if age > cluster.timeout:
            checks["heartbeat"] = f"last heartbeat {age:.0f}s ago (node_timeout {cluster.timeout:g}s)"
        else:
            checks["heartbeat"] = "ok"
    reasons = [v for v in checks.values() if v != "ok"]
    return {"status": "not ready" if reasons else "ready", "node": gw.node, "checks": checks, "reasons": reasons}


_probes: dict[int, asyncio.Task] = {}


async def _store_writable(gw, now) -> str:
    """'ok' when this node's heartbeat row commits within STORE_TIMEOUT. A write that hangs
    (a lock held elsewhere, a server that does not answer) is left to finish in the
    background and not started again while it hangs: probes never pile up."""
    key = id(gw.store)
    task = _probes.get(key)
    if task is None or task.done():
        task = _probes[key] = asyncio.ensure_future(store_nodes.heartbeat(gw.store, gw.node, now=now))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
    done, _ = await asyncio.wait({task}, timeout=STORE_TIMEOUT)
    if not done:
        return f"store not writable: no write within {STORE_TIMEOUT:g}s (locked or unreachable)"
    _probes.pop(key, None)
    exc = task.exception()
    return "ok" if exc is None else f"store not writable: {_brief(exc)}"


def _disk(folder: Path, min_free_mb: int) -> str:
    probe = folder / f".ready-{os.getpid()}.tmp"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
        free = shutil.disk_usage(folder).free // (1024 * 1024)
    except OSError as exc:
        return f"cannot write to {folder}: {exc.strerror or exc}"
    if free < min_free_mb:
        return f"{folder}: only {free} MiB free (below [store] min_free_mb = {min_free_mb})"
    return "ok"


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
