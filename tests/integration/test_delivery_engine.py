"""The delivery engine of a node (gateway.exchange.delivery): the hand-off from submit,
per-partner slots, leases kept alive during a transport call, leases of a restarted or dead
node back to the queue through the retry policy, the start-up timeout check."""
from __future__ import annotations

import asyncio
import dataclasses

import pytest
from delivery_partners import A, B, C, LETTER, Clock, close, letter, three

from gateway import config as cfg
from gateway.errors import ConfigError
from gateway.exchange.delivery import check_timeouts, reclaim
from gateway.model import State

FAST = {"timeout": 5, "connect_timeout": 2, "max_in_flight": 2, "concurrency": 8, "backoff_initial": 1,
        "max_attempts": 2}


async def until(check, what: str, seconds: float = 20.0):
    """Wait (polling the store) until `check()` is true."""
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"not within {seconds}s: {what}")


async def test_submitted_messages_go_at_once_and_a_slow_partner_holds_only_its_own_slots(tmp_path):
    a, b, c = await three(tmp_path, delivery=FAST)
    try:
        b.mode = "hold"
        await a.delivery.start()                 # no scheduler, no scan: only the hand-off
        to_b = [(await a.submit(LETTER, letter(), to=B)).id for _ in range(5)]
        to_c = [(await a.submit(LETTER, letter(), to=C)).id for _ in range(4)]

        async def c_done():
            return {(await a.store.get(i)).state for i in to_c} == {State.ACKNOWLEDGED}
        await until(c_done, "C's messages acknowledged while B hangs")
        waiting = [(await a.store.get(i)).state for i in to_b]
        assert waiting.count(State.SENDING) == 2 and waiting.count(State.READY) == 3
        assert a.delivery.in_flight == {B: 2}
        b.gate.set()                             # B answers: its slots refill at once

        async def b_done():
            return {(await a.store.get(i)).state for i in to_b} == {State.ACKNOWLEDGED}
        await until(b_done, "B's messages acknowledged")
        assert b.peak <= 2 and set(b.processed.values()) == {1} and len(b.processed) == 5
    finally:
        await close(a, b, c)


async def test_a_lease_is_renewed_while_the_transport_call_runs(tmp_path):
    clock = Clock()
    a, b, c = await three(tmp_path, delivery=FAST, store={"lease_seconds": 60}, clock=clock)
    try:
        b.mode = "hold"
        msg = await a.submit(LETTER, letter(), to=B)
        (task,) = await a.delivery.fill()
        await until(lambda: _true(b.gate is not None and len(a.delivery.tasks) == 1), "in flight")
        for _ in range(3):                       # the partner takes 3 x 50 s: longer than a lease
            clock.advance(50)
            assert await a.delivery.renew() == {msg.id}
            assert await reclaim(a) == []        # never expired, so never taken over
        b.gate.set()
        done = await task
        assert done.state is State.ACKNOWLEDGED and done.attempts == 1
        assert list(b.processed.values()) == [1]
    finally:
        await close(a, b, c)


async def _true(value):
    return value


async def test_leases_of_a_restarted_or_dead_node_go_back_through_the_retry_policy(tmp_path):
    clock = Clock()
    a, b, c = await three(tmp_path, delivery=FAST, store={"lease_seconds": 60}, clock=clock)
    try:
        a.policy = dataclasses.replace(a.policy, random=lambda: 0.5)
        mine = await a.submit(LETTER, letter(), to=B)
        theirs = await a.submit(LETTER, letter(), to=C)
        (held,) = await a.store.claim_due(a.node, limit=1, partners=[B])        # then node-0 "crashes"
        (other,) = await a.store.claim_due("node-x", limit=1, partners=[C])     # node-x dies too
        await a.delivery.start()                 # restart: its own lease back at once ...
        back = await a.store.get(mine.id)
        assert back.state is State.RETRY_WAIT and back.attempts == 1 and back.claimed_by is None
        slip = (await a.store.history(mine.id))[-1]
        assert slip.detail.startswith("attempt 1 failed, retry in 0s: node-0 restarted while sending it")
        assert (await a.store.get(theirs.id)).state is State.SENDING             # ... not node-x's yet
        clock.advance(61)
        assert [m.id for m in await reclaim(a)] == [other.id]                   # expired: counted too
        assert "lease of node-x expired" in (await a.store.get(other.id)).last_error
        (again,) = await a.store.claim_due("node-x", limit=1, partners=[B])     # attempt 2, dies again
        clock.advance(61)
        (dead,) = [m for m in await reclaim(a) if m.id == mine.id]
        assert dead.state is State.DEAD and dead.attempts == 2 == again.attempts  # max_attempts holds
        assert held.id == mine.id
    finally:
        await close(a, b, c)


