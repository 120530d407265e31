"""What the circuit breakers and per-partner limits cost the delivery engine: the same
deliveries (claim, send, move to `sent`) with them and without them, measured in alternating
rounds in the same run. SQLite store in a temp dir; a transport that takes every message at
once (asynchronous style: the message waits in `sent`), so the engine's own work is what is
timed (CPU seconds of the process, all threads), not signing or the network. `max_in_flight` is set to `concurrency`, so the limit
costs its bookkeeping but never holds a delivery back. Target: overhead under 5 %.

    .venv/bin/python -m bench delivery [--n 400] [--partners 4] [--rounds 6] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

LETTER = "korrespondenz.schreiben.0200"


class TakeAll:
    """A Sender that takes every message at once (its receipt would come later)."""

    async def send(self, msg):
        from gateway.ports import SendResult
        await asyncio.sleep(0)
        return SendResult(transport_id=msg.message_uuid, receipt_later=True)

    async def aclose(self) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print both rates and the overhead."""
    args = _args(argv)
    return asyncio.run(_main(args))


async def _main(args) -> int:
    from gateway.exchange.delivery import Deliverer

    with tempfile.TemporaryDirectory() as tmp:
        gw = await _setup(Path(tmp), args.partners, args.concurrency)
        partners = [p.id for p in gw.directory]
        plain = _without_breakers_and_limits(Deliverer(gw))
        full = Deliverer(gw)
        best = {"with breakers + limits": float("inf"), "without": float("inf")}
        try:
            for r in range(args.rounds):
                order = (("without", plain), ("with breakers + limits", full))
                for name, engine in order if r % 2 else order[::-1]:     # ABBA: no order effect
                    await _fill(gw, partners, args.n, f"{r}-{name}")
                    start = time.process_time()
                    done = 0
                    while True:
                        started = await engine.scan()
                        done += started
                        if not started:
                            break
                    best[name] = min(best[name], time.process_time() - start)
                    assert done == args.n, (name, done)
        finally:
            await gw.aclose()
    rates = {name: args.n / t for name, t in best.items()}
    base = rates["without"]
    print(f"delivery engine, {args.n} messages to {args.partners} partners, best of {args.rounds} rounds "
          "(CPU seconds of the process, all threads: robust against other load on the machine)")
    for name, rate in rates.items():
        print(f"  {name:<28} {rate:>8,.0f}/s deliveries per CPU second  {rate / base:6.1%} of without")
    overhead = base / rates["with breakers + limits"] - 1
    verdict = "ok" if overhead < 0.05 else "ABOVE target 5%"
    print(f"  overhead of breakers + per-partner limits: {overhead:+.1%} ({verdict})")
    return 0


def _without_breakers_and_limits(engine):
    """The same engine with the breaker checks and the per-partner room taken out."""
    gw = engine.gw

    async def claim_plain(node, **kw):
        kw.pop("room", None), kw.pop("default_room", None)
        from gateway.model import Direction
        from gateway.store import claims
        async with gw.store.writing() as conn:
            return await claims.claim(conn, node, limit=kw["limit"], direction=Direction.OUT,
                                      now=gw.store.clock(), lease_seconds=gw.store.lease_seconds,
                                      skip_open=False)

    class PlainStore:
        def __getattr__(self, name):
            return getattr(gw.store, name)

        claim_due = staticmethod(claim_plain)

        async def breakers(self):
            return []

    class PlainHealth:
        async def refresh(self):
            return []

        async def outcome(self, partner, error):
            return None

        def probes_due(self, now):
            return []

    class PlainGateway:
        def __getattr__(self, name):
            return getattr(gw, name)

    plain = PlainGateway()
    plain.store, plain.health = PlainStore(), PlainHealth()
    engine.gw = plain
    return engine


async def _fill(gw, partners, n: int, tag: str) -> None:
    from gateway.model import State
    for i in range(n):
        await gw.store.submit_outbound(message_uuid=f"{tag}-{i}", message_type=LETTER,
                                       partner=partners[i % len(partners)], payload=b"<x/>",
                                       actor="bench", state=State.READY)


async def _setup(root: Path, partners: int, concurrency: int):
    from gateway import bootstrap
    from gateway import config as cfg

    now = datetime.now(timezone.utc)
    raw = {"gateway": {"data_dir": "data", "authority_id": "ags:09162001", "node_id": "bench"}}
    bootstrap.ensure_dev_keys(cfg.from_dict(raw, base_dir=root), now)
    cert = str(root / "data/keys/signing.cert.pem")
    raw["delivery"] = {"concurrency": concurrency, "max_in_flight": concurrency, "batch": concurrency}
    raw["partners"] = {f"ags:0900000{k}": {"endpoints": ["memory://x"], "transport": "memory", "accepts": ["*"],
                                          "trust": {"certificates": [cert]}} for k in range(partners)}
    return await bootstrap.build(cfg.from_dict(raw, base_dir=root), senders={"memory": TakeAll()})


def _args(argv):
    p = argparse.ArgumentParser(description="overhead of circuit breakers and per-partner limits")
    p.add_argument("--n", type=int, default=400, help="messages per round")
    p.add_argument("--partners", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--quick", action="store_true", help="a short run (60 messages, 2 rounds)")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.rounds = 60, 2
    return args


if __name__ == "__main__":
    raise SystemExit(main())
