"""Delivery under partner failure, end to end over real HTTP (issue 13): partner B refuses
connections, then answers 503 with Retry-After, then is slower than its timeout, then
accepts; partner C is healthy throughout. Every message arrives exactly once, the failed
attempts follow the jittered backoff, B's breaker opens (its waiting messages spend no
attempts), probes with a growing cool-down and closes, and C's messages are delivered
meanwhile. A's clock and random source are injected: no test time passes by sleeping."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from delivery_partners import B, C, LETTER, Clock, Draws, close, letter, three

from gateway.model import Direction, State

DELIVERY = {"timeout": 1.0, "connect_timeout": 1.0, "backoff_initial": 10, "backoff_factor": 2,
            "backoff_max": 40, "max_attempts": 20, "breaker_threshold": 3, "breaker_cooldown": 10,
            "breaker_cooldown_factor": 2, "max_in_flight": 2, "concurrency": 8}


async def breaker_events(gw) -> list[str]:
    return [e.event async for e in gw.store.audit_entries() if e.event.startswith("breaker.")]


async def states(gw, ids) -> dict[str, State]:
    return {i: (await gw.store.get(i)).state for i in ids}


async def test_a_failing_partner_is_waited_for_probed_and_every_message_arrives_once(tmp_path, store_url):
    clock, draws = Clock(), Draws([0.5, 0.25, 0.75, 1.0])
    a, b, c = await three(tmp_path, delivery=DELIVERY, store={"url": store_url}, clock=clock, draws=draws,
                          partner_extra={B: {"timeout": 3.0}})
    try:
        await b.stop()                                                  # 1. B refuses connections
        to_b = [(await a.submit(LETTER, letter(), to=B)).id for _ in range(6)]
        to_c = [(await a.submit(LETTER, letter(), to=C)).id for _ in range(3)]

        assert await a.delivery.scan() == 4                             # 2 per partner at once
        failed = [await a.store.get(i) for i in to_b if (await a.store.get(i)).state is State.RETRY_WAIT]
        assert len(failed) == 2 and all("connection" in m.last_error.lower() or "refused" in m.last_error.lower()
                                        or "connect" in m.last_error.lower() for m in failed)
        waits = sorted((m.next_attempt_at - clock.now).total_seconds() for m in failed)
        assert waits == sorted(10 * d for d in draws.given)              # full jitter of the first ceiling
        assert (await a.health.refresh())[0].failures == 2

        assert await a.delivery.scan() == 3                             # B's next two fail, C's last goes
        (br,) = [x for x in await a.store.breakers() if x.partner == B]
        assert br.state == "open" and br.failures == 4 and br.retry_at == clock.now + timedelta(seconds=10)
        assert set((await states(a, to_c)).values()) == {State.ACKNOWLEDGED}     # C flows meanwhile

        assert await a.delivery.scan() == 0                             # open: B's messages wait ...
        untouched = [m for m in [await a.store.get(i) for i in to_b] if m.state is State.READY]
        assert len(untouched) == 2 and all(m.attempts == 0 for m in untouched)   # ... spending nothing

        clock.advance(11)                                               # 2. 503 with Retry-After
        b.mode, b.retry_after = "unavailable", "30"
        await b.start()
        assert await a.delivery.scan() == 1                             # one probe
        (br,) = [x for x in await a.store.breakers() if x.partner == B]
        assert br.state == "open" and br.probes == 1
        assert br.retry_at == clock.now + timedelta(seconds=30)         # Retry-After over 2 x cool-down
        probed = [m for m in [await a.store.get(i) for i in to_b] if m.attempts == 1 and m.id in
                  {u.id for u in untouched}]
        assert len(probed) == 1 and probed[0].next_attempt_at == clock.now + timedelta(seconds=30)

        clock.advance(31)                                               # 3. slower than B's timeout
        b.mode, b.delay = "slow", 8.0
        late_c = (await a.submit(LETTER, letter(), to=C)).id
        scan = asyncio.create_task(a.delivery.scan())
        for _ in range(600):                                            # C is answered while B's
            if (await a.store.get(late_c)).state is State.ACKNOWLEDGED:  # probe still hangs
                break
            await asyncio.sleep(0.01)
        assert (await a.store.get(late_c)).state is State.ACKNOWLEDGED and b.hanging == 1
        assert await scan == 2
        (br,) = [x for x in await a.store.breakers() if x.partner == B]
        assert br.state == "open" and br.probes == 2 and "timed out" in br.last_error
        assert br.retry_at == clock.now + timedelta(seconds=40)          # 10 x 2^2
        assert not b.processed                                          # nothing got through yet

        clock.advance(41)                                               # 4. B accepts again
        b.mode = "busy"
        for _ in range(30):
            await a.delivery.scan()
            if all(s.final for s in [await a.store.get(i) for i in to_b]):
                break
            clock.advance(40)
        assert set((await states(a, to_b)).values()) == {State.ACKNOWLEDGED}
        assert (await a.store.breakers())[0].state == "closed"
        sent = {(await a.store.get(i)).message_uuid for i in to_b}
        assert b.processed == {u: 1 for u in sent}                      # every message exactly once
        assert set(c.processed.values()) == {1} and len(c.processed) == 4
        assert b.peak <= 2 and c.peak <= 2                               # max_in_flight held
        assert await breaker_events(a) == ["breaker.opened", "breaker.probing", "breaker.reopened",
                                           "breaker.probing", "breaker.reopened", "breaker.probing",
                                           "breaker.closed"]
        got = await b.gw.store.list(direction=Direction.IN, limit=100)
        assert len(got) == 6 and (await a.store.verify_audit()).broken is None
    finally:
        await close(a, b, c)
