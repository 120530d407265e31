"""The delivery engine of one node: outbound messages go to their partners continuously,
with bounded concurrency per partner and per node, a circuit breaker per partner and
transport, leases kept alive while a transport call runs, and expired leases handed back
to the queue through the retry policy.

`Deliverer` (one per Gateway, `gw.delivery`):
- `wake()`: a message was submitted: claim it now (the hand-off; no waiting for a scan).
  On PostgreSQL every node LISTENs for the NOTIFY the store sends with each message stored
  ready to send, so a message submitted on another node is claimed at once too.
- `run` (started by `start()` in `gateway serve`): waits for a wake-up and fills free slots:
  it claims as many due messages as the node has free slots (`[delivery] concurrency`),
  never more per partner than its free `max_in_flight`, and starts each delivery as its own
  task. A finished delivery frees its slot and, when the last claim found more work, claims
  again at once: a slow partner holds its own slots only ("never claim 20, wait for the
  slowest").
- `scan()` (the scheduler's `outbox` job, every `[delivery] drain_interval`): the safety
  net: expired leases back to the queue (`reclaim`), the breakers' shared state re-read,
  the probe of every breaker whose cool-down is over, then a fill.
- `start()` first reclaims the node's own leases (a restarted node does not wait for them to
  expire), then starts the loop and the lease keeper, which renews the leases of every
  delivery in flight every lease/3 seconds.

`PartnerHealth` (`gw.health`) records each delivery's outcome in the partner's breaker
(gateway.store.breakers): a transport failure (RetryLater from every endpoint) counts, an
answer (a receipt, a refusal) closes. Successes on a breaker this node last saw closed with
no failures write nothing.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from ..config import PartnerSpec
from ..errors import ConfigError, RetryLater
from ..model import Message, Transition
from ..store.breakers import CLOSED, OPEN, PROBING, Breaker, BreakerRule
from .retry import retry_after_seconds

log = logging.getLogger("gateway.delivery")


def timeouts(config, partner: PartnerSpec) -> tuple[float, float]:
    """(connect, total) seconds for one exchange with `partner` ([delivery] unless overridden)."""
    d = config.delivery
    return (d.connect_timeout if partner.connect_timeout is None else partner.connect_timeout,
            d.timeout if partner.timeout is None else partner.timeout)


def check_timeouts(config) -> None:
    """ConfigError when a delivery could outlive its lease: connect + total timeout of
    [delivery] or of any partner must stay below [store] lease_seconds."""
    lease = config.store.lease_seconds
    found = []
    d = config.delivery
    if d.connect_timeout + d.timeout >= lease:
        found.append(f"[delivery] connect_timeout + timeout = {d.connect_timeout + d.timeout:g}s")
    for spec in config.partners.values():
        connect, total = timeouts(config, spec)
        if (spec.timeout is not None or spec.connect_timeout is not None) and connect + total >= lease:
            found.append(f'[partners."{spec.id}"] connect_timeout + timeout = {connect + total:g}s')
    if found:
        raise ConfigError(f"{'; '.join(found)}: must be below [store] lease_seconds ({lease:g}s), "
                          "else a slow partner's message could be taken over and sent twice")


class PartnerHealth:
    """The node's view of the partners' breakers (shared through the store)."""

    def __init__(self, gw):
        self.gw = gw
        self.known: dict[tuple[str, str], Breaker] = {}

    def rule(self, partner: PartnerSpec) -> BreakerRule:
        """The breaker rule for one partner ([delivery], its threshold overridable)."""
        d = self.gw.config.delivery
        threshold = d.breaker_threshold if partner.breaker_threshold is None else partner.breaker_threshold
        return BreakerRule(threshold, d.breaker_cooldown, d.breaker_cooldown_factor, d.breaker_cooldown_max)

    async def refresh(self) -> list[Breaker]:
        """Re-read every breaker from the store."""
        found = await self.gw.store.breakers()
        self.known = {(b.partner, b.transport): b for b in found}
        return found

    async def outcome(self, partner: PartnerSpec, error: RetryLater | None) -> None:
        """One delivery's outcome: `error` None when the partner answered (receipt or
        refusal), else the transport failure of its last endpoint."""
        key = (partner.id, partner.transport)
        seen = self.known.get(key)
        if error is None and (seen is None or (seen.state == CLOSED and seen.failures == 0)):
            return
        now = self.gw.clock()
        hint = retry_after_seconds(error.retry_after, now) if error is not None else None
        try:
            breaker, event = await self.gw.store.record_delivery(
                partner.id, partner.transport, error is None, self.rule(partner), actor=self.gw.node,
                error=str(error or ""), retry_after=hint, now=now)
        except Exception as exc:  # noqa: BLE001 - the message's own move still happens
            log.warning("breaker of %s not updated: %s", partner.id, exc)
            return
        self.known[key] = breaker
        if event:
            log.warning("partner %s (%s): %s (%d transport failures in a row%s)", partner.id,
                        partner.transport, event.removeprefix("breaker."), breaker.failures,
                        f", next probe at {breaker.retry_at:%H:%M:%S}Z" if breaker.retry_at else "")

    def probes_due(self, now: datetime) -> list[Breaker]:
        """Breakers (as last read) whose probe may go now."""
        return [b for b in self.known.values()
                if (b.state == OPEN and b.retry_at is not None and b.retry_at <= now)
                or (b.state == PROBING and b.probe_until is not None and b.probe_until < now)]


async def reclaim(gw, *, own: bool = False) -> list[Message]:
    """Expired outbound leases (with `own`: every lease this node holds, at its start) back to
    the queue: the lost attempt goes through the retry policy (retry_wait when due, or dead
    once the attempts are spent), with a slip entry saying whose lease it was."""
    now = gw.clock()

    def decide(msg: Message) -> Transition:
        why = (f"{gw.node} restarted while sending it" if own else
               f"lease of {msg.claimed_by} expired at {msg.lease_until:%Y-%m-%dT%H:%M:%SZ} "
               "without an outcome")
        decision = gw.policy.decide(RetryLater(why, code="lease"), msg.attempts, now)
        return Transition(msg.id, decision.state, actor=gw.node, detail=decision.reason,
                          next_attempt_at=decision.at, last_error=why)

    back = await gw.store.reclaim_leases(decide, now=now, node=gw.node if own else None)
    for msg in back:
        log.warning("message %s to %s: lease reclaimed, now %s", msg.id, msg.partner, msg.state)
    if own:
        released = await gw.store.release_inbound_leases(gw.node)
        if released:
            log.info("released %d inbound delivery lease(s) held by %s before its restart", released, gw.node)
    return back


class Deliverer:
    """Continuous outbound delivery of one node (see the module docstring)."""

    def __init__(self, gw):
        self.gw = gw
        d = gw.config.delivery
        self.concurrency = d.concurrency
        self.batch = d.batch
        self.default_room = d.max_in_flight
        self.limits = {p.id: p.max_in_flight for p in gw.directory if p.max_in_flight is not None}
        self.in_flight: dict[str, int] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self._wake = asyncio.Event()
        self._fill_lock = asyncio.Lock()
        self._more = True
        self._loop: asyncio.Task | None = None
        self._keeper: asyncio.Task | None = None
        self._closing = False
        self._unlisten = None

    # -- hand-off -------------------------------------------------------------------------

    def wake(self) -> None:
        """Work arrived (a submit, a freed slot): claim now."""
        self._more = True
        self._wake.set()

    # -- filling slots ----------------------------------------------------------------------

    def room(self) -> dict[str, int]:
        """Partner -> deliveries this node may still start (partners absent: the default)."""
        partners = set(self.in_flight) | set(self.limits)
        return {p: self.limits.get(p, self.default_room) - self.in_flight.get(p, 0) for p in partners}

    async def fill(self) -> list[asyncio.Task]:
        """Claim due messages into the free slots and start their deliveries."""
        started: list[asyncio.Task] = []
        async with self._fill_lock:
            while not self._closing:
                free = self.concurrency - len(self.tasks)
                if free <= 0:
                    self._more = True
                    break
                want = min(free, self.batch)
                claimed = await self.gw.store.claim_due(self.gw.node, limit=want, room=self.room(),
                                                        default_room=self.default_room)
                started += [self._start(m) for m in claimed]
                if len(claimed) < want:       # none left, or only for partners without room
                    self._more = bool(claimed)
                    break
        return started

    def _start(self, msg: Message) -> asyncio.Task:
        self.in_flight[msg.partner] = self.in_flight.get(msg.partner, 0) + 1
        task = asyncio.create_task(self._deliver(msg), name=f"deliver-{msg.id}")
        self.tasks[msg.id] = task
        return task

    async def _deliver(self, msg: Message) -> Message | None:
        from .outbound import deliver
        try:
            return await deliver(self.gw, msg)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one failed delivery must not stop the others
            log.exception("delivery of message %s failed; its lease will be reclaimed", msg.id)
            return None
        finally:
            self.tasks.pop(msg.id, None)
            was = self.in_flight.get(msg.partner, 1)
            if was > 1:
                self.in_flight[msg.partner] = was - 1
            else:
                self.in_flight.pop(msg.partner, None)
            if self._more or was >= self.limits.get(msg.partner, self.default_room):
                self._wake.set()        # more work seen, or the partner's messages waited for this slot

    # -- the safety net ---------------------------------------------------------------------

    async def scan(self, *, wait: bool | None = None) -> int:
        """Reclaim expired leases, re-read the breakers, send due probes, fill free slots;
        with `wait` (default: when the loop is not running, e.g. `gateway jobs run outbox`)
        until the deliveries started here are done. Returns how many started."""
        if wait is None:
            wait = self._loop is None
        await reclaim(self.gw)
        await self.gw.health.refresh()
        started = []
        now = self.gw.clock()
        for breaker in self.gw.health.probes_due(now):
            partner = self.gw.directory.find(breaker.partner)
            if partner is None or partner.transport != breaker.transport or len(self.tasks) >= self.concurrency:
                continue
            msg = await self.gw.store.claim_probe(self.gw.node, breaker.partner, breaker.transport, now=now)
            if msg is not None:
                log.info("partner %s: probe with message %s", breaker.partner, msg.id)
                started.append(self._start(msg))
        started += await self.fill()
        if wait and started:
            await asyncio.gather(*started, return_exceptions=True)
        return len(started)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Reclaim this node's own leases, then deliver continuously until `aclose`."""
        await reclaim(self.gw, own=True)
        try:
            self._unlisten = await self.gw.store.listen_outbox(self.wake)
        except Exception as exc:  # noqa: BLE001 - the outbox scan still finds other nodes' messages
            log.warning("no LISTEN for other nodes' submits (the outbox scan finds them): %s", exc)
        self._loop = asyncio.create_task(self._run(), name="delivery")
        self._keeper = asyncio.create_task(self._keep_leases(), name="delivery-leases")
        self.wake()

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.fill()
            except Exception:  # noqa: BLE001 - e.g. the store is briefly unreachable: the scan retries
                log.exception("claiming outbound messages failed")

    async def renew(self) -> set[str]:
        """Renew the leases of every delivery in flight; returns the ids still held."""
        ids = list(self.tasks)
        held = await self.gw.store.renew_leases(ids, self.gw.node) if ids else set()
        for lost in set(ids) - held:
            if lost in self.tasks:
                log.warning("message %s: no longer held by %s while delivering it", lost, self.gw.node)
        return held

    async def _keep_leases(self) -> None:
        every = max(self.gw.store.lease_seconds / 3, 0.05)
        while not self._closing:
            await asyncio.sleep(every)
            try:
                await self.renew()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("renewing %d lease(s) failed", len(self.tasks))

    async def aclose(self, timeout: float = 30.0) -> None:
        """Stop claiming; let deliveries in flight finish (up to `timeout` seconds), then
        cancel them (their leases are reclaimed at the next start or by another node)."""
        self._closing = True
        self._wake.set()
        if self._unlisten is not None:
            unlisten, self._unlisten = self._unlisten, None
            await unlisten()
        for task in (self._loop, self._keeper):
            if task is not None:
                task.cancel()
        running = list(self.tasks.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        for task in (self._loop, self._keeper):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
