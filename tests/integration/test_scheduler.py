"""The scheduler: jobs run, never overlap themselves, a failing job is logged and the others
go on, shutdown lets running jobs finish; the gateway's jobs drain the outbox, scan drop
folders and write inbound folders; two nodes on one PostgreSQL store send each message once."""
from __future__ import annotations

import asyncio
import json
import logging
import os

import pytest
from dropfolder_pair import LETTER, OFFICE, Pair, example

from gateway.model import Direction, State
from gateway.operations import scheduler
from gateway.operations.scheduler import Job, Scheduler


async def wait_for(condition, timeout: float = 20.0, interval: float = 0.05):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(interval)


async def test_jobs_run_and_a_failing_job_does_not_stop_the_others(tmp_path, caplog):
    runs = {"good": 0, "bad": 0}

    async def good():
        runs["good"] += 1
        return runs["good"]

    async def bad():
        runs["bad"] += 1
        raise RuntimeError("disk on fire")

    sched = Scheduler([Job("good", good, every=0.05), Job("bad", bad, every=0.05)],
                      status_file=tmp_path / "jobs.json")
    with caplog.at_level(logging.ERROR, logger="gateway.scheduler"):
        await sched.start()

        async def enough():
            return runs["good"] >= 3 and runs["bad"] >= 3
        await wait_for(enough)
        written = json.loads((tmp_path / "jobs.json").read_text())
        await sched.aclose()
    status = {s["name"]: s for s in sched.status()}
    assert status["bad"]["failures"] == status["bad"]["runs"] >= 3
    assert status["bad"]["last_error"] == "RuntimeError: disk on fire"
    assert status["good"]["failures"] == 0 and status["good"]["last_result"] == str(runs["good"])
    assert "job bad failed" in caplog.text and "disk on fire" in caplog.text
    assert {j["name"] for j in written["jobs"]} == {"good", "bad"}
    assert not (tmp_path / "jobs.json").exists()          # removed at shutdown


async def test_a_slow_job_never_overlaps_itself():
    active, most, runs = 0, 0, 0

    async def slow():
        nonlocal active, most, runs
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.3)
        active -= 1
        runs += 1

    sched = Scheduler([Job("slow", slow, every=0.02)])
    await sched.start()

    async def two():
        return runs >= 2
    await wait_for(two)
    await sched.aclose()
    assert most == 1


async def test_shutdown_lets_a_running_job_finish():
    finished = asyncio.Event()

    async def work():
        await asyncio.sleep(0.3)
        finished.set()

    sched = Scheduler([Job("work", work, every=10)], shutdown_timeout=5)
    await sched.start()

    async def started():
        return sched.status()[0]["running"]
    await wait_for(started)
    await sched.aclose()
    assert finished.is_set() and sched.status()[0]["last_error"] == ""


async def test_shutdown_cancels_a_job_that_takes_too_long():
    async def stuck():
        await asyncio.sleep(60)

    sched = Scheduler([Job("stuck", stuck, every=10)], shutdown_timeout=0.2)
    await sched.start()

    async def started():
        return sched.status()[0]["running"]
    await wait_for(started)
    await sched.aclose()
    assert sched.status()[0]["last_error"] == "cancelled at shutdown"


def test_daily_jobs_and_bad_jobs():
    job = Job("retention", lambda: None, daily="03:30")
    assert job.schedule == "daily 03:30 UTC"
    with pytest.raises(ValueError):
        Scheduler([Job("x", lambda: None)])
    with pytest.raises(ValueError):
        Scheduler([Job("x", lambda: None, every=1), Job("x", lambda: None, every=1)])


@pytest.fixture
async def pair(tmp_path):
    p = Pair(tmp_path)
    yield p
    await p.aclose()


FAST = {"folders_interval": 0.05, "inbound_interval": 0.05, "poll_interval": 0.05}


async def test_gateway_jobs_drain_scan_and_deliver(pair, tmp_path):
    """A's scheduler picks a drop file up and delivers it; B's writes it to its inbox."""
    out, inbox = tmp_path / "out", tmp_path / "inbox"
    out.mkdir()
    a = await pair.a(folders={"outbound": {"portal": {"path": str(out), "type": LETTER, "partner": OFFICE}}},
                     scheduler=FAST, delivery={"drain_interval": 0.05})
    b = await pair.b(folders={"inbound": {"registry": {"path": str(inbox)}}}, scheduler=FAST,
                     store={"retention": {"acknowledged": 30}})
    sched_a, jobs_a = scheduler.for_gateway(a, a.config)
    sched_b, jobs_b = scheduler.for_gateway(b, b.config)
    assert set(sched_a.jobs) == {"outbox", "folders", "sanitizer", "retention", "audit", "certificates"}  # retention: orphan sweep
    assert set(sched_b.jobs) == {"outbox", "inbound", "sanitizer", "retention", "audit", "certificates"}
    await sched_a.start()
    await sched_b.start()
    try:
        (out / "brief.json").write_text(json.dumps(example()))

        async def written():
            return inbox.exists() and any(p.suffix == ".xml" for p in inbox.iterdir())
        await wait_for(written)
        (msg,) = await a.store.list(direction=Direction.OUT)

        async def acknowledged():
            return (await a.store.get(msg.id)).state is State.ACKNOWLEDGED
        await wait_for(acknowledged)
        (got,) = await b.store.list(direction=Direction.IN)
        assert got.message_uuid == msg.message_uuid

        async def delivered():
            return (await b.store.get(got.id)).state is State.DELIVERED
        await wait_for(delivered)
    finally:
        await sched_a.aclose()
        await sched_b.aclose()
    status = {s["name"]: s for s in sched_a.status()}
    assert status["folders"]["runs"] >= 1 and status["outbox"]["failures"] == 0
    assert "of" in status["certificates"]["last_result"]                     # ran at start
    assert await sched_b.run("retention") == ("purged 0 of 0, 0 archive(s); "
                                              "0 orphan payload file(s) found (0 bytes) of 0 scanned")


