"""Circuit breakers in the store (shared by every node), per-partner room when claiming,
and the stuck-message query: against a real SQLite file and the real PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
from test_store import Clock, submit

from gateway.model import Direction, State
from gateway.store import Store
from gateway.store.breakers import BreakerRule, step

S = State
P, Q = "ags:09000009", "ags:09000010"
RULE = BreakerRule(threshold=3, cooldown=10, factor=2, cooldown_max=25)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def stores(store_url, tmp_path, clock):
    """Two nodes' stores on one database."""
    a = await Store.open(store_url, tmp_path, lease_seconds=60, clock=clock)
    b = await Store.open(store_url, tmp_path, lease_seconds=60, clock=clock, upgrade=False)
    yield a, b
    await a.aclose()
    await b.aclose()


async def events(store) -> list[tuple[str, str, dict]]:
    return [(e.event, e.actor, dict(e.details)) async for e in store.audit_entries()
            if e.event.startswith("breaker.")]


async def test_breaker_opens_waits_probes_and_closes_for_every_node(stores, clock):
    a, b = stores
    msgs = [await submit(a, n, partner=P) for n in range(4)]
    other = await submit(a, 9, partner=Q)
    for n in range(2):
        _, event = await a.record_delivery(P, "http", False, RULE, actor="n1", error="refused")
        assert event is None
    _, event = await b.record_delivery(P, "http", False, RULE, actor="n2", error="refused")   # 3rd: opens
    assert event == "breaker.opened"
    (br,) = await a.breakers()
    assert (br.partner, br.transport, br.state, br.failures) == (P, "http", "open", 3)
    assert br.retry_at == clock.now + timedelta(seconds=10) and br.last_error == "refused"
    # open: the partner's messages wait (no attempt spent), other partners' are claimed
    claimed = await a.claim_due("n1", limit=10)
    assert [m.id for m in claimed] == [other.id]
    assert await b.claim_probe("n2", P, "http") is None                     # cool-down not over
    clock.advance(seconds=11)
    assert await a.claim_due("n1", limit=10) == []
    probe = await b.claim_probe("n2", P, "http")
    assert probe.id == msgs[0].id and probe.attempts == 1 and probe.claimed_by == "n2"
    assert await a.claim_probe("n1", P, "http") is None                     # one probe at a time
    assert (await a.breakers())[0].state == "probing"
    # the probe fails: open again, cool-down doubled
    _, event = await b.record_delivery(P, "http", False, RULE, actor="n2", error="503", retry_after=5)
    assert event == "breaker.reopened"
    (br,) = await a.breakers()
    assert br.state == "open" and br.probes == 1 and br.retry_at == clock.now + timedelta(seconds=20)
    clock.advance(seconds=21)
    await b.transition(probe.id, S.RETRY_WAIT, actor="n2", node="n2", next_attempt_at=clock.now)
    probe2 = await a.claim_probe("n1", P, "http")
    assert probe2 is not None
    _, event = await a.record_delivery(P, "http", True, RULE, actor="n1")
    assert event == "breaker.closed"
    (br,) = await b.breakers()
    assert (br.state, br.failures, br.probes, br.retry_at) == ("closed", 0, 0, None)
    assert br.last_success_at == clock.now
    claimed = await b.claim_due("n2", limit=10)
    assert {m.id for m in claimed} == {m.id for m in msgs} - {probe2.id}
    names = [e[0] for e in await events(a)]
    assert names == ["breaker.opened", "breaker.probing", "breaker.reopened", "breaker.probing",
                     "breaker.closed"]
    assert (await a.verify_audit()).broken is None


async def test_a_dead_probers_probe_is_taken_over_after_its_lease(stores, clock):
    a, b = stores
    await submit(a, 1, partner=P)
    await submit(a, 2, partner=P)
    for _ in range(3):
        await a.record_delivery(P, "http", False, RULE, actor="n1")
    clock.advance(seconds=10)
    assert await a.claim_probe("n1", P, "http") is not None                  # n1 dies now
    clock.advance(seconds=30)
    assert await b.claim_probe("n2", P, "http") is None                       # its probe lease runs
    clock.advance(seconds=31)
    taken = await b.claim_probe("n2", P, "http")
    assert taken is not None and (await b.breakers())[0].probe_by == "n2"
    last = (await events(a))[-1]
    assert last[0] == "breaker.probing" and last[2]["taken_over_from"] == "n1"


async def test_a_probe_without_a_due_message_writes_nothing(stores, clock):
    a, _ = stores
    for _ in range(3):
        await a.record_delivery(P, "http", False, RULE, actor="n1")
    clock.advance(seconds=11)
    assert await a.claim_probe("n1", P, "http") is None
    assert (await a.breakers())[0].state == "open"
    assert [e[0] for e in await events(a)] == ["breaker.opened"]


def test_the_rule_cool_down_grows_to_its_ceiling_and_honours_retry_after():
    from gateway.store.breakers import Breaker
    assert [RULE.cooldown_after(k) for k in range(4)] == [10, 20, 25, 25]
    now = Clock().now
    b = Breaker(P, "http", failures=2)
    opened, event = step(b, False, RULE, now, retry_after=120)
    assert event == "breaker.opened" and opened.retry_at == now + timedelta(seconds=120)
    never = BreakerRule(threshold=0)
    stays, event = step(Breaker(P, "http", failures=99), False, never, now)
    assert stays.state == "closed" and event is None and stays.failures == 100
    assert step(stays, True, never, now)[0].failures == 0


async def test_claims_take_at_most_the_room_per_partner(stores):
    a, _ = stores
    slow = [await submit(a, n, partner=P) for n in range(6)]
    fast = [await submit(a, 10 + n, partner=Q) for n in range(3)]
    claimed = await a.claim_due("n1", limit=10, room={P: 2}, default_room=10)
    assert sum(m.partner == P for m in claimed) == 2 and sum(m.partner == Q for m in claimed) == 3
    assert await a.claim_due("n1", limit=10, room={P: 0}) == []
    assert len(slow) + len(fast) == 9


async def test_stuck_messages_are_grouped_with_the_oldest(stores, clock):
    a, _ = stores
    old = await submit(a, 1)
    clock.advance(hours=2)
    await submit(a, 2)
    waiting = await submit(a, 3)
    await a.claim_due("n1", limit=0)
    groups = await a.stuck({S.READY: 3600, S.RETRY_WAIT: 600, S.ACKNOWLEDGED: 1})
    (g,) = groups
    assert (g.direction, g.state, g.count, g.sample) == (Direction.OUT, S.READY, 1, (old.id,))
    assert g.oldest == old.updated_at and g.as_dict()["state"] == "ready"
    (claimed,) = await a.claim_due("n1", limit=1, partners=[waiting.partner], types=None)
    await a.transition(claimed.id, S.RETRY_WAIT, actor="n1", node="n1", next_attempt_at=clock.now)
    clock.advance(minutes=11)
    states = {g.state for g in await a.stuck({S.RETRY_WAIT: 600})}
    assert states == {S.RETRY_WAIT}


async def test_concurrent_failures_from_two_nodes_count_once_each_and_open_once(stores):
    import asyncio
    a, b = stores
    results = await asyncio.gather(*[(a if n % 2 else b).record_delivery(P, "http", False, RULE, actor=f"n{n}")
                                     for n in range(12)])
    assert sorted(r[0].failures for r in results) == list(range(1, 13))
    assert [e for _, e in results if e] == ["breaker.opened"]
    (br,) = await a.breakers()
    assert br.failures == 12 and br.state == "open"
