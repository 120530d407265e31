"""A gateway's state at a glance, as plain data: what `gateway status` prints and the
console's dashboard shows.

`gather(store, config, now)` reads the store (and the certificate files the configuration
names) and returns a dict of lists and numbers only (JSON-ready): queues by direction and
state, the oldest waiting outbound message per partner, partners with their last success
and failure, nodes with their heartbeats, jobs with their last and next runs (last: the
store's one-node job runs, else the local node's status file), certificates expired or
expiring, and `attention`: one line per thing an operator should look at (empty: all well).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..model import Direction, State
from ..store import nodes as store_nodes
from ..store.tables import messages, webhook_events

WAITING = (State.ACCEPTED, State.READY, State.SENDING, State.SENT, State.RETRY_WAIT)


def _stamp(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


async def gather(store, config, now: datetime, *, jobs=None, node: str = "") -> dict:
    """The status of the gateway whose store and configuration these are. `jobs`: the
    node's configured Job list (scheduler.GatewayJobs.jobs()), for next runs; `node`: this
    host's node name, whose status file holds the last runs of the other jobs."""
    m = messages.c
    async with store.reading() as conn:
        counts = (await conn.execute(select(m.direction, m.state, func.count())
                                     .group_by(m.direction, m.state))).all()
        oldest = (await conn.execute(select(m.partner, m.state, func.min(m.created_at), func.count())
                                     .where(m.direction == Direction.OUT.value,
                                            m.state.in_([s.value for s in WAITING]))
                                     .group_by(m.partner, m.state))).all()
        settled = (await conn.execute(select(m.partner, m.state, func.max(m.updated_at))
                                      .where(m.direction == Direction.OUT.value,
                                             m.state.in_([State.ACKNOWLEDGED.value, State.RETRY_WAIT.value,
                                                          State.DEAD.value, State.REJECTED.value]))
                                      .group_by(m.partner, m.state))).all()
        hooks = (await conn.execute(select(func.count()).select_from(webhook_events)
                                    .where(webhook_events.c.delivered_at.is_(None)))).scalar_one()
    queues = [{"direction": d, "state": s, "count": n} for d, s, n in sorted(counts)]
    waiting: dict[str, dict] = {}
    for partner, state, since, count in oldest:
        row = waiting.setdefault(partner, {"partner": partner, "waiting": 0, "oldest": None, "oldest_state": None})
        row["waiting"] += count
        if row["oldest"] is None or since < row["oldest"]:
            row["oldest"], row["oldest_state"] = since, state
    waiting_rows = [{**r, "oldest": _stamp(r["oldest"]),
                     "age_seconds": int((now - r["oldest"]).total_seconds())}
                    for r in sorted(waiting.values(), key=lambda r: r["oldest"])]
    last: dict[str, dict] = {}
    for partner, state, at in settled:
        kind = "last_success" if state == State.ACKNOWLEDGED.value else "last_failure"
        entry = last.setdefault(partner, {})
        if entry.get(kind) is None or at > entry[kind]:
            entry[kind] = at
    breakers = {(b.partner, b.transport): b for b in await store.breakers()}
    partners = []
    for spec in config.partners.values():
        seen = last.get(spec.id, {})
        breaker = breakers.get((spec.id, spec.transport))
        partners.append({"partner": spec.id, "name": spec.name, "transport": spec.transport,
                         "last_success": _stamp(seen.get("last_success")),
                         "last_failure": _stamp(seen.get("last_failure")),
                         "waiting": waiting.get(spec.id, {}).get("waiting", 0),
                         "breaker": breaker.state if breaker else "closed",
                         "breaker_failures": breaker.failures if breaker else 0,
                         "breaker_retry_at": _stamp(breaker.retry_at) if breaker else None,
                         "breaker_last_error": (breaker.last_error or "") if breaker else ""})
    from .observe import stuck_thresholds
    stuck = [{**g.as_dict(), "oldest": _stamp(g.oldest)}
             for g in await store.stuck(stuck_thresholds(config), now=now)]
    sched = config.scheduler
    node_rows = await store_nodes.list_nodes(store, now=now, live_within=sched.node_timeout)
    job_rows = await _jobs(store, config, now, jobs, node)
    certs = _certificates(config, now)
    status = {"at": _stamp(now), "authority": config.gateway.authority_id, "backend": store.backend,
              "queues": queues, "waiting": waiting_rows, "partners": partners,
              "webhook_backlog": hooks, "stuck": stuck, "nodes": [n.as_dict() for n in node_rows], "jobs": job_rows,
              "certificates": certs}
    status["attention"] = attention(status, config)
    return status


