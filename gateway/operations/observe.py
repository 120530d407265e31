"""What a running node tells Prometheus: deliveries, receipts and the store's gauges.

`instrument(gw, metrics, cluster)` is called once by `gateway serve` after the gateway is
wired. It counts at the edges, without touching the exchange code:
- each Sender is wrapped: every `send` is one delivery attempt to a partner over a transport
  (taken, or failed as retry-later/refused) with its duration;
- the receipt builder/verifier is wrapped: receipts we send and receipts we verify (and
  those arriving as messages, via `take_receipt`) are counted by result and feedback code;
- `metrics.sampler` reads the store before each scrape: messages by direction, state and
  partner, the oldest non-final message per state, webhook and inbound backlogs, live nodes,
  circuit breakers per partner and transport, stuck messages per state ([sanitizer]
  thresholds), certificate expiry (read at most every 10 min).
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..errors import Refused, RetryLater
from ..model import FINAL, Direction, State
from ..store import nodes as store_nodes
from ..store.breakers import CLOSED, OPEN, PROBING
from ..store.tables import messages, webhook_events

CERT_EVERY = timedelta(minutes=10)
BREAKER_STATES = (CLOSED, OPEN, PROBING)
SAMPLE_EVERY = 5.0           # seconds: scrapes closer together reuse the last sample (the queries scan the store)


class CountingSender:
    """A Sender that counts each attempt in the metrics; everything else is the wrapped one's."""

    def __init__(self, inner, metrics, transport: str):
        self._inner, self._metrics, self._transport = inner, metrics, transport

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def send(self, out):
        m, partner, started = self._metrics, out.partner_id, time.perf_counter()
        try:
            result = await self._inner.send(out)
        except RetryLater:
            m.delivery_failures.labels(partner, self._transport, "retry").inc()
            raise
        except Refused:
            m.delivery_failures.labels(partner, self._transport, "refused").inc()
            raise
        finally:
            m.delivery_seconds.labels(partner, self._transport).observe(time.perf_counter() - started)
        m.deliveries.labels(partner, self._transport).inc()
        return result


class CountingReceipts:
    """The gateway's receipt builder/verifier, counting what it builds and verifies."""

    def __init__(self, inner, metrics):
        self._inner, self._metrics = inner, metrics

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def build(self, **kw) -> bytes:
        xml = self._inner.build(**kw)
        count_receipt(self._metrics, "sent", kw.get("accepted", False), [f.code for f in kw.get("feedback", ())])
        return xml

    def verify(self, *args, **kw):
        info = self._inner.verify(*args, **kw)
        count_receipt(self._metrics, "received", info.accepted, info.codes)
        return info


def count_receipt(metrics, direction: str, accepted: bool, codes) -> None:
    """One receipt: a sample per feedback code (or code "none")."""
    result = "positive" if accepted else "negative"
    for code in codes or ["none"]:
        metrics.receipts.labels(direction, result, metrics.code(code)).inc()


def instrument(gw, metrics, cluster=None) -> None:
    """Count deliveries and receipts of `gw` and sample its store before each scrape."""
    gw.senders = {name: CountingSender(s, metrics, name) for name, s in gw.senders.items()}
    gw.receipts = CountingReceipts(gw.receipts, metrics)
    take_receipt = gw.take_receipt

    async def counted_take_receipt(info, xml, **kw):
        done = await take_receipt(info, xml, **kw)
        count_receipt(metrics, "received", info.accepted, info.codes)
        return done

    gw.take_receipt = counted_take_receipt
    metrics.sampler = Sampler(gw, metrics, cluster)


class Sampler:
    """Sets the store-derived gauges; called before each scrape."""

    def __init__(self, gw, metrics, cluster=None):
        self.gw, self.metrics, self.cluster = gw, metrics, cluster
        self._certs_at: datetime | None = None
        self._sampled: float | None = None

    async def __call__(self) -> None:
        if self._sampled is not None and time.monotonic() - self._sampled < SAMPLE_EVERY:
            return
        await self.sample()
        self._sampled = time.monotonic()

    async def sample(self) -> None:
        """Read the store now and set the gauges."""
        gw, mx, now = self.gw, self.metrics, self.gw.clock()
        m = messages.c
        async with gw.store.reading() as conn:
            counts = (await conn.execute(select(m.direction, m.state, m.partner, func.count())
                                         .group_by(m.direction, m.state, m.partner))).all()
            oldest = (await conn.execute(select(m.direction, m.state, func.min(m.updated_at))
                                         .where(m.state.not_in(_final_states()))
                                         .group_by(m.direction, m.state))).all()
            hooks = (await conn.execute(select(func.count()).select_from(webhook_events)
                                        .where(webhook_events.c.delivered_at.is_(None)))).scalar_one()
        known = {p.id for p in gw.directory}
        mx.messages.clear()
        folder_backlog = 0
        for direction, state, partner, count in counts:
            label = partner if partner in known else "other"
            mx.messages.labels(direction, state, label).inc(count)
            if direction == Direction.IN.value and state == State.VERIFIED.value:
                folder_backlog += count
        mx.oldest.clear()
        for direction, state, since in oldest:
            if since is not None:
                mx.oldest.labels(direction, state).set(max(0.0, (now - _aware(since)).total_seconds()))
        mx.webhook_backlog.set(hooks)
        mx.folder_backlog.set(folder_backlog)
        audit = (await store_nodes.last_finished(gw.store, ["audit"])).get("audit")
        if audit is not None:
            mx.audit_ok.set(1 if audit.ok else 0)
        mx.breaker.clear()
        for breaker in await gw.store.breakers():
            partner = breaker.partner if breaker.partner in known else "other"
            for state in BREAKER_STATES:
                mx.breaker.labels(partner, breaker.transport, state).set(1 if breaker.state == state else 0)
        mx.stuck.clear()
        for group in await gw.store.stuck(stuck_thresholds(gw.config), now=now, sample=0):
            mx.stuck.labels(group.direction.value, group.state.value).set(group.count)
        live = await store_nodes.list_nodes(gw.store, now=now, live_within=self._live_within())
        mx.nodes.set(sum(1 for n in live if n.live))
        if self._certs_at is None or now - self._certs_at >= CERT_EVERY:
            self._certs_at = now
            await asyncio.to_thread(self._certificates, now)

    def _live_within(self) -> float:
        if self.cluster is not None:
            return self.cluster.timeout
        return self.gw.config.scheduler.node_timeout

    def _certificates(self, now: datetime) -> None:
        from ..crypto.expiry import all_certificates
        rows = all_certificates(self.gw.config, now)
        self.metrics.cert_days.clear()
        soonest: dict[tuple[str, str], float] = {}
        for row in rows:
            if row.expires is None:
                continue
            role = row.role.replace(" (current)", "").replace(" ", "_")     # own, own_chain, pinned, ca, crl
            days = (row.expires - now).total_seconds() / 86400
            key = (role, row.owner)
            soonest[key] = min(days, soonest.get(key, days))
        for (role, owner), days in soonest.items():
            self.metrics.cert_days.labels(role, owner).set(round(days, 2))


def stuck_thresholds(config) -> dict[State, float]:
    """[sanitizer]'s per-state thresholds (seconds), for Store.stuck."""
    return {State(k): v for k, v in config.sanitizer.thresholds().items()}


def _final_states() -> list[str]:
    return sorted({s.value for states in FINAL.values() for s in states})


def _aware(t: datetime) -> datetime:
    from datetime import timezone
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
