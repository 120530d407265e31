"""The background jobs of a gateway node, run by APScheduler 3.x (docs/scheduler.md).

Each node runs its own AsyncIOScheduler with an in-memory job store. A shared job store is
never used: APScheduler 3.x processes sharing one job store run jobs twice (its FAQ says so).
Correctness across nodes comes from the store instead: outbound messages are claimed with
leases (`sending`), inbound ones are leased for delivery, drop-folder files are submitted
under a client reference (so two nodes scanning one folder store one message).

Jobs that must not run twice per slot across nodes (`cluster.ONE_NODE_JOBS`: retention,
certificates, sanitizer, poll) claim their slot in the store first when the scheduler has a
`Cluster`; a slot claimed by another node is skipped (gateway.operations.cluster).

Every job runs with max_instances=1 and coalesce=True (a slow run is never overlapped by the
same job; missed runs collapse into one). A job's exception is logged and recorded in its
status; the scheduler keeps running. `status()` is shown by /health and `gateway jobs`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from .. import logcontext
from ..files import write_atomic
from .cluster import ONE_NODE_JOBS, slot_of

log = logging.getLogger("gateway.scheduler")


@dataclass(frozen=True, slots=True)
class Job:
    """One background job: what it runs and when (every N seconds or daily at HH:MM UTC)."""

    name: str
    run: Callable[[], Awaitable[Any]]
    every: float | None = None
    daily: str = ""
    what: str = ""
    at_start: bool = False              # also run right after start

    @property
    def schedule(self) -> str:
        """The schedule in words, e.g. 'every 5s' or 'daily 03:30 UTC'."""
        return f"every {self.every:g}s" if self.every else f"daily {self.daily} UTC"


@dataclass(slots=True)
class JobStatus:
    """What a job did so far on this node (mutable; one per job)."""

    name: str
    schedule: str
    what: str
    runs: int = 0
    failures: int = 0
    skipped: int = 0                    # slots another node claimed
    running: bool = False
    last_start: datetime | None = None
    last_end: datetime | None = None
    last_result: str = ""
    last_error: str = ""
    next_run: datetime | None = None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None  # noqa: E731
        return {"name": self.name, "schedule": self.schedule, "what": self.what, "runs": self.runs,
                "failures": self.failures, "skipped": self.skipped, "running": self.running, "last_start": stamp(self.last_start),
                "last_end": stamp(self.last_end), "last_result": self.last_result,
                "last_error": self.last_error, "next_run": stamp(self.next_run)}


class Scheduler:
    """A node's jobs on an APScheduler AsyncIOScheduler with an in-memory job store."""

    def __init__(self, jobs: Sequence[Job] = (), *, node: str = "node", status_file: Path | None = None,
                 shutdown_timeout: float = 30.0, clock: Callable[[], datetime] | None = None,
                 cluster=None, metrics=None):
        self.node = node
        self.cluster = cluster
        self.metrics = metrics
        self.status_file = status_file
        self.shutdown_timeout = shutdown_timeout
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.stopping = asyncio.Event()
        self.jobs: dict[str, Job] = {}
        self._status: dict[str, JobStatus] = {}
        self._tasks: set[asyncio.Task] = set()
        self._aps = None
        for job in jobs:
            self.add(job)

    def add(self, job: Job) -> None:
        """Register a job (before `start`)."""
        if job.name in self.jobs:
            raise ValueError(f"job {job.name} is registered twice")
        if not job.every and not job.daily:
            raise ValueError(f"job {job.name} has no schedule")
        self.jobs[job.name] = job
        self._status[job.name] = JobStatus(job.name, job.schedule, job.what)

    async def start(self) -> None:
        """Start the APScheduler on the running event loop."""
        from apscheduler.executors.asyncio import AsyncIOExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        aps = AsyncIOScheduler(jobstores={"default": MemoryJobStore()},
                               executors={"default": AsyncIOExecutor()},
                               job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
                               timezone=timezone.utc, event_loop=asyncio.get_running_loop())
        now = self.clock()
        for job in self.jobs.values():
            if job.every:
                trigger = IntervalTrigger(seconds=job.every, timezone=timezone.utc)
            else:
                hour, minute = job.daily.split(":")
                trigger = CronTrigger(hour=int(hour), minute=int(minute), timezone=timezone.utc)
            extra = {"next_run_time": now} if job.at_start or job.every else {}
            aps.add_job(self._runner(job.name), trigger, id=job.name, name=job.name, **extra)
        aps.start()
        self._aps = aps
        if self.cluster is not None:
            self.cluster.jobs = [name for name in self.jobs if name in ONE_NODE_JOBS]
            self.cluster.take_over = self._take_over
        log.info("scheduler on %s: %s", self.node, ", ".join(f"{j.name} ({j.schedule})" for j in self.jobs.values()))

    def _runner(self, name: str) -> Callable[[], Awaitable[None]]:
        async def run_job() -> None:
            if self.stopping.is_set():
                return
            job = self.jobs[name]
            if self.cluster is not None and name in ONE_NODE_JOBS:
                await self.run(name, slot=slot_of(job.every, job.daily, self.clock()))
            else:
                await self.run(name)
        run_job.__name__ = f"job_{name}"
        return run_job

    async def _take_over(self, name: str, slot: str) -> None:
        """The cluster found `name`'s run for `slot` orphaned by a dead node: run it here."""
        if name in self.jobs and not self._status[name].running and not self.stopping.is_set():
            task = asyncio.create_task(self.run(name, slot=slot), name=f"takeover-{name}-{slot}")
            self._tasks.add(task)

    async def run(self, name: str, *, slot: str | None = None) -> Any:
        """Run one job now (also outside the APScheduler, e.g. `gateway jobs run`); an
        exception is logged and recorded, and re-raised only to a direct caller. With a
        `slot` (and a cluster), only when this node claims that slot."""
        job, status = self.jobs[name], self._status[name]
        logcontext.bind(job=name)
        if slot is not None and self.cluster is not None:
            claim = await self.cluster.claim(name, slot)
            if not claim.claimed:
                status.skipped += 1
                log.debug("job %s slot %s: run by %s, skipped", name, slot, claim.run.node)
                self._observe(name, "skipped", 0.0)
                return None
            log.info("job %s slot %s: running on %s (attempt %d)", name, slot, self.node, claim.run.attempt)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        status.running, status.last_start = True, self.clock()
        started, ok, detail = time.perf_counter(), False, ""
        try:
            result = await job.run()
        except asyncio.CancelledError:
            status.last_error = detail = "cancelled at shutdown"
            raise
        except Exception as exc:  # noqa: BLE001 - a failing job must not stop the others
            status.failures += 1
            status.last_error = detail = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("job %s failed", name)
            return None
        else:
            ok = True
            status.last_result = detail = "" if result is None else str(result)[:200]
            status.last_error = ""
            return result
        finally:
            status.runs += 1
            status.running, status.last_end = False, self.clock()
            if task is not None:
                self._tasks.discard(task)
            self._observe(name, "ok" if ok else "failed", time.perf_counter() - started)
            if slot is not None and self.cluster is not None and detail != "cancelled at shutdown":
                await self._finish(name, slot, ok, detail)
            self._write_status()

    async def _finish(self, name: str, slot: str, ok: bool, detail: str) -> None:
        try:
            if await self.cluster.finish(name, slot, ok=ok, detail=detail):
                log.info("job %s slot %s: finished on %s (%s)", name, slot, self.node, "ok" if ok else "failed")
            else:
                log.warning("job %s slot %s: finished on %s, but another node had taken it over",
                            name, slot, self.node)
        except Exception as exc:  # noqa: BLE001 - the lease runs out and another node runs it again
            log.warning("job %s slot %s: cannot record the end of the run: %s", name, slot, exc)

    def _observe(self, name: str, outcome: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.job_runs.labels(name, outcome).inc()
            if outcome != "skipped":
                self.metrics.job_seconds.labels(name).observe(seconds)

    @property
    def running(self) -> bool:
        """True between `start` and `aclose`."""
        return self._aps is not None and not self.stopping.is_set()

    def status(self) -> list[dict]:
        """Every job's status (for /health and `gateway jobs`)."""
        if self._aps is not None:
            for status in self._status.values():
                aps_job = self._aps.get_job(status.name)
                status.next_run = aps_job.next_run_time if aps_job else None
        return [s.as_dict() for s in self._status.values()]

    def _write_status(self) -> None:
        if self.status_file is None:
            return
        data = json.dumps({"node": self.node, "pid": os.getpid(), "written": self.clock().isoformat(),
                           "jobs": self.status()}, indent=1).encode()
        try:
            write_atomic(self.status_file, data, fsync=False)   # rewritten often; a lost one is harmless
        except OSError as exc:
            log.warning("cannot write %s: %s", self.status_file, exc)

    async def aclose(self) -> None:
        """Stop scheduling; let running jobs finish (up to shutdown_timeout), then cancel them."""
        self.stopping.set()
        if self._aps is not None:
            self._aps.pause()       # no new runs; APScheduler's shutdown would cancel running ones
        running = [t for t in self._tasks if not t.done() and t is not asyncio.current_task()]
        if running:
            _, pending = await asyncio.wait(running, timeout=self.shutdown_timeout)
            for task in pending:
                log.warning("cancelling %s at shutdown", task.get_name())
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        if self.status_file is not None:
            self.status_file.unlink(missing_ok=True)


def status_path(config, node: str) -> Path:
    """Where a node's `gateway serve` keeps its job status for `gateway jobs`."""
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in node)
    return config.data_dir / f"jobs-{safe}.json"


