"""`gateway jobs [run NAME]`: the scheduler's jobs of this configuration, their last runs
on a running node, or one job run now."""
from __future__ import annotations

import asyncio
import json
import socket
import sys

from .. import config as configuration
from ..cli import EXIT_INVALID, EXIT_OK, UsageError


def register(sub) -> None:
    """Add the `jobs` command."""
    p = sub.add_parser("jobs", help="list the scheduler's jobs, or run one now",
                       description="Without an action: the jobs `gateway serve` runs with this configuration "
                                   "and, when that node is running, how their last runs went "
                                   "(from data_dir/jobs-NODE.json). `run NAME` runs one job once, now.")
    p.add_argument("--json", action="store_true", help="print JSON")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    run = actions.add_parser("run", help="run one job once, now, in this process")
    run.add_argument("name", metavar="NAME",
                     help="outbox, folders, inbound, poll, receipts, sanitizer, retention, audit or certificates")
    run.set_defaults(func=run_command)
    p.set_defaults(func=list_command)


def list_command(args) -> int:
    """Print the configured jobs with the running node's status, if any."""
    from ..operations.scheduler import GatewayJobs, status_path

    config = configuration.load(args.config)
    node = config.gateway.node_id or socket.gethostname()
    holder = GatewayJobs(None, config)
    jobs = holder.jobs()
    asyncio.run(holder.aclose())
    try:
        live = {j["name"]: j for j in json.loads(status_path(config, node).read_text())["jobs"]}
    except (OSError, ValueError, KeyError):
        live = {}
    rows = [{"name": j.name, "schedule": j.schedule, "what": j.what, **live.get(j.name, {})} for j in jobs]
    if args.json:
        print(json.dumps({"node": node, "running": bool(live), "jobs": rows}, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{'JOB':<13} {'SCHEDULE':<16} {'RUNS':>5} {'FAILED':>6}  {'LAST END':<20} LAST RESULT / ERROR")
    for row in rows:
        last = row.get("last_error") or row.get("last_result") or ""
        print(f"{row['name']:<13} {row['schedule']:<16} {row.get('runs', '-'):>5} {row.get('failures', '-'):>6}  "
              f"{row.get('last_end') or '-':<20} {last}".rstrip())
        print(f"{'':<13} {row['what']}")
    if not live:
        print(f"node {node} is not running (no {status_path(config, node).name}); showing the configuration",
              file=sys.stderr)
    return EXIT_OK


def run_command(args) -> int:
    """Run one job now and print its result; exit 1 when it failed."""
    config = configuration.load(args.config)
    return asyncio.run(_run(config, args.name))


async def _run(config, name: str) -> int:
    from .. import bootstrap
    from ..operations.scheduler import GatewayJobs, Scheduler

    gw = await bootstrap.build(config)
    holder = GatewayJobs(gw, config)
    try:
        sched = Scheduler(holder.jobs(), node=gw.node, clock=gw.clock)
        if name not in sched.jobs:
            raise UsageError(f"no job {name!r} with this configuration (jobs: {', '.join(sched.jobs)})")
        result = await sched.run(name)
        (status,) = [s for s in sched.status() if s["name"] == name]
        if status["failures"]:
            print(f"gateway jobs run: {name} failed: {status['last_error']}", file=sys.stderr)
            return EXIT_INVALID
        print(f"{name}: {result if result is not None else 'done'}")
        return EXIT_OK
    finally:
        await holder.aclose()
        await gw.aclose()
