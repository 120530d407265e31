"""Webhooks against a real receiver on 127.0.0.1: signed pushes, retries until 2xx, the
inbound message moving to `delivered` only then, status events from the routing slip,
durability across a restart, and the receivers' verification helper."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from api_support import ENVIRON, PORTAL, OpenApi, Receiver, example, start_pair

from gateway import config as cfg
from gateway.backend import webhook_queue
from gateway.backend.tokens import Tokens
from gateway.backend.webhooks import SIGNATURE_HEADER, Webhooks, sign, verify
from gateway.errors import ConfigError, SignatureError
from gateway.model import State

SECRET = ENVIRON["WEBHOOK_SECRET"].encode()
LETTER = "korrespondenz.schreiben.0200"


def hooks(receiver: Receiver, **more) -> dict:
    return {"webhooks": {"url": receiver.url, "secret": "env:WEBHOOK_SECRET", "interval": 0.05,
                         "backoff_initial": 0.05, "backoff_max": 0.3, **more}}


async def until(check, timeout: float = 15.0):
    """Poll an async condition until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


def check_push(headers: dict, body: bytes, spec: OpenApi) -> dict:
    """A push must verify with the secret and match the documented event schema."""
    verify(SECRET, headers[SIGNATURE_HEADER], body, time.time())
    event = json.loads(body)
    spec.validate("/components/schemas/WebhookEvent", event, "webhook event")
    assert headers["X-Gateway-Delivery"] == event["id"] and headers["X-Gateway-Event"] == event["event"]
    assert headers["Content-Type"] == "application/json"
    return event


# -- the receivers' helper ----------------------------------------------------------------


def test_verify_accepts_a_fresh_signature_and_rejects_stale_forged_or_altered():
    body, now = b'{"id":"in-1"}', 1_800_000_000
    header = sign(SECRET, body, now)
    assert header.startswith(f"t={now},v1=")
    assert verify(SECRET, header, body, now + 299) == now
    assert verify(SECRET.decode(), header, body, datetime.fromtimestamp(now, timezone.utc)) == now
    assert verify([b"old-secret-0123456789", SECRET], header, body, now) == now   # rotation
    for when in (now + 301, now - 301):
        with pytest.raises(SignatureError, match="stale"):
            verify(SECRET, header, body, when)
    assert verify(SECRET, header, body, now + 500, tolerance=600) == now
    with pytest.raises(SignatureError, match="does not match"):
        verify(b"another-secret-0123456789", header, body, now)
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, header, body + b" ", now)
    forged_time = header.replace(f"t={now}", f"t={now + 100}")
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, forged_time, body, now + 100)
    for bad in ("", "v1=abc", f"t=x,v1={'0' * 64}", f"t={now}", f"t={now},t={now},v1=00"):
        with pytest.raises(SignatureError, match="must be"):
            verify(SECRET, bad, body, now)


@pytest.mark.parametrize("table, message", [
    ({"url": "http://backend.example/hook", "secret": "env:WEBHOOK_SECRET"}, "loopback"),
    ({"url": "ftp://127.0.0.1/hook", "secret": "env:WEBHOOK_SECRET"}, "https"),
    ({"url": "https://backend.example/hook"}, "secret"),
    ({"url": "https://backend.example/hook", "secret": "env:SHORT"}, "at least 16"),
    ({"url": "https://backend.example/hook", "secret": "env:WEBHOOK_SECRET", "states": ["verified"]}, "outbound"),
])
def test_bad_webhook_configuration_refuses_to_start(tmp_path, table, message):
    config = cfg.from_dict({"webhooks": table}, base_dir=tmp_path, environ={**ENVIRON, "SHORT": "abc"})

    class Gw:
        node = "n"

    with pytest.raises(ConfigError, match=message):
        Webhooks.from_config(Gw(), config)
    off = cfg.from_dict({}, base_dir=tmp_path)
    assert Webhooks.from_config(Gw(), off) is None


# -- received messages ----------------------------------------------------------------------