# -- the gateway's jobs ------------------------------------------------------------------


@dataclass
class GatewayJobs:
    """The jobs of one wired gateway, built from its configuration."""

    gw: Any
    config: Any
    metrics: Any = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    sources: list = field(default_factory=list)

    def jobs(self) -> list[Job]:
        """Only the jobs that have something to do with this configuration."""
        from adapters import sources

        from ..backend.dropfolder import inbound_folders, outbound_folders
        from ..exchange import receipt_deadline

        sec, delivery = self.config.scheduler, self.config.delivery
        jobs = [Job("outbox", self.outbox, every=delivery.drain_interval,
                    what="safety net of the continuous delivery: expired leases back to the queue, "
                         "breaker probes, due retries")]
        outbound = outbound_folders(self.config, self.gw)
        if outbound:
            jobs.append(Job("folders", lambda: self.scan(outbound), every=sec.folders_interval,
                            what="outbound drop folders: " + ", ".join(f.spec.name for f in outbound)))
        inbound = inbound_folders(self.config, self.gw)
        if inbound is not None:
            jobs.append(Job("inbound", inbound.deliver, every=sec.inbound_interval,
                            what="write received messages to: " + ", ".join(s.name for s in inbound.specs)))
        self.sources = sources(self.config)
        if self.sources:
            jobs.append(Job("poll", self.poll, every=sec.poll_interval,
                            what="poll sources: " + ", ".join(s.name for s in self.sources)))
        if receipt_deadline.needed(self.config):
            jobs.append(Job("receipts", self.receipts, every=sec.receipts_interval,
                            what=f"sent messages without a receipt for {delivery.receipt_timeout:g}s "
                                 "go back for a re-send (or dead)"))
        if self.config.sanitizer.interval > 0:
            jobs.append(Job("sanitizer", self.sanitizer, every=self.config.sanitizer.interval,
                            what="expired leases back to the queue; flag messages stuck in a state "
                                 "past [sanitizer] thresholds"))
        if sec.retention_time:
            jobs.append(Job("retention", self.retention, daily=sec.retention_time,
                            what=("archive and purge final messages past [store.retention], "
                                  if self.config.store.retention else "")
                            + "quarantine orphan payload files"))
        if sec.audit_time:
            jobs.append(Job("audit", self.audit, daily=sec.audit_time,
                            what="verify the audit log's hash chain (fails when it is broken)"))
        if sec.certificates_time:
            jobs.append(Job("certificates", self.certificates, daily=sec.certificates_time, at_start=True,
                            what=f"warn of certificates expiring within {self.config.keys.expiry_warning_days} days"))
        return jobs

    async def outbox(self) -> int:
        """The delivery engine's safety net (gateway.exchange.delivery.Deliverer.scan):
        reclaim expired leases, probe open breakers, deliver due messages; returns how many
        deliveries it started (and waited for)."""
        count = await self.gw.delivery.scan()
        if self.metrics is not None:
            self.metrics.outbox.set(count)
        return count

    async def scan(self, folders) -> str:
        """Scan every outbound drop folder once; a summary like 'submitted=2 failed=1'."""
        counts: dict[str, int] = {}
        for folder in folders:
            for outcome in await folder.scan():
                counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing"

    async def receipts(self) -> str:
        """Move messages whose receipt is overdue on, as the retry policy decides."""
        from ..exchange import receipt_deadline

        report = await receipt_deadline.expire_overdue(self.gw, timeout=self.config.delivery.receipt_timeout)
        return str(report)

    async def sanitizer(self) -> str:
        """Reclaim expired leases and flag stuck messages (gateway.exchange.sanitizer)."""
        from ..exchange.sanitizer import sanitize

        return str(await sanitize(self.gw, self.config.sanitizer.thresholds()))

    async def poll(self) -> str:
        """Poll every source once."""
        from ..exchange.polling import poll

        parts = []
        for named in self.sources:
            report = await poll(self.gw, named, self.config.scheduler.poll_batch)
            if report.fetched:
                parts.append(f"{named.name}: {report.accepted} accepted, {report.rejected} rejected, "
                             f"{report.left} left")
        return "; ".join(parts) or "nothing"

    async def retention(self) -> str:
        """Archive and purge final messages older than their state's retention (when
        [store.retention] is set), then quarantine orphan payload files."""
        sec, actor = self.config.store, f"scheduler:{self.gw.node}"
        done = "no [store.retention]"
        if sec.retention:
            archive = self.config.path(sec.archive_dir) if sec.archive_dir else self.config.data_dir / "archive"
            report = await self.gw.store.purge_expired(dict(sec.retention), actor=actor, archive_dir=archive)
            done = f"purged {len(report.purged)} of {report.candidates}, {len(report.archives)} archive(s)"
        swept = await self.gw.store.sweep_orphans(sec.orphan_grace, actor=actor)
        return f"{done}; {swept.summary()}"

    async def audit(self) -> str:
        """Verify the whole audit chain; raise (the run fails, an alert fires) when it is broken."""
        report = await self.gw.store.verify_audit()
        if report.broken is not None:
            log.error("audit chain broken at entry %s: %s", report.broken.seq, report.broken.reason)
            raise RuntimeError(f"audit chain broken at entry {report.broken.seq}: {report.broken.reason}")
        return f"{report.count} entries, chain ok, head {report.head_seq} {report.head_hash[:16]}"

    async def certificates(self) -> str:
        """Log a warning per own or partner certificate (or CRL) expired or expiring soon."""
        return await asyncio.to_thread(expiring_certificates, self.config, self.gw.clock())

    async def aclose(self) -> None:
        """Close the sources this object opened."""
        for named in self.sources:
            try:
                await named.source.aclose()
            except Exception:  # noqa: BLE001 - closing must not mask the shutdown
                log.exception("closing source %s", named.name)


