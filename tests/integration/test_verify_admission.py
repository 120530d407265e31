"""Issue 14, item 1: verification work of unauthenticated requests is bounded and fair,
and not started for a client that has gone. Two wired gateways with real keys; B's real
verifier is wrapped only to hold it at a barrier (so "in flight" is deterministic) and to
count calls."""
from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from exchange_pair import OFFICE, pair_tables

from adapters.memory import MemoryNetwork, MemorySender
from gateway import bootstrap
from gateway import config as cfg
from gateway.errors import RetryLater
from gateway.ports import ClientSettings, Peer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LETTER = "korrespondenz.schreiben.0200"


@pytest.fixture
async def pair(tmp_path):
    raw_a, raw_b = pair_tables(tmp_path, transport="memory", endpoint_a="memory://a", endpoint_b="memory://b")
    raw_b.setdefault("server", {}).update(verify_concurrency=1, verify_per_sender=2)
    gws = []
    for raw, folder in ((raw_a, tmp_path / "a"), (raw_b, tmp_path / "b")):
        gws.append(await bootstrap.build(cfg.from_dict(raw, base_dir=folder),
                                         senders={"memory": MemorySender(ClientSettings(), MemoryNetwork())}))
    yield gws
    for gw in gws:
        await gw.aclose()


class Held:
    """Wraps the real verifier: each call waits until released; calls are counted."""

    def __init__(self, verifier):
        self.real, self.calls, self.release = verifier.verify, 0, threading.Event()

    def verify(self, *args, **kw):
        self.calls += 1
        self.release.wait(30)
        return self.real(*args, **kw)


async def letters(a, n: int) -> list[bytes]:
    record = json.loads((EXAMPLES / f"{LETTER}.json").read_text())
    record["nachrichtenkopfG2g"].pop("leser", None)
    return [await a.store.payload((await a.submit(LETTER, record, to=OFFICE)).id) for _ in range(n)]


async def test_one_sender_cannot_fill_the_verification_queue(pair):
    a, b = pair
    held = Held(b.verifier)
    b.verifier.verify = held.verify
    xmls = await letters(a, 4)
    flood = Peer("http", remote="10.0.0.66")
    first = [asyncio.create_task(b.inbound.receive(x, flood)) for x in xmls[:2]]
    await asyncio.sleep(0.5)
    with pytest.raises(RetryLater) as info:          # a third from the same address: refused now
        await b.inbound.receive(xmls[2], flood)
    assert info.value.code == "overloaded"
    held.release.set()
    results = await asyncio.gather(*first)
    assert all(r.accepted for r in results)
    assert held.calls == 2
    assert b.inbound.admission.holding("address:10.0.0.66") == 0
    assert (await b.inbound.receive(xmls[3], flood)).accepted      # the places are free again


async def test_a_client_that_has_gone_gets_no_verification(pair):
    a, b = pair
    held = Held(b.verifier)
    b.verifier.verify = held.verify
    x1, x2 = await letters(a, 2)
    busy = asyncio.create_task(b.inbound.receive(x1, Peer("http", remote="10.0.0.1")))
    await asyncio.sleep(0.3)
    alive = [True]
    waiting = asyncio.create_task(b.inbound.receive(x2, Peer("http", remote="10.0.0.2",
                                                             connected=lambda: alive[0])))
    await asyncio.sleep(0.3)
    alive[0] = False                                   # the client hangs up while it waits
    held.release.set()
    assert (await busy).accepted
    with pytest.raises(RetryLater) as info:
        await waiting
    assert info.value.code == "client-gone" and held.calls == 1