async def test_inbound_message_is_delivered_only_after_a_2xx_and_retried_until_then(tmp_path):
    receiver = await Receiver([500, 503, 204]).start()
    pair = await start_pair(tmp_path, office_extra=hooks(receiver, states=[]))
    try:
        msg = await pair.receive_at_b(LETTER)

        async def delivered():
            return (await pair.b.store.get(msg.id)).state is State.DELIVERED

        assert await until(delivered), [h for h, _ in receiver.pushes]
        assert len(receiver.pushes) == 3
        events = [check_push(h, b, pair.spec) for h, b in receiver.pushes]
        assert {e["id"] for e in events} == {f"in-{msg.id}"}            # one id to dedupe on
        assert {e["event"] for e in events} == {"message.received"}
        assert events[-1]["record"]["betreff"] == example(LETTER)["betreff"]
        assert events[-1]["message"]["id"] == msg.id and events[-1]["message"]["state"] == "verified"
        slip = await pair.b.store.history(msg.id)
        notes = [h.detail for h in slip if h.from_state == h.to_state and "webhook" in h.detail]
        assert [n.split(":")[0] for n in notes] == ["webhook push failed (attempt 1 since start)",
                                                    "webhook push failed (attempt 2 since start)"]
        assert "HTTP 500" in notes[0] and "HTTP 503" in notes[1]
        last = slip[-1]
        assert (last.from_state, last.to_state) == (State.VERIFIED, State.DELIVERED)
        assert last.actor.startswith("webhook:") and f"in-{msg.id}" in last.detail
        # the backend then confirms it took the message over
        api = pair.client(pair.operator)
        acked = await api.call("POST", f"/api/inbound/{msg.id}/ack")
        assert acked.status == 200 and acked.json()["state"] == "acknowledged"
        await asyncio.sleep(0.3)
        assert len(receiver.pushes) == 3                                  # nothing pushed again
    finally:
        await pair.aclose()
        await receiver.aclose()


async def test_pending_pushes_survive_a_restart(tmp_path):
    down = await Receiver([503]).start()
    pair = await start_pair(tmp_path, office_extra=hooks(down, states=[]))
    try:
        msg = await pair.receive_at_b(LETTER)
        assert await until(lambda: _pushed(down, 2))
    finally:
        await pair.aclose()
        await down.aclose()
    assert all(h["X-Gateway-Delivery"] == f"in-{msg.id}" for h, _ in down.pushes)

    up = await Receiver([204]).start()
    pair = await start_pair(tmp_path, office_extra=hooks(up, states=[]))   # same data dirs, same store
    try:
        async def delivered():
            return (await pair.b.store.get(msg.id)).state is State.DELIVERED

        assert await until(delivered)
        (headers, body), *_ = up.pushes
        assert check_push(headers, body, pair.spec)["id"] == f"in-{msg.id}"
    finally:
        await pair.aclose()
        await up.aclose()


async def _pushed(receiver: Receiver, n: int) -> bool:
    return len(receiver.pushes) >= n


# -- status changes ---------------------------------------------------------------------------


async def test_status_changes_are_pushed_until_taken(tmp_path, db_url):
    receiver = await Receiver([500, 200]).start()
    store_url = "" if db_url.startswith("sqlite") else db_url
    pair = await start_pair(tmp_path, store_url=store_url, office_extra=hooks(receiver, inbound=False))
    try:
        states = pair.b.config.webhooks.states
        await webhook_queue.enqueue(pair.b.store, states, pair.b.clock())   # cursor set: from now on
        token = await Tokens(pair.b.store).create("registry", types=["*"], partners=["*"], actor="test")
        reply = await pair.client(token).call("POST", "/api/messages", json_body={
            "type": LETTER, "to": PORTAL, "record": example(LETTER), "client_ref": "status-1"})
        msg_id = reply.json()["id"]
        done = await pair.b.wait_final(msg_id, timeout=15)
        assert done.state is State.ACKNOWLEDGED

        async def taken():
            return len(receiver.pushes) >= 2 and not await webhook_queue.pending(pair.b.store)

        assert await until(taken), receiver.pushes
        events = [check_push(h, b, pair.spec) for h, b in receiver.pushes]
        assert len({e["id"] for e in events}) == 1 and events[0]["id"].startswith("st-")
        event = events[-1]
        assert event["event"] == "message.status" and event["message"]["id"] == msg_id
        assert (event["step"]["from"], event["step"]["to"]) == ("sending", "acknowledged")
        assert event["message"]["client_ref"] == "status-1"
        # intermediate states (ready, sending) are not in [webhooks] states: no events for them
        assert await webhook_queue.enqueue(pair.b.store, states, pair.b.clock()) == 0
    finally:
        await pair.aclose()
        await receiver.aclose()


