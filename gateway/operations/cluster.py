"""This node among the others on one store: heartbeats, and jobs that run on one node per slot.

Every `gateway serve` registers its node in the store's `nodes` table and refreshes its
heartbeat every `[scheduler] heartbeat_interval` seconds; `gateway nodes`, `gateway status`,
GET /api/nodes and the metrics list the nodes whose heartbeat is younger than
`[scheduler] node_timeout`.

The jobs in `ONE_NODE_JOBS` must not run twice per slot (a slot: a daily job's day at its
time, an interval job's interval since 1970). Before a scheduled run the node claims the
slot (a row in `job_runs`, see gateway.store.nodes); a node that finds it claimed skips it.
The runner's claim is a lease of `node_timeout` seconds renewed with every heartbeat; when
the runner dies, every other node's heartbeat sees the lease run out and one of them runs
the slot (taken over). A restarted node frees its own unfinished slots at start.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Sequence

from ..store import nodes as store_nodes

log = logging.getLogger("gateway.cluster")

# Jobs that run on one node per slot. The others (outbox, folders, inbound, receipts) are
# safe on every node at once: their work is claimed per message or per file.
ONE_NODE_JOBS = frozenset({"retention", "certificates", "audit", "sanitizer", "poll"})

PRUNE_EVERY = timedelta(hours=1)
KEEP_RUNS = timedelta(days=7)


def version() -> str:
    """This gateway's version."""
    from .. import __version__
    return __version__


class Cluster:
    """A node's membership: heartbeat loop, slot claims and takeovers of dead nodes' slots."""

    def __init__(self, store, node: str, *, heartbeat_interval: float = 10.0, node_timeout: float = 30.0,
                 clock: Callable[[], datetime]):
        self.store = store
        self.node = node
        self.interval = heartbeat_interval
        self.timeout = node_timeout
        self.clock = clock
        self.take_over: Callable[[str, str], Awaitable[None]] | None = None   # set by the scheduler
        self.jobs: Sequence[str] = ()                                           # the node's one-node jobs
        self.beats = 0
        self.last_beat: datetime | None = None
        self._task: asyncio.Task | None = None
        self._pruned: datetime | None = None

    @classmethod
    def from_config(cls, store, node: str, config, clock) -> "Cluster":
        """The cluster membership a gateway.config.Config describes ([scheduler])."""
        sec = config.scheduler
        return cls(store, node, heartbeat_interval=sec.heartbeat_interval, node_timeout=sec.node_timeout,
                   clock=clock)

    async def start(self) -> None:
        """Register this node (freeing slots a previous process of it left) and start beating."""
        now = self.clock()
        freed = await store_nodes.release_own(self.store, self.node, now=now)
        if freed:
            log.warning("node %s: %d job slot(s) of a previous process freed for takeover", self.node, freed)
        await store_nodes.heartbeat(self.store, self.node, now=now, host=socket.gethostname(), pid=os.getpid(),
                                    version=version(), starting=True)
        self.last_beat = now
        self._task = asyncio.create_task(self._loop(), name=f"heartbeat-{self.node}")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a store hiccup must not end the heartbeat
                log.warning("heartbeat of node %s failed: %s", self.node, exc)

    async def beat(self) -> None:
        """One heartbeat: refresh this node, renew its slots' leases, take over dead nodes' slots."""
        now = self.clock()
        await store_nodes.heartbeat(self.store, self.node, now=now)
        await store_nodes.renew(self.store, self.node, now=now, lease_seconds=self.timeout)
        self.beats, self.last_beat = self.beats + 1, now
        if self.take_over is not None and self.jobs:
            for run in await store_nodes.orphaned(self.store, now=now, jobs=self.jobs):
                log.warning("job %s slot %s: node %s stopped beating; taking over", run.job, run.slot, run.node)
                await self.take_over(run.job, run.slot)
        if self._pruned is None or now - self._pruned >= PRUNE_EVERY:
            self._pruned = now
            await store_nodes.prune(self.store, before=now - KEEP_RUNS)

    async def claim(self, job: str, slot: str) -> store_nodes.Claim:
        """Claim `job`'s run for `slot` (see gateway.store.nodes.claim_slot)."""
        return await store_nodes.claim_slot(self.store, job, slot, self.node, now=self.clock(),
                                            lease_seconds=self.timeout)

    async def finish(self, job: str, slot: str, *, ok: bool, detail: str) -> bool:
        """Mark this node's run of the slot done."""
        return await store_nodes.finish_slot(self.store, job, slot, self.node, now=self.clock(), ok=ok,
                                             detail=detail)

    async def aclose(self) -> None:
        """Stop beating and record the clean shutdown."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            try:
                await store_nodes.stopped(self.store, self.node, now=self.clock())
            except Exception as exc:  # noqa: BLE001 - shutting down; the heartbeat just ages
                log.warning("cannot record the shutdown of node %s: %s", self.node, exc)

    @property
    def running(self) -> bool:
        """True while the heartbeat loop runs."""
        return self._task is not None and not self._task.done()


def slot_of(every: float | None, daily: str, now: datetime) -> str:
    """The slot `now` falls in: an interval job's interval since 1970, a daily job's latest
    time of day at or before `now` (a node that starts after 03:30 runs the 03:30 slot of
    today unless another node did)."""
    if every:
        start = int(now.timestamp() // every * every)
        return datetime.fromtimestamp(start, now.tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ")
    hour, minute = (int(x) for x in daily.split(":"))
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at > now:
        at -= timedelta(days=1)
    return at.strftime("%Y-%m-%dT%H:%MZ")