def test_a_timeout_not_below_the_lease_refuses_to_start(tmp_path):
    raw = {"store": {"lease_seconds": 30}, "delivery": {"timeout": 25, "connect_timeout": 5}}
    with pytest.raises(ConfigError, match=r"connect_timeout \+ timeout = 30s: must be below \[store\] lease_seconds"):
        check_timeouts(cfg.from_dict(raw, base_dir=tmp_path))
    raw["delivery"]["timeout"] = 20
    check_timeouts(cfg.from_dict(raw, base_dir=tmp_path))
    raw["partners"] = {A: {"endpoints": ["http://x"], "timeout": 40}}
    with pytest.raises(ConfigError, match=r'partners."ags:09162000"\] connect_timeout \+ timeout = 45s'):
        check_timeouts(cfg.from_dict(raw, base_dir=tmp_path))


async def test_the_sanitizer_repairs_expired_leases_and_flags_stuck_messages(tmp_path, caplog):
    from gateway.exchange.sanitizer import sanitize

    clock = Clock()
    a, b, c = await three(tmp_path, delivery=FAST, store={"lease_seconds": 60}, clock=clock)
    try:
        a.policy = dataclasses.replace(a.policy, random=lambda: 0.5)
        lost = await a.submit(LETTER, letter(), to=B)
        waiting = await a.submit(LETTER, letter(), to=C)
        await a.store.claim_due("node-x", limit=1, partners=[B])                 # node-x dies
        clock.advance(2 * 3600)
        report = await sanitize(a, a.config.sanitizer.thresholds())
        assert report.reclaimed == 1
        back = await a.store.get(lost.id)
        assert back.state is State.RETRY_WAIT and "lease of node-x expired" in back.last_error
        (group,) = report.stuck
        assert (group.state, group.count, group.sample) == (State.READY, 1, (waiting.id,))
        assert str(report) == "1 expired lease(s) back to the queue; stuck: 1 out ready"
        assert f"stuck: 1 out message(s) in ready for more than 3600s" in caplog.text and waiting.id in caplog.text
        assert await a.store.stuck({State.READY: 3 * 3600}) == []
    finally:
        await close(a, b, c)


async def test_a_message_submitted_on_another_node_is_claimed_at_once_over_listen_notify(tmp_path, migrated_pg_url):
    from gateway import bootstrap

    a, b, c = await three(tmp_path, delivery=FAST, store={"url": migrated_pg_url})
    config = a.config
    other = dataclasses.replace(config, sections={**config.sections, "gateway": dataclasses.replace(
        config.gateway, node_id="node-other")})
    a2 = await bootstrap.build(other)
    try:
        await a2.delivery.start()               # only the other node delivers; a runs no loop, no scan
        engine = a2.delivery                    # its first (empty) claim is over before we submit
        await until(lambda: _true(not engine._wake.is_set() and not engine._fill_lock.locked()), "idle")
        msg = await a.submit(LETTER, letter(), to=C)

        async def done():
            return (await a.store.get(msg.id)).state is State.ACKNOWLEDGED
        await until(done, "acknowledged by the other node")
        claims = [h.actor for h in await a.store.history(msg.id) if h.to_state is State.SENDING]
        assert claims == ["node-other"]
    finally:
        await a2.aclose()
        await close(a, b, c)