def expiring_certificates(config, now: datetime) -> str:
    """Warn (log) about every certificate or CRL in the expiry window; returns a summary."""
    from ..crypto.expiry import all_certificates

    within = config.keys.expiry_warning_days
    rows = all_certificates(config, now)
    flagged = 0
    for row in rows:
        flag = row.flag(now, within)
        if flag:
            flagged += 1
            log.warning("certificate %s: %s of %s (%s) %s", flag.lower(), row.role, row.owner, row.subject,
                        f"expired {row.expires:%Y-%m-%d}" if flag == "EXPIRED" else
                        f"expires {row.expires:%Y-%m-%d}, in {(row.expires - now) // timedelta(days=1)} days")
    return f"{flagged} of {len(rows)} expired or expiring within {within} days"


def for_gateway(gw, config, *, metrics=None, cluster=None) -> tuple[Scheduler, GatewayJobs]:
    """The scheduler of `gateway serve` with every job this configuration needs; with a
    `cluster`, the one-node jobs run on one node per slot."""
    jobs = GatewayJobs(gw, config, metrics)
    sched = Scheduler(node=gw.node, status_file=status_path(config, gw.node),
                      shutdown_timeout=config.scheduler.shutdown_timeout, clock=gw.clock,
                      cluster=cluster, metrics=metrics)
    jobs.stopping = sched.stopping
    for job in jobs.jobs():
        sched.add(job)
    return sched, jobs