async def test_certificate_check_warns_about_expiring_certificates(pair, caplog):
    """Dev certificates: signing and encryption certs live a year, their CAs two years."""
    a = await pair.a(keys={"expiry_warning_days": 400})
    with caplog.at_level(logging.WARNING, logger="gateway.scheduler"):
        summary = scheduler.expiring_certificates(a.config, a.clock())
    assert summary == "3 of 5 expired or expiring within 400 days"   # own + partner signing, own encryption
    assert caplog.text.count("certificate expires soon") == 3
    assert "pinned of ags:09162001 (CN=Standesamt" in caplog.text
    assert "decryption of self (CN=Bürgerportal encryption" in caplog.text
    quiet = await pair.a(keys={"expiry_warning_days": 30})
    assert scheduler.expiring_certificates(quiet.config, quiet.clock()).startswith("0 of 5")


async def test_health_lists_the_jobs(pair):
    from aiohttp.test_utils import TestClient, TestServer

    from gateway import bootstrap

    a = await pair.a()
    sched, _ = scheduler.for_gateway(a, a.config)
    async with TestClient(TestServer(bootstrap.create_app(a, jobs=sched.status))) as client:
        answer = await (await client.get("/health")).json()
    assert {j["name"] for j in answer["jobs"]} == {"outbox", "sanitizer", "retention", "audit", "certificates"}


@pytest.mark.postgres
async def test_two_nodes_on_one_postgresql_store_send_each_message_once(pair, pg_url, tmp_path):
    """Two schedulers (two nodes) share one PostgreSQL store and one drop folder: every file
    becomes one message and every message reaches the partner exactly once."""
    out = tmp_path / "shared-out"
    out.mkdir()
    tables = dict(folders={"outbound": {"portal": {"path": str(out), "type": LETTER, "partner": OFFICE}}},
                  scheduler=FAST, delivery={"drain_interval": 0.02, "batch": 3}, store={"url": pg_url})
    await pair.b()
    nodes = []
    for name in ("node-1", "node-2"):
        raw = {**pair.raw_a, "gateway": {**pair.raw_a["gateway"], "node_id": name}}
        nodes.append(await pair.build(raw, tmp_path / "a", **tables))
    scheds = [scheduler.for_gateway(gw, gw.config)[0] for gw in nodes]
    count = 24
    direct = [await nodes[i % 2].submit(LETTER, example(), to=OFFICE) for i in range(count // 2)]
    for s in scheds:
        await s.start()
    try:
        for i in range(count // 2):
            record = example()
            record["betreff"] = f"Brief {i}"
            tmp = out / f".brief-{i}.json.tmp"
            tmp.write_text(json.dumps(record))
            os.rename(tmp, out / f"brief-{i}.json")

        async def all_final():
            msgs = await nodes[0].store.list(direction=Direction.OUT, limit=1000)
            return len(msgs) == count and all(m.final for m in msgs)
        await wait_for(all_final, timeout=60)
    finally:
        for s in scheds:
            await s.aclose()
    msgs = await nodes[0].store.list(direction=Direction.OUT, limit=1000)
    assert all(m.state is State.ACKNOWLEDGED for m in msgs)
    assert sorted(pair.deliveries.values()) == [1] * count              # nobody got anything twice
    assert set(pair.deliveries) == {m.message_uuid for m in msgs}
    assert {m.id for m in direct} <= {m.id for m in msgs}
    senders = {h.actor for m in msgs for h in await nodes[0].store.history(m.id) if h.to_state is State.SENDING}
    assert senders == {"node-1", "node-2"}                              # both nodes did work
    done = sorted(p.name for p in (out / "done").iterdir() if not p.name.endswith(".result.json"))
    assert done == sorted(f"brief-{i}.json" for i in range(count // 2))


@pytest.mark.parametrize("table, says", [
    ({"poll_interval": 0}, "poll_interval: must be > 0"),
    ({"retention_time": "3:75"}, "is not HH:MM"),
    ({"poll_batch": 0}, "poll_batch: must be >= 1"),
    ({"interval": 5}, "unknown key 'interval'"),
])
def test_scheduler_config_is_checked(table, says, tmp_path):
    from gateway import config as cfg
    from gateway.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        cfg.from_dict({"scheduler": table}, base_dir=tmp_path)
    assert says in str(info.value)
    off = cfg.from_dict({"scheduler": {"retention_time": "", "certificates_time": ""}}, base_dir=tmp_path)
    assert off.scheduler.retention_time == ""
