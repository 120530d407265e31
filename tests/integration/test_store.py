"""The repository API against a real SQLite file and a real PostgreSQL database."""
from __future__ import annotations

import asyncio
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from gateway.errors import LeaseLost, NotFound, StateError, StoreCorrupted
from gateway.model import (
    Direction,
    InboundOutcome,
    NewReceipt,
    State,
    Transition,
    check_history,
)
from gateway.store import Store

S = State


class Clock:
    """A settable clock (the store takes `clock=`)."""

    def __init__(self):
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(store_url, tmp_path, clock):
    s = await Store.open(store_url, tmp_path, inline_max=100, lease_seconds=60, clock=clock)
    yield s
    await s.aclose()


async def submit(store: Store, n: int = 0, *, state=S.READY, payload: bytes | None = None, **kw):
    res = await store.submit_outbound(
        message_uuid=f"uuid-{n}", message_type="personenstand.antrag.0100",
        partner=kw.pop("partner", "ags:09000009"), payload=payload or b"<m n='%d'/>" % n,
        actor="test", state=state, **kw)
    return res.message


async def assert_consistent(store: Store, msg_id: str) -> None:
    msg = await store.get(msg_id)
    steps = [(h.from_state, h.to_state) for h in await store.history(msg_id)]
    assert check_history(msg.direction, steps, msg.state) is None, steps


# -- submitting and receiving ---------------------------------------------------------------

async def test_submit_stores_payload_history_and_audit(store):
    msg = await submit(store, 1, state=S.ACCEPTED, client="backend-a", client_ref="A-1")
    assert msg.state is S.ACCEPTED and msg.direction is Direction.OUT and msg.attempts == 0
    assert await store.payload(msg.id) == b"<m n='1'/>"
    (h,) = await store.history(msg.id)
    assert h.from_state is None and h.to_state is S.ACCEPTED and h.actor == "test"
    entries = [e async for e in store.audit_entries()]
    assert [e.event for e in entries] == ["message.accepted"]
    assert entries[0].details["sha256"] == msg.digest and entries[0].message_id == msg.id


async def test_same_client_reference_returns_the_first_message(store):
    first = await store.submit_outbound(message_uuid="u1", message_type="t", partner="p",
                                        payload=b"<a/>", actor="api", client="b1", client_ref="R")
    again = await store.submit_outbound(message_uuid="u2", message_type="t", partner="p",
                                        payload=b"<b/>", actor="api", client="b1", client_ref="R")
    other = await store.submit_outbound(message_uuid="u3", message_type="t", partner="p",
                                        payload=b"<c/>", actor="api", client="b2", client_ref="R")
    assert first.created and not again.created and other.created
    assert again.message.id == first.message.id and other.message.id != first.message.id
    assert len(await store.list()) == 2
    assert await store.find(Direction.OUT, "u2") is None


async def test_concurrent_submits_with_one_reference_store_one_message(store):
    results = await asyncio.gather(*[
        store.submit_outbound(message_uuid=f"u{i}", message_type="t", partner="p",
                              payload=b"<a/>", actor="api", client="b", client_ref="same")
        for i in range(8)])
    assert len({r.message.id for r in results}) == 1
    assert sum(r.created for r in results) == 1


async def test_large_payload_goes_to_a_verified_file(store, tmp_path):
    big = b"<big>" + b"x" * 5000 + b"</big>"
    msg = await submit(store, 2, payload=big)
    assert msg.payload_file and (tmp_path / msg.payload_file).read_bytes() == big
    assert await store.payload(msg.id) == big
    (tmp_path / msg.payload_file).write_bytes(big.replace(b"x", b"y", 1))
    with pytest.raises(StoreCorrupted, match="SHA-256"):
        await store.payload(msg.id)
    (tmp_path / msg.payload_file).unlink()
    with pytest.raises(StoreCorrupted, match="missing"):
        await store.payload(msg.id)


async def test_inline_payload_is_verified_too(store):
    msg = await submit(store, 3)
    async with store._writer.begin() as conn:
        await conn.execute(text("UPDATE messages SET payload = :p WHERE id = :i"),
                           {"p": b"<evil/>", "i": msg.id})
    with pytest.raises(StoreCorrupted):
        await store.payload(msg.id)


