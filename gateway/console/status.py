"""The dashboard's figures, read from the store and the node: messages by direction and
state, the oldest message still waiting, partners, certificates close to expiry, the last
job runs and the audit chain's status (verified at most once a minute)."""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select

from ..crypto.expiry import all_certificates
from ..model import Direction, Message, State
from ..store.batch import META_COLUMNS, to_message
from ..store.tables import messages

#: what counts as waiting: outbound not yet settled, inbound not yet taken over
WAITING = {Direction.OUT: (State.ACCEPTED, State.READY, State.SENDING, State.SENT, State.RETRY_WAIT),
           Direction.IN: (State.RECEIVED, State.VERIFIED, State.DELIVERED)}
EXPIRY_DAYS = 30


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """The audit chain when last verified."""

    count: int
    intact: bool
    head_hash: str
    broken: str
    checked_at: datetime


class Status:
    """Dashboard data of one gateway; `jobs()` (the scheduler's status) when the node runs one."""

    def __init__(self, gateway, jobs: Callable[[], list[dict]] | None = None, chain_ttl: float = 60.0):
        self.gw = gateway
        self.jobs = jobs
        self.chain_ttl = chain_ttl
        self._chain: tuple[float, ChainStatus] | None = None

    async def counts(self) -> dict[str, dict[str, int]]:
        """direction -> state -> number of messages (every state listed, zeros too)."""
        found = await self.gw.store.counts()
        out = {}
        for direction in Direction:
            states = [s for s in State if (direction, s) in found or _belongs(direction, s)]
            out[direction.value] = {s.value: found.get((direction, s), 0) for s in states}
        return out

    async def oldest_waiting(self) -> Message | None:
        """The message waiting longest (outbound unsettled or inbound not taken over)."""
        m = messages.c
        best = None
        async with self.gw.store.reading() as conn:
            for direction, states in WAITING.items():
                row = (await conn.execute(select(*META_COLUMNS)
                                          .where(m.direction == direction.value,
                                                 m.state.in_([s.value for s in states]))
                                          .order_by(m.created_at).limit(1))).mappings().first()
                if row is not None and (best is None or row["created_at"] < best.created_at):
                    best = to_message(row)
        return best

    def certificates(self, now: datetime) -> list[dict]:
        """Own and partner certificates (and CRLs), soonest expiry first, flagged."""
        found = [c for c in all_certificates(self.gw.config, now) if c.expires is not None]
        found.sort(key=lambda c: c.expires)
        return [{"role": c.role, "owner": c.owner, "subject": c.subject, "expires": c.expires,
                 "flag": c.flag(now, EXPIRY_DAYS)} for c in found]

    def job_runs(self) -> list[dict]:
        """The scheduler's jobs with their last runs (from this node's scheduler or its status file)."""
        if self.jobs is not None:
            return list(self.jobs())
        from ..operations.scheduler import status_path
        path = status_path(self.gw.config, self.gw.node)
        try:
            return json.loads(path.read_text()).get("jobs", [])
        except (OSError, ValueError):
            return []

    async def chain(self, *, fresh: bool = False) -> ChainStatus:
        """The audit chain's status, verified again when older than `chain_ttl` or `fresh`."""
        if not fresh and self._chain is not None and time.monotonic() - self._chain[0] < self.chain_ttl:
            return self._chain[1]
        report = await self.gw.store.verify_audit()
        status = ChainStatus(report.count, report.broken is None, report.head_hash,
                             str(report.broken) if report.broken else "", self.gw.clock())
        self._chain = (time.monotonic(), status)
        return status

    async def dashboard(self) -> dict[str, Any]:
        """Everything the dashboard shows."""
        now = self.gw.clock()
        certificates = await asyncio.to_thread(self.certificates, now)
        return {"counts": await self.counts(), "oldest": await self.oldest_waiting(),
                "partners": partners(self.gw), "certificates": certificates[:10],
                "jobs": self.job_runs(), "chain": await self.chain(), "now": now}


def _belongs(direction: Direction, state: State) -> bool:
    from ..model import TRANSITIONS
    return state in TRANSITIONS[direction]


def partners(gateway) -> list[dict]:
    """The partner directory: id, name, transport, endpoints, accepted types."""
    out = []
    for spec in gateway.config.partners.values():
        out.append({"id": spec.id, "name": spec.name, "transport": spec.transport,
                    "endpoints": list(spec.endpoints), "accepts": list(spec.accepts)})
    return out