async def _jobs(store, config, now: datetime, jobs, node: str) -> list[dict]:
    from .cluster import ONE_NODE_JOBS, slot_of
    from .scheduler import status_path

    runs = await store_nodes.last_runs(store, [j.name for j in jobs] if jobs is not None else None)
    try:
        local = {j["name"]: j for j in json.loads(status_path(config, node).read_text())["jobs"]} if node else {}
    except (OSError, ValueError, KeyError):
        local = {}
    out = []
    for job in jobs if jobs is not None else []:
        row = {"name": job.name, "schedule": job.schedule, "one_node": job.name in ONE_NODE_JOBS,
               "last_start": None, "last_end": None, "last_node": None, "ok": None, "detail": "",
               "next_run": _stamp(_next(job, now))}
        run = runs.get(job.name)
        if run is not None:
            row.update(last_start=_stamp(run.started_at), last_end=_stamp(run.finished_at), last_node=run.node,
                       ok=run.ok, detail=run.detail)
            if run.finished_at is None:
                row["detail"] = f"running on {run.node} (slot {run.slot})"
        elif job.name in local:
            mine = local[job.name]
            row.update(last_start=mine.get("last_start"), last_end=mine.get("last_end"), last_node=node,
                       ok=(not mine.get("last_error")) if mine.get("runs") else None,
                       detail=mine.get("last_error") or mine.get("last_result") or "")
            row["next_run"] = mine.get("next_run") or row["next_run"]
        if job.every and job.name in ONE_NODE_JOBS and run is not None:
            row["slot"] = run.slot
        elif not job.every:
            row["slot"] = slot_of(None, job.daily, now)
        out.append(row)
    return out


def _next(job, now: datetime) -> datetime:
    if job.every:
        return datetime.fromtimestamp((now.timestamp() // job.every + 1) * job.every, now.tzinfo)
    hour, minute = (int(x) for x in job.daily.split(":"))
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def _certificates(config, now: datetime) -> list[dict]:
    from ..crypto.expiry import all_certificates
    within = config.keys.expiry_warning_days
    out = []
    for row in all_certificates(config, now):
        flag = row.flag(now, within)
        if flag:
            out.append({"role": row.role, "owner": row.owner, "subject": row.subject,
                        "expires": _stamp(row.expires), "flag": flag,
                        "days": int((row.expires - now).total_seconds() // 86400)})
    return out


def attention(status: dict, config) -> list[str]:
    """What needs an operator, one line each: dead or failed messages, a message waiting
    longer than [delivery] receipt_timeout (or a day), a breaker not closed, stuck messages,
    no live node, a job whose last run failed, certificates expired or expiring."""
    lines = []
    for q in status["queues"]:
        if q["direction"] == "out" and q["state"] in (State.DEAD.value, State.FAILED.value) and q["count"]:
            lines.append(f"{q['count']} outbound message(s) {q['state']} (gateway messages list --state {q['state']})")
    limit = config.delivery.receipt_timeout or 86400
    for row in status["waiting"]:
        if row["age_seconds"] > limit:
            lines.append(f"partner {row['partner']}: oldest waiting message is {row['age_seconds'] // 3600} h old "
                         f"({row['oldest_state']})")
    for p in status["partners"]:
        if p["breaker"] != "closed":
            lines.append(f"partner {p['partner']} ({p['transport']}): circuit breaker {p['breaker']} after "
                         f"{p['breaker_failures']} failure(s), next probe {p['breaker_retry_at'] or '-'}: "
                         f"{p['breaker_last_error']}"[:300])
    for g in status["stuck"]:
        lines.append(f"{g['count']} {g['direction']} message(s) in {g['state']} longer than {g['threshold']:g}s "
                     f"(oldest since {g['oldest']}, e.g. {', '.join(g['sample'][:3])})")
    if status["nodes"] and not any(n["live"] for n in status["nodes"]):
        lines.append("no node is live (no heartbeat within [scheduler] node_timeout)")
    for job in status["jobs"]:
        if job["ok"] is False:
            lines.append(f"job {job['name']}: last run failed: {job['detail']}"[:300])
    for cert in status["certificates"]:
        lines.append(f"certificate {cert['flag'].lower()}: {cert['role']} of {cert['owner']} ({cert['expires']})")
    return lines