async def test_inbound_new_duplicate_and_conflict(store):
    kw = dict(message_uuid="in-1", message_type="t", partner="ags:1", actor="server")
    new = await store.record_inbound(payload=b"<a/>", **kw)
    dup = await store.record_inbound(payload=b"<a/>", **kw)
    bad = await store.record_inbound(payload=b"<b/>", **kw)
    assert new.outcome is InboundOutcome.NEW and new.message.state is S.RECEIVED
    assert dup.outcome is InboundOutcome.DUPLICATE and dup.message.id == new.message.id
    assert bad.outcome is InboundOutcome.CONFLICT and bad.message.id == new.message.id
    assert await store.payload(new.message.id) == b"<a/>"     # the first content stays
    assert len(await store.list(direction=Direction.IN)) == 1
    events = [e async for e in store.audit_entries()]
    assert [e.event for e in events] == ["message.received", "message.duplicate",
                                         "message.conflict"]
    assert events[2].details["sha256"] != events[2].details["stored_sha256"]
    slip = await store.history(new.message.id)
    assert "duplicate" in slip[1].detail and "different content" in slip[2].detail
    await assert_consistent(store, new.message.id)


async def test_inbound_with_our_receipt_is_one_transaction_and_a_duplicate_keeps_none(store):
    kw = dict(message_uuid="in-r", message_type="t", partner="ags:1", actor="http:ags:1",
              state=S.VERIFIED, receipt_actor="node-b")
    receipt = NewReceipt(b"<q>ok</q>", True, kind="receipt-sent", detail="0000")
    new = await store.record_inbound(payload=b"<a/>", receipt=receipt, **kw)
    dup = await store.record_inbound(payload=b"<a/>", receipt=NewReceipt(b"<q>2</q>", True, kind="receipt-sent"), **kw)
    bad = await store.record_inbound(payload=b"<b/>", receipt=NewReceipt(b"<q>3</q>", True, kind="receipt-sent"), **kw)
    assert (new.outcome, dup.outcome, bad.outcome) == (InboundOutcome.NEW, InboundOutcome.DUPLICATE,
                                                       InboundOutcome.CONFLICT)
    [kept] = await store.receipts(new.message.id)
    assert (kept.xml, kept.kind, kept.positive, kept.detail) == (b"<q>ok</q>", "receipt-sent", True, "0000")
    slip = await store.history(new.message.id)
    assert [(h.actor, h.from_state, h.to_state, h.detail) for h in slip[:2]] == [
        ("http:ags:1", None, S.VERIFIED, "created"),
        ("node-b", S.VERIFIED, S.VERIFIED, "receipt-sent stored (positive)")]
    await assert_consistent(store, new.message.id)


async def test_a_failing_receipt_insert_leaves_no_message(store):
    receipt = NewReceipt(None, True, kind="receipt-sent")   # xml NOT NULL: the insert fails
    with pytest.raises(Exception):
        await store.record_inbound(message_uuid="in-x", message_type="t", partner="p", payload=b"<a/>",
                                   actor="server", state=S.VERIFIED, receipt=receipt)
    assert await store.find(Direction.IN, "in-x") is None
    assert [e async for e in store.audit_entries()] == []


async def test_inbound_rejected_on_arrival_and_large_duplicate_leaves_no_file(store, tmp_path):
    big = b"<x>" + b"1" * 500 + b"</x>"
    first = await store.record_inbound(message_uuid="in-2", message_type="t", partner="p",
                                       payload=big, actor="server")
    again = await store.record_inbound(message_uuid="in-2", message_type="t", partner="p",
                                       payload=big, actor="server")
    assert again.outcome is InboundOutcome.DUPLICATE
    files = sorted(p.name for p in (tmp_path / "payloads").rglob("*") if p.is_file())
    assert files == [f"{first.message.id}.bin"]
    rej = await store.record_inbound(message_uuid="in-3", message_type="t", partner="p",
                                     payload=b"<x/>", actor="server", state=S.REJECTED,
                                     detail="signature invalid")
    assert rej.message.state is S.REJECTED and rej.message.final


# -- transitions ----------------------------------------------------------------------------

async def test_transition_writes_history_receipt_and_audit(store, clock):
    msg = await submit(store, 4)
    (claimed,) = await store.claim_due("node-a")
    clock.advance(seconds=1)
    done = await store.transition(msg.id, S.ACKNOWLEDGED, actor="node-a", node="node-a",
                                  detail="receipt ok", transport_id="T-9",
                                  receipt=NewReceipt(b"<receipt/>", positive=True))
    assert done.state is S.ACKNOWLEDGED and done.claimed_by is None and done.transport_id == "T-9"
    assert (await store.get(msg.id)) == done
    (r,) = await store.receipts(msg.id)
    assert r.xml == b"<receipt/>" and r.positive and r.kind == "receipt"
    slip = await store.history(msg.id)
    assert [(h.from_state, h.to_state) for h in slip] == [
        (None, S.READY), (S.READY, S.SENDING), (S.SENDING, S.ACKNOWLEDGED)]
    assert slip[-1].at == clock.now and slip[-1].detail == "receipt ok"
    events = [e.event async for e in store.audit_entries()]
    assert events == ["message.signed", "message.acknowledged"]


