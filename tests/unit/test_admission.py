"""The verification gate (gateway/exchange/admission.py): bounded, round robin between
claimed partners, caps per partner and per address, nothing for a gone client."""
from __future__ import annotations

import asyncio

import pytest

from gateway.errors import RetryLater
from gateway.exchange.admission import Admission
from gateway.ports import Peer


async def test_a_flood_from_one_partner_does_not_starve_another():
    gate = Admission(slots=1, per_sender=100)
    order: list[str] = []
    release = asyncio.Event()

    async def job(partner: str, n: int):
        async with gate.turn(partner, Peer("http", remote=f"10.0.{n}.1")):
            order.append(partner)
            await release.wait()

    flood = [asyncio.create_task(job("ags:flood", n)) for n in range(20)]
    await asyncio.sleep(0.05)
    good = asyncio.create_task(job("ags:good", 99))
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(*flood, good)
    assert order.index("ags:good") <= 2          # after the running one and at most one more


async def test_caps_per_partner_and_per_address():
    gate = Admission(slots=1, per_sender=2)
    release = asyncio.Event()

    async def job(partner: str, remote: str):
        async with gate.turn(partner, Peer("http", remote=remote)):
            await release.wait()

    running = [asyncio.create_task(job("ags:a", "10.0.0.1")), asyncio.create_task(job("ags:a", "10.0.0.1"))]
    await asyncio.sleep(0.05)
    for partner, remote in (("ags:a", "10.0.0.3"), ("ags:b", "10.0.0.1")):
        with pytest.raises(RetryLater, match="at most 2") as info:
            async with gate.turn(partner, Peer("http", remote=remote)):
                pass
        assert info.value.code == "overloaded"
    release.set()
    await asyncio.gather(*running)
    assert gate.holding("partner:ags:a") == 0 and gate.holding("address:10.0.0.1") == 0


async def test_a_waiter_that_is_cancelled_or_gone_gives_its_place_back():
    gate = Admission(slots=1, per_sender=10)
    release = asyncio.Event()
    ran: list[str] = []

    async def job(name: str, peer: Peer):
        async with gate.turn("ags:a", peer):
            ran.append(name)
            await release.wait()

    first = asyncio.create_task(job("first", Peer("http", remote="1")))
    await asyncio.sleep(0.02)
    cancelled = asyncio.create_task(job("cancelled", Peer("http", remote="2")))
    gone = asyncio.create_task(job("gone", Peer("http", remote="3", connected=lambda: False)))
    last = asyncio.create_task(job("last", Peer("http", remote="4")))
    await asyncio.sleep(0.02)
    cancelled.cancel()
    release.set()
    await first
    with pytest.raises(RetryLater, match="gone"):
        await gone
    await last
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert ran == ["first", "last"] and gate.holding("partner:ags:a") == 0
    async with gate.turn("ags:a", Peer("http")):       # the slot is free again
        pass
