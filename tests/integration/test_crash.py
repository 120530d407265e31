"""Crash safety: a process killed by SIGKILL in the middle of batches of transitions leaves
every message in a valid state, its routing slip consistent with that state, everything the
process saw committed still there, and the audit chain intact."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest

from gateway.model import TRANSITIONS, State, check_history
from gateway.store import Store

CHILD = r"""
import asyncio, json, sys
from gateway.model import State, Transition
from gateway.store import Store

async def main(url, data_dir, n):
    store = await Store.open(url, data_dir, lease_seconds=600, inline_max=200)
    ids = []
    for i in range(int(n)):
        payload = b"<m>" + (b"x" * 300 if i % 5 == 0 else b"") + b"</m>"   # some payload files
        res = await store.submit_outbound(message_uuid=f"c{i}", message_type="t", partner="p",
                                          payload=payload, actor="child", state=State.ACCEPTED)
        ids.append(res.message.id)
    print(json.dumps({"created": len(ids)}), flush=True)
    half = len(ids) // 2
    await store.transition_many([Transition(i, State.READY, "child") for i in ids])
    print(json.dumps({"committed": ids, "state": "ready"}), flush=True)
    while True:
        claimed = await store.claim_due("child", limit=len(ids))
        print(json.dumps({"committed": [m.id for m in claimed], "state": "sending"}), flush=True)
        await store.transition_many([Transition(m.id, State.RETRY_WAIT, "child", node="child")
                                     for m in claimed])
        print(json.dumps({"committed": [m.id for m in claimed], "state": "retry_wait"}), flush=True)
        await asyncio.gather(*[store.retry(i, actor="child") for i in ids])
        print(json.dumps({"committed": ids, "state": "ready"}), flush=True)
        await asyncio.gather(*[store.transition(i, State.FAILED, actor="child") for i in ids])
        print(json.dumps({"committed": ids, "state": "failed"}), flush=True)
        # one atomic batch for half of them, group-committed single calls for the rest
        await store.transition_many([Transition(i, State.READY, "child") for i in ids[:half]])
        print(json.dumps({"committed": ids[:half], "state": "ready"}), flush=True)
        await asyncio.gather(*[store.transition(i, State.READY, actor="child") for i in ids[half:]])
        print(json.dumps({"committed": ids[half:], "state": "ready"}), flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


async def _run_and_kill(url: str, data_dir, n: int, commits_before_kill: int) -> dict[str, str]:
    """Start the child, SIGKILL it after some commits, return the last state it saw
    committed for each message."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, url, str(data_dir), str(n),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    seen: dict[str, str] = {}
    commits = 0
    try:
        while commits < commits_before_kill:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if not line:
                err = await proc.stderr.read()
                pytest.fail(f"child ended early: {err.decode()[-2000:]}")
            event = json.loads(line)
            for msg_id in event.get("committed", []):
                seen[msg_id] = event["state"]
            commits += "committed" in event
        await asyncio.sleep(0.003 * (commits_before_kill % 7))   # land somewhere mid-batch
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return seen


@pytest.mark.parametrize("commits", [9, 16])
async def test_sigkill_mid_batch_leaves_a_consistent_store(db_url, tmp_path, commits):
    seen = await _run_and_kill(db_url, tmp_path, 120, commits)
    store = await Store.open(db_url, tmp_path)
    try:
        msgs = await store.list(limit=1000)
        assert len(msgs) == 120
        for msg in msgs:
            assert msg.state in TRANSITIONS[msg.direction]
            slip = await store.history(msg.id)
            steps = [(h.from_state, h.to_state) for h in slip]
            assert check_history(msg.direction, steps, msg.state) is None, (msg.state, steps)
            if msg.id in seen:
                # what the child saw committed is on disk: that state is in the slip
                assert State(seen[msg.id]) in {s for _, s in steps}
            if msg.state is State.SENDING:
                assert msg.claimed_by == "child" and msg.lease_until is not None
            assert await store.payload(msg.id)            # payload present and digest ok
        report = await store.verify_audit()
        assert report.broken is None and report.count >= 120
        # the store keeps working after the crash: stuck `sending` messages are reclaimed
        # once their lease expires, then claimed again
        stuck = [m for m in msgs if m.state is State.SENDING]
        if stuck:
            from datetime import timedelta

            from gateway.model import Transition
            later = max(m.lease_until for m in stuck) + timedelta(seconds=1)
            back = await store.reclaim_leases(
                lambda m: Transition(m.id, State.RETRY_WAIT, "survivor", "lease expired"), now=later)
            assert {m.id for m in stuck} <= {m.id for m in back}
            taken = await store.claim_due("survivor", limit=1000, now=later)
            assert {m.id for m in stuck} <= {m.id for m in taken}
    finally:
        await store.aclose()
