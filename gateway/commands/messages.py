"""`gateway messages list|show|retry|cancel|purge`: look into and operate the message store."""
from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime

from .. import config as configuration
from ..cli import EXIT_OK, UsageError
from ..errors import NotFound
from ..model import Direction, Message, State
from ..store.chain import timestamp
from .db import operator, parse_time, run_with_store

STATES = [s.value for s in State]


def register(sub) -> None:
    """Add the `messages` command and its actions."""
    msgs = sub.add_parser("messages", help="list, inspect, retry and cancel stored messages",
                          description="Look into the message store (outbox and inbox) and operate it.")
    actions = msgs.add_subparsers(dest="messages_command", metavar="ACTION", required=True)

    p = actions.add_parser("list", help="messages matching filters, newest first")
    p.add_argument("--state", choices=STATES, action="append",
                   help="only this state (repeat for several)")
    p.add_argument("--partner", metavar="ID", help="only this partner, e.g. ags:09000009")
    p.add_argument("--type", metavar="TYPE", dest="message_type", help="only this message type")
    p.add_argument("--since", metavar="TIME", help="created at or after: 2026-03-01, ...T12:00, 7d, 12h")
    p.add_argument("--direction", choices=["in", "out"], help="only inbound or outbound")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    p.set_defaults(func=list_command)

    p = actions.add_parser("show", help="one message: metadata, timeline (routing slip), receipts; "
                                        "or its stored XML or record")
    p.add_argument("id", metavar="ID", help="message id (first column of `messages list`) or an "
                                            "unambiguous prefix of it")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--json", action="store_true", help="JSON instead of text")
    what.add_argument("--xml", action="store_true", help="print the stored (signed) XML message instead")
    what.add_argument("--record", action="store_true",
                      help="print the stored message as its record (JSON) instead")
    p.set_defaults(func=show_command)

    p = actions.add_parser("retry", help="send a retry_wait, dead, failed or sent (receipt overdue) "
                                         "outbound message again now")
    p.add_argument("id", metavar="ID", help="message id (or an unambiguous prefix) of the outbound message")
    p.add_argument("--reason", default="", help="recorded in the timeline")
    p.set_defaults(func=retry_command)

    p = actions.add_parser("cancel", help="withdraw an outbound message that is not being sent")
    p.add_argument("id", metavar="ID", help="message id (or an unambiguous prefix) of the outbound message")
    p.add_argument("--reason", default="", help="recorded in the timeline")
    p.set_defaults(func=cancel_command)

    p = actions.add_parser("purge", help="archive, then delete final messages past [store.retention]",
                           description="Apply [store.retention]: final messages whose last change is "
                                       "older than their state's retention are written to a zip in "
                                       "[store] archive_dir, then deleted with their payload files. "
                                       "Then payload files no message row references, older than "
                                       "[store] orphan_grace, are moved to data_dir/quarantine/orphan-payloads. "
                                       "The audit log keeps a record of all three.")
    p.add_argument("--dry-run", action="store_true", help="only count what would be purged or quarantined")
    p.add_argument("--no-archive", action="store_true", help="purge without writing an archive first")
    p.set_defaults(func=purge_command)


def message_dict(msg: Message) -> dict:
    """JSON-ready metadata of a message."""
    return {k: (timestamp(v) if isinstance(v, datetime) else v)
            for k, v in dataclasses.asdict(msg).items()}


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}" if at else "-"


def list_command(args) -> int:
    """Print messages matching the filters."""
    since = parse_time(args.since) if args.since else None

    async def work(store):
        return await store.list(state=args.state, partner=args.partner, since=since,
                                message_type=args.message_type, limit=args.limit,
                                direction=Direction(args.direction) if args.direction else None)

    found = run_with_store(args, work)
    if args.json:
        print(json.dumps([message_dict(m) for m in found], indent=2))
        return EXIT_OK
    print(f"{'ID':<32}  {'DIR':<3}  {'STATE':<12}  {'UPDATED (UTC)':<19}  {'TRY':>3}  PARTNER  TYPE")
    for m in found:
        print(f"{m.id:<32}  {m.direction.value:<3}  {m.state.value:<12}  {_when(m.updated_at)}  "
              f"{m.attempts:>3}  {m.partner}  {m.message_type}")
    print(f"({len(found)} message{'s' if len(found) != 1 else ''})")
    return EXIT_OK


