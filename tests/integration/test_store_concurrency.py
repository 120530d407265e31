"""Several worker processes claiming from one PostgreSQL store never claim the same message."""
from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

from gateway.model import Direction, State, check_history
from gateway.store import Store

WORKER = r"""
import asyncio, json, sys
from gateway.model import State, Transition
from gateway.store import Store

async def main(url, data_dir, node):
    store = await Store.open(url, data_dir, upgrade=False, lease_seconds=600)
    idle = 0
    while idle < 3:
        claimed = await store.claim_due(node, limit=7)
        if not claimed:
            idle += 1
            await asyncio.sleep(0.05)
            continue
        idle = 0
        await asyncio.gather(*[store.transition(m.id, State.SENT, actor=node, node=node)
                               for m in claimed])
        print(json.dumps([m.id for m in claimed]), flush=True)
    await store.aclose()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_workers_never_claim_the_same_message(pg_url, tmp_path):
    store = await Store.open(pg_url, tmp_path)
    ids = set()
    for i in range(200):
        res = await store.submit_outbound(message_uuid=f"u{i}", message_type="t", partner="p",
                                          payload=b"<m/>", actor="test", state=State.READY)
        ids.add(res.message.id)
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, pg_url, str(tmp_path), f"worker-{n}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE) for n in range(3)]
    outputs = await asyncio.wait_for(asyncio.gather(*[p.communicate() for p in procs]), 120)
    claims: Counter[str] = Counter()
    per_worker = []
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err.decode()
        mine = [i for line in out.decode().splitlines() for i in json.loads(line)]
        per_worker.append(len(mine))
        claims.update(mine)
    assert set(claims) == ids
    assert max(claims.values()) == 1, [i for i, n in claims.items() if n > 1]
    assert sum(1 for n in per_worker if n) >= 2, per_worker    # the work was actually shared
    for msg in await store.list(limit=1000):
        assert msg.state is State.SENT and msg.attempts == 1
        steps = [(h.from_state, h.to_state) for h in await store.history(msg.id)]
        assert check_history(Direction.OUT, steps, msg.state) is None
    assert (await store.verify_audit()).broken is None
    await store.aclose()


async def test_separate_engines_race_for_a_small_batch(migrated_pg_url, tmp_path):
    stores = [await Store.open(migrated_pg_url, tmp_path) for n in range(5)]
    for i in range(40):
        await stores[0].submit_outbound(message_uuid=f"r{i}", message_type="t", partner="p",
                                        payload=b"<m/>", actor="test", state=State.READY)
    rounds = await asyncio.gather(*[s.claim_due(f"n{k}", limit=40) for k, s in enumerate(stores)])
    got = [m.id for r in rounds for m in r]
    assert len(got) == len(set(got)) == 40
    for s in stores:
        await s.aclose()
