"""Several gateway nodes on one store: heartbeats of live nodes, one run per job and slot.

`nodes` holds a row per node name, refreshed by its heartbeat; a node is live while its
last heartbeat is younger than the caller's `live_within`. `job_runs` holds a row per (job,
slot): the node that inserts it runs the job for that slot; the row carries a lease the
runner renews. When the runner dies, the lease runs out and another node takes the slot
over (`attempt` + 1). A finished row is never claimed again, so each slot completes once.
On PostgreSQL the row is read `FOR UPDATE`; on SQLite the single writer (BEGIN IMMEDIATE)
serializes the same read-then-write.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .tables import job_runs, nodes

n, j = nodes.c, job_runs.c


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One node as its heartbeats describe it."""

    name: str
    host: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    live: bool

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"name": self.name, "host": self.host, "pid": self.pid, "version": self.version,
                "started_at": _stamp(self.started_at), "heartbeat_at": _stamp(self.heartbeat_at),
                "stopped_at": _stamp(self.stopped_at), "live": self.live}


@dataclass(frozen=True, slots=True)
class JobRun:
    """One job's run for one slot."""

    job: str
    slot: str
    node: str
    attempt: int
    started_at: datetime
    lease_until: datetime
    finished_at: datetime | None
    ok: bool | None
    detail: str

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"job": self.job, "slot": self.slot, "node": self.node, "attempt": self.attempt,
                "started_at": _stamp(self.started_at), "lease_until": _stamp(self.lease_until),
                "finished_at": _stamp(self.finished_at), "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to `claim_slot`: `claimed` True when the caller now runs the slot;
    otherwise `run` says who has it (running or finished)."""

    claimed: bool
    run: JobRun


def _stamp(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def _insert(store):
    return (sqlite if store.backend == "sqlite" else postgresql).insert


async def heartbeat(store, node: str, *, now: datetime, host: str = "", pid: int = 0,
                    version: str = "", starting: bool = False) -> None:
    """Record that `node` is alive now; `starting` (re)sets its start time."""
    values = {"heartbeat_at": now, "stopped_at": None}
    if starting:
        values |= {"host": host, "pid": pid, "version": version, "started_at": now}
    async with store.writing() as conn:
        done = await conn.execute(update(nodes).where(n.name == node).values(**values))
        if done.rowcount == 0:
            row = {"name": node, "host": host, "pid": pid, "version": version, "started_at": now,
                   "heartbeat_at": now, "stopped_at": None}
            await conn.execute(_insert(store)(nodes).values(row).on_conflict_do_nothing())


async def stopped(store, node: str, *, now: datetime) -> None:
    """Record a clean shutdown of `node` (it is no longer live)."""
    async with store.writing() as conn:
        await conn.execute(update(nodes).where(n.name == node).values(stopped_at=now))


async def list_nodes(store, *, now: datetime, live_within: float) -> list[NodeInfo]:
    """Every node that ever heartbeat here, live ones first, then by name."""
    async with store.reading() as conn:
        rows = (await conn.execute(select(nodes))).mappings().all()
    limit = now - timedelta(seconds=live_within)
    out = [NodeInfo(**r, live=r["stopped_at"] is None and r["heartbeat_at"] >= limit) for r in rows]
    return sorted(out, key=lambda x: (not x.live, x.name))


async def claim_slot(store, job: str, slot: str, node: str, *, now: datetime,
                     lease_seconds: float) -> Claim:
    """Claim the run of `job` for `slot` for `node`: a new slot, or one whose runner's lease
    ran out before it finished (taken over). Otherwise the slot stays with its holder."""
    until = now + timedelta(seconds=lease_seconds)
    key = and_(j.job == job, j.slot == slot)
    async with store.writing() as conn:
        query = select(job_runs).where(key)
        if store.backend == "postgresql":
            query = query.with_for_update()
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            new = {"job": job, "slot": slot, "node": node, "attempt": 1, "started_at": now,
                   "lease_until": until, "finished_at": None, "ok": None, "detail": ""}
            inserted = await conn.execute(_insert(store)(job_runs).values(new)
                                          .on_conflict_do_nothing().returning(j.job))
            if inserted.first() is not None:
                return Claim(True, JobRun(**new))
            row = (await conn.execute(select(job_runs).where(key))).mappings().one()
            return Claim(False, JobRun(**row))
        if row["finished_at"] is not None or row["lease_until"] >= now:
            return Claim(False, JobRun(**row))
        taken = dict(row) | {"node": node, "attempt": row["attempt"] + 1, "started_at": now,
                             "lease_until": until,
                             "detail": f"taken over from {row['node']} (lease ran out "
                                       f"{_stamp(row['lease_until'])})"}
        await conn.execute(update(job_runs).where(key, j.finished_at.is_(None))
                           .values(node=node, attempt=taken["attempt"], started_at=now,
                                   lease_until=until, detail=taken["detail"]))
        return Claim(True, JobRun(**taken))


async def finish_slot(store, job: str, slot: str, node: str, *, now: datetime, ok: bool,
                      detail: str = "") -> bool:
    """Mark the slot done by `node`; False when another node took it over meanwhile."""
    async with store.writing() as conn:
        done = await conn.execute(update(job_runs).where(
            j.job == job, j.slot == slot, j.node == node, j.finished_at.is_(None))
            .values(finished_at=now, ok=ok, detail=detail[:2000]))
    return done.rowcount == 1


async def renew(store, node: str, *, now: datetime, lease_seconds: float) -> int:
    """Extend the leases of every unfinished slot `node` runs; how many."""
    async with store.writing() as conn:
        done = await conn.execute(update(job_runs).where(j.node == node, j.finished_at.is_(None))
                                  .values(lease_until=now + timedelta(seconds=lease_seconds)))
    return done.rowcount


async def release_own(store, node: str, *, now: datetime) -> int:
    """At start: the unfinished slots a previous process of this node left become free to
    take over at once (that process is gone); how many."""
    async with store.writing() as conn:
        done = await conn.execute(update(job_runs).where(
            j.node == node, j.finished_at.is_(None), j.lease_until > now).values(lease_until=now))
    return done.rowcount


async def orphaned(store, *, now: datetime, jobs: Sequence[str]) -> list[JobRun]:
    """Unfinished slots of these jobs whose runner's lease ran out (to be taken over)."""
    async with store.reading() as conn:
        rows = (await conn.execute(select(job_runs).where(
            j.finished_at.is_(None), j.lease_until < now, j.job.in_(list(jobs)))
            .order_by(j.started_at))).mappings().all()
    return [JobRun(**r) for r in rows]