async def resolve_id(store, given: str) -> str:
    """The full id of a message from its id or an unambiguous prefix."""
    text = given.strip().lower()
    found = await store.ids_starting(text, limit=2)
    if not found or (len(found) > 1 and found[0] != text):
        if len(found) > 1:
            raise UsageError(f"message id prefix {given!r} is ambiguous ({found[0]}, {found[1]}, ...): "
                             "give more characters")
        raise NotFound(f"message {given}")
    return found[0]


def show_command(args) -> int:
    """Print one message with its timeline and receipts, or its stored XML or record."""
    async def work(store):
        msg_id = await resolve_id(store, args.id)
        if args.xml or args.record:
            return await store.get(msg_id), await store.payload(msg_id), None
        return (await store.get(msg_id), await store.history(msg_id),
                await store.receipts(msg_id))

    msg, slip, receipts = run_with_store(args, work)
    if args.xml:
        sys.stdout.buffer.write(slip)
        return EXIT_OK
    if args.record:
        from ..mapping.registry import shipped_registry
        from ..xml import Limits

        config = configuration.load(args.config)
        limits = Limits(max_bytes=config.schemas.max_bytes, max_depth=config.schemas.max_depth)
        type_id, record = shipped_registry().received_record(slip, limits)
        print(json.dumps({"id": msg.id, "type": type_id, "record": record}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if args.json:
        print(json.dumps({
            "message": message_dict(msg),
            "timeline": [{"at": timestamp(h.at), "from": h.from_state, "to": h.to_state,
                          "actor": h.actor, "detail": h.detail} for h in slip],
            "receipts": [{"id": r.id, "kind": r.kind, "positive": r.positive,
                          "at": timestamp(r.at), "sha256": r.digest, "detail": r.detail}
                         for r in receipts]}, indent=2))
        return EXIT_OK
    for key, value in message_dict(msg).items():
        if value not in (None, ""):
            print(f"{key + ':':<17} {value}")
    print("\ntimeline:")
    for h in slip:
        move = h.to_state.value if h.from_state is None else (
            f"{h.from_state.value} (note)" if h.from_state == h.to_state and h.to_state is not State.SENDING
            else f"{h.from_state.value} -> {h.to_state.value}")
        print(f"  {_when(h.at)}  {move:<28} {h.actor:<16} {h.detail}")
    print("\nreceipts:" if receipts else "\nreceipts: none")
    for r in receipts:
        print(f"  {_when(r.at)}  {r.kind} {'positive' if r.positive else 'NEGATIVE'}  "
              f"sha256 {r.digest}  {r.detail}")
    return EXIT_OK


def retry_command(args) -> int:
    """Move a message back to ready."""
    async def work(store):
        return await store.retry(await resolve_id(store, args.id), actor=operator(), detail=args.reason)

    msg = run_with_store(args, work)
    print(f"{msg.id}: {msg.state.value} (will be sent at the next outbox scan)")
    return EXIT_OK


def cancel_command(args) -> int:
    """Cancel a message."""
    async def work(store):
        return await store.cancel(await resolve_id(store, args.id), actor=operator(), detail=args.reason)

    msg = run_with_store(args, work)
    print(f"{msg.id}: {msg.state.value}")
    return EXIT_OK


def purge_command(args) -> int:
    """Apply the configured retention, then quarantine orphan payload files."""
    config = configuration.load(args.config)
    sec = config.store
    archive_dir = None if args.no_archive else (
        config.path(sec.archive_dir) if sec.archive_dir else config.data_dir / "archive")

    async def work(store):
        report = None
        if sec.retention:
            report = await store.purge_expired(dict(sec.retention), actor=operator(),
                                               archive_dir=archive_dir, dry_run=args.dry_run)
        return report, await store.sweep_orphans(sec.orphan_grace, actor=operator(), dry_run=args.dry_run)

    report, swept = run_with_store(args, work)
    if report is None:
        print("no [store.retention] configured: messages are kept for ever")
    elif args.dry_run:
        print(f"{report.candidates} message(s) would be purged")
    else:
        for a in report.archives:
            print(f"archived {a.count} message(s) to {a.path} (sha256 {a.sha256})")
        print(f"purged {len(report.purged)} message(s)")
    for orphan in swept.orphans:
        print(f"orphan {orphan.file}  {orphan.size} bytes  modified {orphan.modified:%Y-%m-%d %H:%M:%S}  "
              f"sha256 {orphan.sha256}")
    print(swept.summary() + (f" -> {swept.quarantine}" if swept.quarantine else
                             " (dry run: nothing moved)" if args.dry_run and swept.orphans else ""))
    return EXIT_OK
