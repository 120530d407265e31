"""Several nodes on one store: heartbeats and live nodes, one run per job and slot, takeover
of a dead node's slot, and the scheduler using both (SQLite and PostgreSQL; injected clock)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from gateway.operations.cluster import ONE_NODE_JOBS, Cluster, slot_of
from gateway.operations.scheduler import Job, Scheduler
from gateway.store import Store
from gateway.store import nodes as store_nodes

T0 = datetime(2026, 12, 5, 10, 0, 0, tzinfo=timezone.utc)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def stores(db_url, tmp_path):
    """Three Store objects (three nodes' engines) on one database."""
    opened = [await Store.open(db_url, tmp_path)]
    opened += [await Store.open(db_url, tmp_path, upgrade=False) for _ in range(2)]
    yield opened
    for store in opened:
        await store.aclose()


async def test_heartbeats_tell_live_stopped_and_gone_nodes(stores):
    store = stores[0]
    for name in ("a", "b", "c"):
        await store_nodes.heartbeat(store, name, now=T0, host="h", pid=1, version="0.1.0", starting=True)
    await store_nodes.heartbeat(store, "a", now=T0 + timedelta(seconds=40))
    await store_nodes.stopped(store, "b", now=T0 + timedelta(seconds=5))
    rows = await store_nodes.list_nodes(stores[1], now=T0 + timedelta(seconds=45), live_within=30)
    assert [(r.name, r.live) for r in rows] == [("a", True), ("b", False), ("c", False)]
    assert rows[1].stopped_at == T0 + timedelta(seconds=5)
    assert rows[0].started_at == T0 and rows[0].heartbeat_at == T0 + timedelta(seconds=40)
    await store_nodes.heartbeat(store, "b", now=T0 + timedelta(seconds=50), host="h2", pid=2, version="x",
                                starting=True)
    (b,) = [r for r in await store_nodes.list_nodes(store, now=T0 + timedelta(seconds=50), live_within=30)
            if r.name == "b"]
    assert b.live and b.pid == 2 and b.started_at == T0 + timedelta(seconds=50) and b.stopped_at is None


async def test_a_slot_runs_once_and_is_taken_over_when_its_runner_dies(stores):
    a, b, c = stores
    first = await store_nodes.claim_slot(a, "retention", "2026-12-05T03:30Z", "node-a", now=T0, lease_seconds=30)
    assert first.claimed and first.run.attempt == 1
    for store, node in ((b, "node-b"), (c, "node-c")):
        other = await store_nodes.claim_slot(store, "retention", "2026-12-05T03:30Z", node,
                                             now=T0 + timedelta(seconds=10), lease_seconds=30)
        assert not other.claimed and other.run.node == "node-a"
    # node-a renews while it runs, then dies: nobody renews after T0+20
    assert await store_nodes.renew(a, "node-a", now=T0 + timedelta(seconds=20), lease_seconds=30) == 1
    later = T0 + timedelta(seconds=45)
    assert not (await store_nodes.claim_slot(b, "retention", "2026-12-05T03:30Z", "node-b", now=later,
                                             lease_seconds=30)).claimed
    assert await store_nodes.orphaned(c, now=later, jobs=["retention"]) == []
    dead = T0 + timedelta(seconds=51)
    (orphan,) = await store_nodes.orphaned(c, now=dead, jobs=["retention", "poll"])
    assert orphan.node == "node-a" and orphan.slot == "2026-12-05T03:30Z"
    taken = await store_nodes.claim_slot(c, "retention", "2026-12-05T03:30Z", "node-c", now=dead, lease_seconds=30)
    assert taken.claimed and taken.run.attempt == 2 and "taken over from node-a" in taken.run.detail
    # the dead node's late end does not count; the taker's does, once
    assert not await store_nodes.finish_slot(a, "retention", "2026-12-05T03:30Z", "node-a", now=dead, ok=True)
    assert await store_nodes.finish_slot(c, "retention", "2026-12-05T03:30Z", "node-c", now=dead, ok=True,
                                         detail="purged 3")
    assert not await store_nodes.finish_slot(c, "retention", "2026-12-05T03:30Z", "node-c", now=dead, ok=True)
    much_later = dead + timedelta(days=1)
    assert not (await store_nodes.claim_slot(a, "retention", "2026-12-05T03:30Z", "node-a", now=much_later,
                                             lease_seconds=30)).claimed
    last = (await store_nodes.last_runs(b, ["retention"]))["retention"]
    assert (last.node, last.ok, last.attempt, last.detail) == ("node-c", True, 2, "purged 3")


async def test_racing_nodes_claim_each_slot_exactly_once(stores):
    """Three nodes race for 30 slots at once: each slot has one runner."""
    async def node(store, name):
        won = []
        for i in range(30):
            claim = await store_nodes.claim_slot(store, "poll", f"slot-{i:02d}", name, now=T0, lease_seconds=30)
            if claim.claimed:
                won.append(i)
        return won

    results = await asyncio.gather(*(node(s, f"n{i}") for i, s in enumerate(stores)))
    assert sorted(i for won in results for i in won) == list(range(30))
    assert len(await store_nodes.runs(stores[0], "poll", limit=100)) == 30


async def test_a_restarted_node_frees_its_own_unfinished_slots(stores):
    store = stores[0]
    await store_nodes.claim_slot(store, "certificates", "s1", "node-a", now=T0, lease_seconds=300)
    clock = Clock(T0 + timedelta(seconds=5))
    cluster = Cluster(store, "node-a", heartbeat_interval=100, node_timeout=300, clock=clock)
    await cluster.start()
    try:
        (orphan,) = await store_nodes.orphaned(store, now=clock() + timedelta(seconds=1), jobs=["certificates"])
        assert orphan.node == "node-a"
    finally:
        await cluster.aclose()
    (row,) = await store_nodes.list_nodes(store, now=clock(), live_within=300)
    assert row.name == "node-a" and not row.live and row.stopped_at == clock()


async def test_schedulers_on_two_nodes_run_a_one_node_job_once_per_slot_and_take_over(stores):
    """Two nodes' schedulers fire the same slot: one runs it. The runner dies mid-run: the
    other's heartbeat takes the slot over and runs it; the slot ends finished once."""
    clock = Clock()
    ran: list[str] = []
    hold = asyncio.Event()

    def sched_for(store, name):
        async def certificates():
            ran.append(name)
            if name == "a":
                await hold.wait()           # node a "dies" while this runs
            return f"checked on {name}"
        cluster = Cluster(store, name, heartbeat_interval=10, node_timeout=30, clock=clock)
        sched = Scheduler([Job("certificates", certificates, daily="06:00"),
                           Job("outbox", lambda: asyncio.sleep(0), every=5)], node=name, clock=clock,
                          cluster=cluster)
        return sched, cluster

    (sa, ca), (sb, cb) = sched_for(stores[0], "a"), sched_for(stores[1], "b")
    for c in (ca, cb):
        await c.start()
    sb.cluster.jobs, sb.cluster.take_over = ["certificates"], sb._take_over   # as Scheduler.start does
    run_a = asyncio.create_task(sa._runner("certificates")())
    await asyncio.sleep(0.2)
    await sb._runner("certificates")()
    assert ran == ["a"] and sb.status()[0]["skipped"] == 1
    slot = slot_of(None, "06:00", clock())
    # b's heartbeats while a is alive: nothing to take over
    clock.advance(10)
    await ca.beat()
    await cb.beat()
    assert ran == ["a"]
    # a dies (its task ends without finishing; its heartbeat stops); b takes over after 30 s
    run_a.cancel()
    await asyncio.gather(run_a, return_exceptions=True)
    await ca.aclose()
    clock.advance(31)
    await cb.beat()
    takeovers = [t for t in sb._tasks if t.get_name().startswith("takeover-certificates")]
    assert len(takeovers) == 1
    await asyncio.wait_for(takeovers[0], 60)
    assert ran == ["a", "b"]
    (run,) = await store_nodes.runs(stores[2], "certificates")
    assert (run.slot, run.node, run.attempt, run.ok, run.detail) == (slot, "b", 2, True, "checked on b")
    # the outbox is no one-node job: it never claims a slot
    await sb._runner("outbox")()
    assert await store_nodes.runs(stores[2], "outbox") == []
    await cb.aclose()


def test_slots():
    now = datetime(2026, 12, 5, 3, 29, 59, tzinfo=timezone.utc)
    assert slot_of(None, "03:30", now) == "2026-12-04T03:30Z"
    assert slot_of(None, "03:30", now + timedelta(seconds=1)) == "2026-12-05T03:30Z"
    assert slot_of(30, "", now) == "2026-12-05T03:29:30Z"
    assert slot_of(30, "", now + timedelta(seconds=1)) == "2026-12-05T03:30:00Z"
    assert {"retention", "certificates", "audit", "sanitizer", "poll"} == ONE_NODE_JOBS