async def test_illegal_transition_raises_and_writes_nothing(store):
    msg = await submit(store, 5, state=S.ACCEPTED)
    with pytest.raises(StateError, match="accepted to acknowledged"):
        await store.transition(msg.id, S.ACKNOWLEDGED, actor="bug")
    with pytest.raises(NotFound):
        await store.transition("nope", S.READY, actor="bug")
    assert (await store.get(msg.id)).state is S.ACCEPTED
    assert len(await store.history(msg.id)) == 1


async def test_transition_many_is_all_or_nothing(store):
    a, b = await submit(store, 6, state=S.ACCEPTED), await submit(store, 7, state=S.ACCEPTED)
    with pytest.raises(StateError):
        await store.transition_many([Transition(a.id, S.READY, "t"),
                                     Transition(b.id, S.SENT, "t")])
    assert (await store.get(a.id)).state is S.ACCEPTED
    out = await store.transition_many([Transition(a.id, S.READY, "t"),
                                       Transition(b.id, S.FAILED, "t", last_error="bad record")])
    assert [m.state for m in out] == [S.READY, S.FAILED] and out[1].last_error == "bad record"


async def test_group_commit_of_concurrent_transitions(store):
    ids = [(await submit(store, 100 + i, state=S.ACCEPTED)).id for i in range(60)]
    bad = ids[5]
    calls = [store.transition(i, S.READY, actor="signer") for i in ids]
    calls.append(store.transition(bad, S.SENT, actor="bug"))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(r.state is S.READY for r in results[:-1])
    assert isinstance(results[-1], StateError)          # only the bad caller fails
    for i in ids:
        await assert_consistent(store, i)
    assert len({e.seq async for e in store.audit_entries()}) == 120


# -- claiming and leases --------------------------------------------------------------------

async def test_claim_due_respects_next_attempt_and_limit(store, clock):
    msgs = [await submit(store, 10 + i) for i in range(3)]
    first = await store.claim_due("n1", limit=2)
    assert len(first) == 2 and all(m.state is S.SENDING and m.claimed_by == "n1" and
                                   m.attempts == 1 for m in first)
    later = clock.now + timedelta(minutes=5)
    await store.transition(first[0].id, S.RETRY_WAIT, actor="n1", node="n1",
                           next_attempt_at=later, last_error="503")
    (third,) = await store.claim_due("n2", limit=5)
    assert third.id == msgs[2].id and await store.claim_due("n2") == []
    await store.transition(first[1].id, S.SENT, actor="n1", node="n1")
    await store.transition(third.id, S.SENT, actor="n2", node="n2")
    clock.advance(minutes=5)
    (again,) = await store.claim_due("n2")
    assert again.id == first[0].id and again.attempts == 2 and again.last_error == "503"


async def test_expired_lease_is_reclaimed_by_the_decision_and_the_old_node_loses(store, clock):
    msg = await submit(store, 20)
    (mine,) = await store.claim_due("node-a")
    assert mine.lease_until == clock.now + timedelta(seconds=60)

    def decide(m):
        return Transition(m.id, S.RETRY_WAIT, "node-b", f"lease of {m.claimed_by} expired",
                          next_attempt_at=clock.now)
    clock.advance(seconds=30)
    assert await store.claim_due("node-b") == []                 # lease still valid
    assert await store.reclaim_leases(decide) == []
    clock.advance(seconds=31)
    assert await store.claim_due("node-b") == []                 # never claimed directly
    (back,) = await store.reclaim_leases(decide)
    assert back.state is S.RETRY_WAIT and back.claimed_by is None and back.attempts == 1
    with pytest.raises(LeaseLost, match="nobody"):
        await store.transition(msg.id, S.SENT, actor="node-a", node="node-a")
    (taken,) = await store.claim_due("node-b")
    assert taken.id == msg.id and taken.claimed_by == "node-b" and taken.attempts == 2
    slip = await store.history(msg.id)
    assert "lease of node-a expired" in slip[2].detail and slip[2].from_state is S.SENDING
    await assert_consistent(store, msg.id)


