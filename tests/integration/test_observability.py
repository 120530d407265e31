"""What an operator sees: /metrics after real traffic, /ready (and why not), `gateway status`
data and its attention lines, JSON log lines carrying the message they are about."""
from __future__ import annotations

import io
import json
import logging
import sqlite3
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from dropfolder_pair import LETTER, OFFICE, Pair, example
from prometheus_client.parser import text_string_to_metric_families

from gateway import bootstrap, logcontext
from gateway.exchange.receipts import ACCEPTED
from gateway.model import State
from gateway.operations import health, logs, observe, scheduler, status
from gateway.operations.cluster import Cluster
from gateway.server.metrics import MAX_CODES, Metrics
from gateway.store.breakers import BreakerRule


@pytest.fixture
async def pair(tmp_path):
    p = Pair(tmp_path)
    yield p
    await p.aclose()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_after_a_delivery(pair):
    a = await pair.a()
    await pair.b()
    metrics = Metrics()
    cluster = Cluster(a.store, a.node, heartbeat_interval=10, node_timeout=30, clock=a.clock)
    observe.instrument(a, metrics, cluster)
    await cluster.start()
    try:
        msg = await a.submit(LETTER, example(), to=OFFICE)
        assert (await a.wait_final(msg.id, timeout=20)).state is State.ACKNOWLEDGED
        async with TestClient(TestServer(bootstrap.create_app(a, metrics))) as client:
            answer = await client.get("/metrics")
            text = await answer.text()
    finally:
        await cluster.aclose()
    got = samples(text)
    assert got[("gateway_deliveries_total", (("partner", OFFICE), ("transport", "memory")))] == 1
    assert got[("gateway_delivery_duration_seconds_count", (("partner", OFFICE), ("transport", "memory")))] == 1
    received = {dict(labels)["code"]: value for (name, labels), value in got.items()
                if name == "gateway_receipts_total" and dict(labels)["direction"] == "received"}
    assert received == {ACCEPTED: 1}
    assert got[("gateway_messages", (("direction", "out"), ("partner", OFFICE), ("state", "acknowledged")))] == 1
    assert got[("gateway_nodes_live", ())] == 1
    assert got[("gateway_metrics_sample_errors_total", ())] == 0
    assert any(name == "gateway_certificate_expiry_days" and dict(labels)["owner"] == "self"
               for name, labels in got)
    assert any(name == "gateway_build_info" for name, _ in got)
    # no label carries a message id or UUID
    assert msg.id not in text and msg.message_uuid not in text


async def test_oldest_message_age_and_backlog(pair):
    a = await pair.a()
    metrics = Metrics()
    observe.instrument(a, metrics)
    msg = await a.submit(LETTER, example(), to=OFFICE)        # B is not listening: stays waiting
    await metrics.sample()
    got = samples(metrics.render().decode())
    age = got[("gateway_oldest_message_age_seconds", (("direction", "out"), ("state", msg.state.value)))]
    assert 0 <= age < 60
    assert got[("gateway_webhook_backlog", ())] == 0


def test_feedback_codes_are_bounded():
    metrics = Metrics()
    assert metrics.code("CODE.1") == "CODE.1" and metrics.code("<script>") == "other"
    for i in range(MAX_CODES + 10):
        metrics.code(f"c{i}")
    assert metrics.code("brand-new") == "other" and metrics.code("c1") == "c1"


