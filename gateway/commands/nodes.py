"""`gateway nodes` and `gateway status`: the nodes on this store, and everything at a glance."""
from __future__ import annotations

import asyncio
import json
import socket
import sys

from .. import config as configuration
from ..cli import EXIT_INVALID, EXIT_OK
from .db import require_store


def register(sub) -> None:
    """Add the `nodes` and `status` commands."""
    p = sub.add_parser("nodes", help="the gateway nodes sharing this store, with their last heartbeat",
                       description="List every node that registered in the store: live (heartbeat within "
                                   "[scheduler] node_timeout) or not, host, pid, version, start and last heartbeat.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=nodes_command)
    p = sub.add_parser("status", help="queues, waiting messages, partners, nodes, jobs and certificates at a glance",
                       description="What an operator needs to see: messages by state, stuck messages, the oldest "
                                   "waiting message per partner, partners with their breaker, last success and "
                                   "failure, nodes, last and "
                                   "next job runs, certificates expiring. Exit 1 when something needs attention "
                                   "(listed last), for cron and monitoring.")
    p.add_argument("--json", action="store_true", help="print JSON (the same data; exit code as without)")
    p.set_defaults(func=status_command)


def _node(config) -> str:
    return config.gateway.node_id or socket.gethostname()


def nodes_command(args) -> int:
    """Print the nodes."""
    from ..store import Store
    from ..store import nodes as store_nodes
    from ..store.tables import utcnow

    config = configuration.load(args.config)
    require_store(config)

    async def main():
        store = await Store.from_config(config)
        try:
            return await store_nodes.list_nodes(store, now=utcnow(), live_within=config.scheduler.node_timeout)
        finally:
            await store.aclose()

    rows = asyncio.run(main())
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
        return EXIT_OK
    if not rows:
        print("(no node has run `gateway serve` on this store)", file=sys.stderr)
        return EXIT_OK
    print(f"{'NODE':<24} {'STATE':<8} {'HOST':<20} {'PID':>7}  {'VERSION':<8} {'STARTED':<20} LAST HEARTBEAT")
    for r in rows:
        d = r.as_dict()
        state = "live" if r.live else "stopped" if r.stopped_at else "gone"
        print(f"{r.name:<24} {state:<8} {r.host:<20} {r.pid:>7}  {r.version:<8} {d['started_at']:<20} {d['heartbeat_at']}")
    return EXIT_OK


def status_command(args) -> int:
    """Print the status; exit 1 when something needs attention."""
    from ..operations import status
    from ..operations.scheduler import GatewayJobs
    from ..store import Store
    from ..store.tables import utcnow

    config = configuration.load(args.config)
    require_store(config)

    async def main() -> dict:
        holder = GatewayJobs(None, config)
        jobs = holder.jobs()
        await holder.aclose()
        store = await Store.from_config(config)
        try:
            return await status.gather(store, config, utcnow(), jobs=jobs, node=_node(config))
        finally:
            await store.aclose()

    data = asyncio.run(main())
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_status(data)
    return EXIT_INVALID if data["attention"] else EXIT_OK


def print_status(data: dict) -> None:
    """The status as text."""
    print(f"gateway {data['authority']} ({data['backend']}) at {data['at']}")
    print("\nQUEUES")
    for direction in ("out", "in"):
        parts = [f"{q['state']}={q['count']}" for q in data["queues"] if q["direction"] == direction]
        print(f"  {direction:<4} {' '.join(parts) or '(none)'}")
    print(f"  webhook events not yet delivered: {data['webhook_backlog']}")
    for g in data["stuck"]:
        print(f"  stuck: {g['count']} {g['direction']}/{g['state']} longer than {g['threshold']:g}s, oldest since "
              f"{g['oldest']}")
    print("\nWAITING (outbound, oldest first)")
    for w in data["waiting"] or []:
        print(f"  {w['partner']:<24} {w['waiting']:>6} waiting, oldest {w['oldest']} ({_age(w['age_seconds'])}, "
              f"{w['oldest_state']})")
    if not data["waiting"]:
        print("  (nothing waiting)")
    print("\nPARTNERS")
    for p in data["partners"]:
        print(f"  {p['partner']:<24} {p['transport']:<6} breaker {p['breaker']:<8} last success "
              f"{p['last_success'] or '-':<20} last failure {p['last_failure'] or '-'}")
    print("\nNODES")
    for n in data["nodes"]:
        print(f"  {n['name']:<24} {'live' if n['live'] else 'stopped' if n['stopped_at'] else 'gone':<8} "
              f"{n['host']} pid {n['pid']}, heartbeat {n['heartbeat_at']}")
    if not data["nodes"]:
        print("  (no node has run `gateway serve` on this store)")
    print("\nJOBS")
    for j in data["jobs"]:
        result = "-" if j["ok"] is None else "ok" if j["ok"] else "FAILED"
        print(f"  {j['name']:<13} {j['schedule']:<16} last {j['last_end'] or j['last_start'] or '-':<20} "
              f"{result:<6} next {j['next_run'] or '-'}" + (f"  {j['detail']}" if j["detail"] else ""))
    print("\nCERTIFICATES (expired or expiring)")
    for c in data["certificates"]:
        print(f"  {c['flag']:<12} {c['role']:<13} {c['owner']:<20} {c['expires']} {c['subject']}")
    if not data["certificates"]:
        print("  (none)")
    print("\nATTENTION")
    for line in data["attention"]:
        print(f"  ! {line}")
    if not data["attention"]:
        print("  nothing needs attention")


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