async def test_a_restarted_node_reclaims_its_own_valid_leases_and_renews_others(store, clock):
    a, b = await submit(store, 30), await submit(store, 31)
    (held,) = await store.claim_due("node-a", limit=1)
    (other,) = await store.claim_due("node-b", limit=1)
    clock.advance(seconds=40)
    assert await store.renew_leases([held.id, other.id], "node-a") == {held.id}
    assert (await store.get(held.id)).lease_until == clock.now + timedelta(seconds=60)
    assert (await store.get(other.id)).lease_until == other.lease_until      # not ours: untouched
    (mine,) = await store.reclaim_leases(
        lambda m: Transition(m.id, S.READY, "node-a", "restarted"), node="node-a")
    assert mine.id == held.id and mine.state is S.READY
    assert (await store.get(other.id)).state is S.SENDING and {a.id, b.id} == {held.id, other.id}
    assert await store.renew_leases([held.id], "node-a") == set()


async def test_release_gives_a_message_back(store):
    msg = await submit(store, 21)
    await store.claim_due("n1")
    with pytest.raises(LeaseLost):
        await store.release(msg.id, node="n2")
    back = await store.release(msg.id, node="n1")
    assert back.state is S.READY and back.claimed_by is None
    (again,) = await store.claim_due("n2")
    assert again.id == msg.id


async def test_inbound_claim_for_delivery(store, clock):
    rec = await store.record_inbound(message_uuid="in-9", message_type="t", partner="p",
                                     payload=b"<x/>", actor="server", state=S.VERIFIED)
    (c,) = await store.claim_due("n1", direction=Direction.IN)
    assert c.state is S.VERIFIED and c.claimed_by == "n1"
    assert await store.claim_due("n2", direction=Direction.IN) == []
    await store.release(rec.message.id, node="n1", next_attempt_at=clock.now + timedelta(seconds=9))
    assert await store.claim_due("n2", direction=Direction.IN) == []
    clock.advance(seconds=10)
    (c2,) = await store.claim_due("n2", direction=Direction.IN)
    done = await store.transition(c2.id, S.DELIVERED, actor="n2", node="n2")
    assert done.claimed_by is None
    await store.transition(c2.id, S.ACKNOWLEDGED, actor="backend")
    await assert_consistent(store, c2.id)


# -- operator actions and queries -----------------------------------------------------------

async def test_retry_and_cancel(store):
    msg = await submit(store, 30)
    await store.claim_due("n1")
    with pytest.raises(StateError, match="can be cancelled"):
        await store.cancel(msg.id, actor="op")
    await store.transition(msg.id, S.DEAD, actor="n1", last_error="12 attempts")
    again = await store.retry(msg.id, actor="op:alice")
    assert again.state is S.READY
    with pytest.raises(StateError, match="can be retried"):
        await store.retry(msg.id, actor="op:alice")
    gone = await store.cancel(msg.id, actor="op:alice", detail="wrong partner")
    assert gone.state is S.CANCELLED and gone.final
    assert [e.event async for e in store.audit_entries()][-3:] == [
        "message.dead", "message.signed", "message.cancelled"]


async def test_list_filters_and_counts(store, clock):
    a = await submit(store, 40, partner="ags:1")
    clock.advance(hours=1)
    b = await submit(store, 41, partner="ags:2", state=S.ACCEPTED)
    await store.record_inbound(message_uuid="i", message_type="other", partner="ags:1",
                               payload=b"<x/>", actor="s")
    assert [m.id for m in await store.list(partner="ags:1", direction=Direction.OUT)] == [a.id]
    assert [m.id for m in await store.list(state=[S.ACCEPTED])] == [b.id]
    assert len(await store.list(message_type="other")) == 1
    assert {m.id for m in await store.list(since=clock.now)} >= {b.id}
    assert a.id not in {m.id for m in await store.list(since=clock.now)}
    page1 = await store.list(limit=2)
    page2 = await store.list(limit=2, before_id=page1[-1].id)
    assert len(page1) == 2 and len(page2) == 1 and page2[0].id == a.id
    counts = await store.counts()
    assert counts[(Direction.OUT, S.READY)] == 1 and counts[(Direction.IN, S.RECEIVED)] == 1
    with pytest.raises(NotFound):
        await store.get("0" * 32)


async def test_note_and_receipt_without_state_change(store):
    msg = await submit(store, 50)
    await store.note(msg.id, actor="xta", detail="provider accepted the message")
    await store.add_receipt(msg.id, NewReceipt(b"<report/>", True, kind="transport-report"),
                            actor="xta")
    assert [r.kind for r in await store.receipts(msg.id)] == ["transport-report"]
    assert (await store.history(msg.id))[1].detail == "provider accepted the message"
    await assert_consistent(store, msg.id)


async def test_explicit_audit_event_and_chain_verifies(store):
    await submit(store, 60)
    entry = await store.audit("keys.rotated", actor="op:bob", details={"key": "sig-2026"})
    assert entry.seq == 2 and entry.message_id is None
    report = await store.verify_audit()
    assert report.broken is None and report.count == 2 and report.head_hash == entry.hash