async def test_ready_names_what_is_wrong(pair, monkeypatch):
    a = await pair.a()
    sched, _ = scheduler.for_gateway(a, a.config)
    report = await health.readiness(a, scheduler=sched)
    assert report["status"] == "not ready" and report["reasons"] == ["scheduler not running"]
    await sched.start()
    try:
        assert (await health.readiness(a, scheduler=sched))["status"] == "ready"
        full = await pair.a(store={"min_free_mb": 10**9})          # the disk is "full" for this node
        report = await health.readiness(full, scheduler=sched)
        assert report["status"] == "not ready"
        assert "MiB free (below [store] min_free_mb" in report["checks"]["disk"]

        async def ready():
            return await health.readiness(full, scheduler=sched)
        async with TestClient(TestServer(bootstrap.create_app(full, ready=ready))) as client:
            answer = await client.get("/ready")
            assert answer.status == 503 and answer.headers["Retry-After"]
            assert "min_free_mb" in (await answer.json())["reasons"][0]
            assert (await client.get("/health")).status == 200       # the process is up
        # another process holds the SQLite database's write lock: the store cannot take work
        monkeypatch.setattr(health, "STORE_TIMEOUT", 0.5)
        locker = sqlite3.connect(a.config.data_dir / "gateway.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            report = await health.readiness(a, scheduler=sched)
        finally:
            locker.rollback()
            locker.close()
        assert report["status"] == "not ready"
        assert report["checks"]["store"] == "store not writable: no write within 0.5s (locked or unreachable)"
        assert (await health.readiness(a, scheduler=sched))["status"] == "ready"
    finally:
        await sched.aclose()


async def test_status_data_and_attention(pair):
    a = await pair.a()
    msg = await a.submit(LETTER, example(), to=OFFICE)
    holder = scheduler.GatewayJobs(None, a.config)
    data = await status.gather(a.store, a.config, a.clock(), jobs=holder.jobs(), node=a.node)
    json.dumps(data)                                                       # plain data
    assert {"direction": "out", "state": msg.state.value, "count": 1} in data["queues"]
    (waiting,) = data["waiting"]
    assert waiting["partner"] == OFFICE and waiting["waiting"] == 1
    assert [p["partner"] for p in data["partners"]] == [OFFICE]
    assert {j["name"] for j in data["jobs"]} == {"outbox", "sanitizer", "retention", "audit", "certificates"}
    assert data["attention"] == []
    await a.store.transition(msg.id, State.FAILED, actor="test", detail="broken")
    data = await status.gather(a.store, a.config, a.clock(), jobs=holder.jobs(), node=a.node)
    assert data["attention"] == ["1 outbound message(s) failed (gateway messages list --state failed)"]


def test_json_log_lines_carry_the_message():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter("node-1"))
    log = logging.getLogger("gateway.test.json")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        token = logcontext.bind(message_id="m1", message_uuid="u1", partner="psw:1", type="t")
        log.info("sent")
        logcontext.reset(token)
        log.warning("other")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "sent" and first["node"] == "node-1" and first["level"] == "INFO"
    assert (first["message_id"], first["message_uuid"], first["partner"], first["type"]) == ("m1", "u1", "psw:1", "t")
    assert first["logger"] == "gateway.test.json" and first["timestamp"].endswith("Z")
    assert "message_id" not in second
    assert "ValueError: boom" in third["exception"]
    with pytest.raises(ValueError):
        logcontext.bind(message="x")
    with logcontext.bound(message_id="m2", job="inbound"):
        assert logcontext.current() == {"message_id": "m2", "job": "inbound"}
    assert logcontext.current() == {}


async def test_a_delivery_logs_with_its_message(pair, caplog):
    a = await pair.a()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.TextFormatter("node-a"))
    logging.getLogger("gateway").addHandler(handler)
    try:
        msg = await a.submit(LETTER, example(), to=OFFICE)
        with caplog.at_level(logging.INFO):
            await a.drain_once()                              # B is not listening: retry later
            logging.getLogger("gateway.exchange").info("after the delivery")
    finally:
        logging.getLogger("gateway").removeHandler(handler)
    await pair.b()
    text = stream.getvalue()
    assert f"message_id={msg.id} message_uuid={msg.message_uuid} partner={OFFICE}" in text or \
        "after the delivery" in text
    assert "after the delivery" in text and f"message_id={msg.id}" not in text.split("after the delivery")[1]


async def test_breakers_and_stuck_messages_in_metrics_and_status(pair):
    """An open breaker and a message stuck past its [sanitizer] threshold show in the
    metrics, in the status data and as attention lines."""
    a = await pair.a(sanitizer={"ready": 60})
    metrics = Metrics()
    observe.instrument(a, metrics)
    msg = await a.submit(LETTER, example(), to=OFFICE)
    rule = BreakerRule(threshold=2, cooldown=30)
    for _ in range(2):
        await a.store.record_delivery(OFFICE, "memory", False, rule, actor="test", error="connection refused")
    await metrics.sampler.sample()
    got = samples(metrics.render().decode())
    assert got[("gateway_breaker_state", (("partner", OFFICE), ("state", "open"), ("transport", "memory")))] == 1
    assert got[("gateway_breaker_state", (("partner", OFFICE), ("state", "closed"), ("transport", "memory")))] == 0
    assert ("gateway_stuck_messages", (("direction", "out"), ("state", "ready"))) not in got
    later = a.clock() + timedelta(minutes=5)
    data = await status.gather(a.store, a.config, later, jobs=[], node=a.node)
    (partner,) = data["partners"]
    assert partner["breaker"] == "open" and partner["breaker_failures"] == 2
    (group,) = data["stuck"]
    assert (group["direction"], group["state"], group["count"], group["sample"]) == ("out", "ready", 1, [msg.id])
    assert any(line.startswith(f"partner {OFFICE} (memory): circuit breaker open") for line in data["attention"])
    assert any(line.startswith("1 out message(s) in ready longer than 60s") for line in data["attention"])
    a.clock = lambda: later                        # five minutes on: the message is stuck
    await metrics.sampler.sample()
    got = samples(metrics.render().decode())
    assert got[("gateway_stuck_messages", (("direction", "out"), ("state", "ready")))] == 1