async def test_a_burst_over_one_scan_is_queued_at_once(tmp_path, db_url, monkeypatch):
    """Issue 14, item 15: rows beyond the first scan (1,000 rows; 10 here) were queued only
    once the earlier ones were LAG (60 s) old. One enqueue now reads the whole burst; the
    durable cursor still passes only settled rows."""
    from gateway.store import Store

    monkeypatch.setattr(webhook_queue, "SCAN", 10)
    store = await Store.open(db_url, tmp_path)
    try:
        now = datetime.now(timezone.utc)
        assert await webhook_queue.enqueue(store, ["cancelled"], now) == 0      # sets the cursor
        for i in range(35):
            sub = await store.submit_outbound(message_uuid=f"b-{i}", message_type=LETTER, partner=PORTAL,
                                              payload=b"<x/>", actor="t", state=State.READY)
            await store.cancel(sub.message.id, actor="t")
        assert await webhook_queue.enqueue(store, ["cancelled"], now) == 35
        assert await webhook_queue.enqueue(store, ["cancelled"], now) == 0      # nothing twice
        later = now + timedelta(seconds=webhook_queue.LAG + 1)
        assert await webhook_queue.enqueue(store, ["cancelled"], later) == 0
        assert len(await webhook_queue.pending(store)) == 35
    finally:
        await store.aclose()


async def test_status_queue_cursor_waits_for_slow_commits(tmp_path, db_url):
    """The cursor only passes history rows older than LAG; younger ones are read again, and
    enqueueing the same row twice adds nothing."""
    from sqlalchemy import select

    from gateway.store import Store
    from gateway.store.tables import webhook_cursor

    store = await Store.open(db_url, tmp_path)
    try:
        now = datetime.now(timezone.utc)
        assert await webhook_queue.enqueue(store, ["cancelled"], now) == 0      # sets the cursor
        for i in range(3):
            sub = await store.submit_outbound(message_uuid=f"u-{i}", message_type=LETTER, partner=PORTAL,
                                              payload=b"<x/>", actor="t", state=State.READY)
            await store.cancel(sub.message.id, actor="t")

        async def position():
            async with store.reading() as conn:
                return (await conn.execute(select(webhook_cursor.c.position))).scalar()

        start = await position()
        assert await webhook_queue.enqueue(store, ["cancelled"], now) == 3
        assert await position() == start                    # rows are younger than LAG: not passed
        assert await webhook_queue.enqueue(store, ["cancelled"], now) == 0     # read again, no duplicates
        later = now + timedelta(seconds=webhook_queue.LAG + 1)
        assert await webhook_queue.enqueue(store, ["cancelled"], later) == 0
        assert await position() > start
        pending = await webhook_queue.pending(store)
        assert [p["state"] for p in pending] == ["cancelled"] * 3
        claimed = await webhook_queue.claim(store, "n1", limit=10, now=later, lease_seconds=60)
        assert len(claimed) == 3
        assert await webhook_queue.claim(store, "n2", limit=10, now=later, lease_seconds=60) == []
        assert await webhook_queue.settle(store, claimed[0], "n1", now=later, delivered=True)
        assert not await webhook_queue.settle(store, claimed[1], "n2", now=later, delivered=True)
        assert len(await webhook_queue.pending(store)) == 2
        expired = later + timedelta(seconds=61)
        assert len(await webhook_queue.claim(store, "n2", limit=10, now=expired, lease_seconds=60)) == 2
    finally:
        await store.aclose()