# -- retention ------------------------------------------------------------------------------

async def test_archive_then_purge_expired(store, clock, tmp_path):
    old = await submit(store, 70, payload=b"<old>" + b"z" * 300 + b"</old>")
    await store.claim_due("n")
    await store.transition(old.id, S.ACKNOWLEDGED, actor="n",
                           receipt=NewReceipt(b"<q/>", positive=True))
    fresh = await submit(store, 71)
    clock.advance(days=31)
    dry = await store.purge_expired({"acknowledged": 30}, actor="op", archive_dir=None,
                                    dry_run=True)
    assert dry.candidates == 1 and dry.purged == ()
    report = await store.purge_expired({"acknowledged": 30, "dead": 1}, actor="op",
                                       archive_dir=tmp_path / "archive")
    assert report.purged == (old.id,) and len(report.archives) == 1
    with pytest.raises(NotFound):
        await store.get(old.id)
    assert not (tmp_path / old.payload_file).exists()
    assert (await store.get(fresh.id)).state is S.READY
    assert await store.history(old.id) == []

    arc = report.archives[0]
    import hashlib
    assert hashlib.sha256(arc.path.read_bytes()).hexdigest() == arc.sha256
    with zipfile.ZipFile(arc.path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for name, sha in manifest["files"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == sha
        assert zf.read(f"messages/{old.id}/message.xml").startswith(b"<old>")
        assert zf.read(f"messages/{old.id}/receipt-1.xml") == b"<q/>"
        timeline = json.loads(zf.read(f"messages/{old.id}/timeline.json"))
    assert [t["to"] for t in timeline["timeline"]] == ["ready", "sending", "acknowledged"]
    assert manifest["messages"][0]["sha256"] == old.digest

    events = [e async for e in store.audit_entries()]
    assert [e.event for e in events][-2:] == ["retention.archived", "retention.purged"]
    assert events[-1].details["ids"] == [old.id] and events[-2].details["sha256"] == arc.sha256
    assert (await store.verify_audit()).broken is None


async def test_concurrent_retention_runs_finish_cleanly(store_url, tmp_path, clock):
    """Issue 14, item 13: three runs at once on one store (three Store objects: as three
    processes or nodes would) each finish; every message is purged once and is in some
    archive; no temporary archive is left behind; every file is private."""
    stores = [await Store.open(store_url, tmp_path, inline_max=100, lease_seconds=60, clock=clock)
              for _ in range(3)]
    try:
        first = stores[0]
        ids = []
        for n in range(24):
            msg = await submit(first, 200 + n, payload=b"<m>" + b"p" * 200 + b"</m>")
            ids.append(msg.id)
        for claimed in await first.claim_due("n", limit=100):
            await first.transition(claimed.id, S.ACKNOWLEDGED, actor="n")
        clock.advance(days=31)
        from gateway.store import retention
        reports = await asyncio.gather(*[
            retention.purge_expired(s, {"acknowledged": 30}, actor=f"run{i}", archive_dir=tmp_path / "archive",
                                    chunk=5)
            for i, s in enumerate(stores)])
    finally:
        for s in stores:
            await s.aclose()
    purged = [i for r in reports for i in r.purged]
    assert sorted(purged) == sorted(ids)                       # each exactly once
    archived = set()
    for r in reports:
        for arc in r.archives:
            with zipfile.ZipFile(arc.path) as zf:
                archived |= {m["id"] for m in json.loads(zf.read("manifest.json"))["messages"]}
    assert archived == set(ids)
    leftovers = [p.name for p in (tmp_path / "archive").iterdir() if not p.name.endswith(".zip")]
    assert leftovers == []
    assert all(p.stat().st_mode & 0o077 == 0 for p in (tmp_path / "archive").iterdir())


async def test_an_archive_that_fails_leaves_no_temporary_file(store, clock, tmp_path):
    msg = await submit(store, 90)
    await store.claim_due("n")
    await store.transition(msg.id, S.ACKNOWLEDGED, actor="n")

    async def broken(_msg_id):
        raise RuntimeError("disk went away")
    store.receipts = broken
    with pytest.raises(RuntimeError):
        await store.archive([msg.id], tmp_path / "archive" / "a.zip", actor="op")
    assert list((tmp_path / "archive").iterdir()) == []


async def test_purge_skips_messages_that_are_not_final(store):
    msg = await submit(store, 80)
    assert await store.purge([msg.id], actor="op") == []
    assert (await store.get(msg.id)).state is S.READY