async def last_runs(store, jobs: Sequence[str] | None = None, *, finished: bool = False) -> dict[str, JobRun]:
    """The most recent run of each job (of these `jobs`, or every job), by start; only
    finished runs when `finished`."""
    done = (j.finished_at.is_not(None),) if finished else ()
    async with store.reading() as conn:
        names = list(jobs) if jobs is not None else list(
            (await conn.execute(select(j.job).distinct())).scalars())
        out = {}
        for name in names:
            row = (await conn.execute(select(job_runs).where(j.job == name, *done)
                                      .order_by(j.started_at.desc()).limit(1))).mappings().first()
            if row is not None:
                out[name] = JobRun(**row)
    return out


async def last_finished(store, jobs: Sequence[str]) -> dict[str, JobRun]:
    """The most recent finished run of each of these jobs."""
    return await last_runs(store, jobs, finished=True)


async def runs(store, job: str | None = None, *, limit: int = 100) -> list[JobRun]:
    """Recent runs, newest first (of one job when given)."""
    q = select(job_runs)
    if job is not None:
        q = q.where(j.job == job)
    async with store.reading() as conn:
        rows = (await conn.execute(q.order_by(j.started_at.desc()).limit(limit))).mappings().all()
    return [JobRun(**r) for r in rows]


async def prune(store, *, before: datetime) -> int:
    """Delete finished runs that started before `before` (interval jobs add a row per slot)."""
    async with store.writing() as conn:
        done = await conn.execute(delete(job_runs).where(j.finished_at.is_not(None),
                                                          j.started_at < before))
    return done.rowcount
