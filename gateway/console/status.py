"""The dashboard's figures. Everything `gateway status` shows comes from the one status
function, `gateway.operations.status.gather` (queues, partners with their last success and
failure, nodes with heartbeats, jobs with last and next runs, certificates expiring,
`attention`); the console adds the messages by direction and state as a full grid, the
oldest message still waiting in either direction, and the audit chain's status (verified
at most once a minute)."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..crypto.expiry import all_certificates
from ..model import TRANSITIONS, Direction, Message, State
from ..operations import status as node_status
from ..store.batch import META_COLUMNS, to_message
from ..store.tables import messages

#: what counts as waiting: outbound not yet settled, inbound not yet taken over
WAITING = {Direction.OUT: node_status.WAITING, Direction.IN: (State.RECEIVED, State.VERIFIED, State.DELIVERED)}


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """The audit chain when last verified."""

    count: int
    intact: bool
    head_hash: str
    broken: str
    checked_at: datetime


class Status:
    """Dashboard data of one gateway."""

    def __init__(self, gateway, chain_ttl: float = 60.0):
        self.gw = gateway
        self.chain_ttl = chain_ttl
        self._chain: tuple[float, ChainStatus] | None = None
        self._jobs: list | None = None

    async def job_list(self) -> list:
        """The node's configured jobs (for their next runs), built once from the configuration."""
        if self._jobs is None:
            from ..operations.scheduler import GatewayJobs
            holder = GatewayJobs(None, self.gw.config)
            self._jobs = holder.jobs()
            await holder.aclose()
        return self._jobs

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
        """Every own and partner certificate (and CRL), soonest expiry first, flagged."""
        within = self.gw.config.keys.expiry_warning_days
        found = sorted((c for c in all_certificates(self.gw.config, now) if c.expires is not None),
                       key=lambda c: c.expires)
        return [{"role": c.role, "owner": c.owner, "subject": c.subject, "expires": c.expires,
                 "flag": c.flag(now, within)} for c in found]

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
        """Everything the dashboard shows: the status of `gateway status` plus grid, oldest, chain."""
        now = self.gw.clock()
        jobs = await self.job_list()
        data = await node_status.gather(self.gw.store, self.gw.config, now, jobs=jobs, node=self.gw.node)
        found = {(q["direction"], q["state"]): q["count"] for q in data["queues"]}
        data["counts"] = {d.value: {s.value: found.get((d.value, s.value), 0) for s in TRANSITIONS[d]}
                          for d in Direction}
        data["oldest"] = await self.oldest_waiting()
        data["chain"] = await self.chain()
        return data


def partners(gateway) -> list[dict]:
    """The partner directory: id, name, transport, endpoints, accepted types."""
    return [{"id": spec.id, "name": spec.name, "transport": spec.transport,
             "endpoints": list(spec.endpoints), "accepts": list(spec.accepts)}
            for spec in gateway.config.partners.values()]


async def certificates(status: Status, now: datetime) -> list[dict]:
    """Status.certificates off the event loop (it reads the key and trust files)."""
    return await asyncio.to_thread(status.certificates, now)
