"""The receipt deadline on a wired gateway with a real SQLite store: a message waiting in
`sent` longer than [delivery] receipt_timeout counts as a failed attempt and goes back for a
re-send (retry_wait) or dead, as RetryPolicy decides; a message settled or sent again
meanwhile is never moved; the scheduler job exists only where messages can wait in `sent`."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from exchange_pair import OFFICE, pair_tables

from adapters.memory import MemoryNetwork, MemorySender
from gateway import bootstrap
from gateway import config as cfg
from gateway.errors import ConfigError, RetryLater
from gateway.exchange import receipt_deadline
from gateway.exchange.receipt_deadline import expire_overdue
from gateway.exchange.retry import RetryPolicy
from gateway.model import (
    AWAITING_RECEIPT,
    RECEIPT_OVERDUE,
    TRANSITIONS,
    Direction,
    State,
)
from gateway.ports import ClientSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LETTER = "korrespondenz.schreiben.0200"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
async def gw(tmp_path):
    raw, _ = pair_tables(tmp_path, transport="memory", endpoint_a="memory://a", endpoint_b="memory://b")
    config = cfg.from_dict(raw, base_dir=tmp_path / "a")
    gateway = await bootstrap.build(config, senders={"memory": MemorySender(ClientSettings(), MemoryNetwork())})
    yield gateway
    await gateway.aclose()


async def sent_letter(gw):
    """A letter handed to an (asynchronous) transport: claimed (attempt 1), now in `sent`."""
    record = json.loads((EXAMPLES / f"{LETTER}.json").read_text())
    record["nachrichtenkopfG2g"].pop("leser", None)
    msg = await gw.submit(LETTER, record, to=OFFICE)
    (claimed,) = await gw.store.claim_due(gw.node)
    return await gw.store.transition(claimed.id, State.SENT, actor="test", node=gw.node, transport_id="XTA-1")


async def test_an_overdue_message_goes_back_for_a_resend_and_the_slip_says_why(gw):
    gw.policy = dataclasses.replace(gw.policy, random=lambda: 0.5)      # pin the jitter
    msg = await sent_letter(gw)
    later = msg.updated_at + timedelta(seconds=61)
    report = await expire_overdue(gw, timeout=60, now=later)
    assert (report.overdue, report.retried, report.dead, report.skipped) == (1, 1, 0, 0)
    back = await gw.store.get(msg.id)
    assert back.state is State.RETRY_WAIT and back.attempts == 1
    assert back.next_attempt_at == later + timedelta(seconds=gw.policy.delay(1))
    assert back.last_error == "no receipt within 60 s"
    last = (await gw.store.history(msg.id))[-1]
    assert (last.from_state, last.to_state) == (State.SENT, State.RETRY_WAIT)
    assert last.detail == f"attempt 1 failed, retry in {gw.policy.delay(1):.0f}s: no receipt within 60 s"
    (again,) = await gw.store.claim_due(gw.node, now=back.next_attempt_at)      # sent again: attempt 2
    assert again.id == msg.id and again.attempts == 2


async def test_a_message_within_its_deadline_or_without_one_waits(gw):
    msg = await sent_letter(gw)
    assert (await expire_overdue(gw, timeout=60, now=msg.updated_at + timedelta(seconds=59))).overdue == 0
    assert (await expire_overdue(gw, timeout=0, now=msg.updated_at + timedelta(days=365))).overdue == 0
    assert (await gw.store.get(msg.id)).state is State.SENT


async def test_exhausted_attempts_make_it_dead(gw):
    gw.policy = RetryPolicy(max_attempts=1)
    msg = await sent_letter(gw)
    report = await expire_overdue(gw, timeout=60, now=msg.updated_at + timedelta(minutes=5))
    assert (report.retried, report.dead) == (0, 1)
    dead = await gw.store.get(msg.id)
    assert dead.state is State.DEAD and dead.next_attempt_at is None
    assert (await gw.store.history(msg.id))[-1].detail == "gave up after 1 attempts: no receipt within 60 s"


async def test_a_message_settled_or_sent_again_meanwhile_is_not_moved(gw):
    settled, resent = await sent_letter(gw), await sent_letter(gw)
    later = max(settled.updated_at, resent.updated_at) + timedelta(hours=1)
    # what the job found overdue changes before it moves them: a receipt settles one,
    # an operator sends the other again and the transport takes it again
    await gw.store.transition(settled.id, State.ACKNOWLEDGED, actor="xta:partner", detail="receipt")
    await gw.store.retry(resent.id, actor="cli:op", detail="receipt overdue")
    (claimed,) = await gw.store.claim_due(gw.node)
    await gw.store.transition(claimed.id, State.SENT, actor="test", node=gw.node)
    for stale in (settled, resent):
        assert await receipt_deadline._expire(gw, stale, 60, later) == "skipped"
    assert (await gw.store.get(settled.id)).state is State.ACKNOWLEDGED
    again = await gw.store.get(resent.id)
    assert again.state is State.SENT and again.attempts == 2     # waits for its own deadline
    report = await expire_overdue(gw, timeout=60, now=later)     # found afresh: moved once
    assert (report.overdue, report.retried) == (1, 1)
    assert (await gw.store.get(resent.id)).state is State.RETRY_WAIT


async def test_many_overdue_messages_are_paged(gw, monkeypatch):
    monkeypatch.setattr(receipt_deadline, "PAGE", 2)
    msgs = [await sent_letter(gw) for _ in range(5)]
    report = await expire_overdue(gw, timeout=1, now=max(m.updated_at for m in msgs) + timedelta(seconds=5))
    assert (report.overdue, report.retried) == (5, 5)
    assert {m.state for m in await gw.store.list(direction=Direction.OUT)} == {State.RETRY_WAIT}


def test_the_retry_policy_only_ever_moves_an_overdue_message_where_the_model_allows():
    policy = RetryPolicy(max_attempts=3)
    for attempt in range(1, 5):
        decision = policy.decide(RetryLater("no receipt within 1 s"), attempt, NOW)
        assert decision.state in RECEIPT_OVERDUE
    for state in AWAITING_RECEIPT:
        assert RECEIPT_OVERDUE <= TRANSITIONS[Direction.OUT][state]


@pytest.mark.parametrize("transport, timeout, needed", [("xta", 14400, True), ("xta", 0, False),
                                                        ("http", 14400, False)])
def test_the_job_exists_where_messages_can_wait_in_sent(tmp_path, transport, timeout, needed):
    config = cfg.from_dict({"delivery": {"receipt_timeout": timeout},
                            "partners": {OFFICE: {"transport": transport, "endpoints": ["https://x.example"]}}},
                           base_dir=tmp_path)
    assert receipt_deadline.needed(config) is needed


def test_config_defaults_and_refusals(tmp_path):
    config = cfg.from_dict({}, base_dir=tmp_path)
    assert config.delivery.receipt_timeout == 14400 and config.scheduler.receipts_interval == 60
    with pytest.raises(ConfigError, match="receipt_timeout: must be >= 0"):
        cfg.from_dict({"delivery": {"receipt_timeout": -1}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="receipts_interval: must be > 0"):
        cfg.from_dict({"scheduler": {"receipts_interval": 0}}, base_dir=tmp_path)
