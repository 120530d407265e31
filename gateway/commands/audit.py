"""`gateway audit verify` and `gateway audit export`: the hash-chained audit log."""
from __future__ import annotations

import json
from pathlib import Path

from ..cli import EXIT_INVALID, EXIT_OK
from .db import parse_time, run_with_store


def register(sub) -> None:
    """Add the `audit` command with `verify` and `export`."""
    audit = sub.add_parser("audit", help="verify and export the tamper-evident audit log",
                           description="The audit log is append-only; every entry carries the "
                                       "SHA-256 of the previous one.")
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    p = actions.add_parser("verify", help="check the hash chain; report the first broken entry",
                           description="Check every entry of the stored log (or of an export "
                                       "with --export) and print the chain head; exit 1 at the "
                                       "first broken entry. Keep the printed head hash: a later "
                                       "run that does not reach it shows that entries were cut off.")
    p.add_argument("--export", metavar="FILE", type=Path,
                   help="verify an export written by `gateway audit export` instead")
    p.add_argument("--expect-head", metavar="HASH",
                   help="also fail unless this earlier head hash is still in the chain")
    p.set_defaults(func=verify_command)
    p = actions.add_parser("export", help="write entries plus a manifest with digests to a zip",
                           description="Write the entries stamped within [--from, --to) to FILE "
                                       "(zip: audit.jsonl + manifest.json with the chain ends and "
                                       "SHA-256 digests). Times: 2026-03-01, 2026-03-01T12:00, 7d.")
    p.add_argument("--from", dest="since", metavar="TIME", help="first time included (default: start)")
    p.add_argument("--to", dest="until", metavar="TIME", help="first time excluded (default: now)")
    p.add_argument("file", metavar="FILE", type=Path, help="the zip to write (e.g. audit-2026-q1.zip)")
    p.set_defaults(func=export_command)


def verify_command(args) -> int:
    """Verify the stored chain or an export."""
    if args.export:
        from ..store.audit import verify_export

        manifest, broken = verify_export(args.export)
        what = f"{args.export}: {manifest.get('count', 0)} entries"
        if broken is None:
            print(f"{what}, seq {manifest.get('first_seq')}..{manifest.get('last_seq')}: chain ok; "
                  f"last hash {manifest.get('last_hash')}")
            return EXIT_OK
        print(f"{what}: BROKEN at entry {broken.seq}: {broken.reason}")
        return EXIT_INVALID

    async def work(store):
        report = await store.verify_audit()
        seen = None
        if args.expect_head and report.broken is None:
            seen = any([e.hash == args.expect_head async for e in store.audit_entries()])
        return report, seen

    report, seen = run_with_store(args, work)
    if report.broken is not None:
        print(f"audit log BROKEN at entry {report.broken.seq}: {report.broken.reason} "
              f"({report.count} entries before it are intact)")
        return EXIT_INVALID
    if seen is False:
        print(f"audit log chain ok but head {args.expect_head} is not in it: entries were "
              "removed or the log was replaced")
        return EXIT_INVALID
    print(f"audit log ok: {report.count} entries; head seq {report.head_seq} "
          f"hash {report.head_hash}")
    return EXIT_OK


def export_command(args) -> int:
    """Export a time range of the log."""
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    manifest = run_with_store(args, lambda s: s.export_audit(args.file, since=since, until=until))
    print(f"{args.file}: {manifest['count']} entries (seq {manifest['first_seq']}.."
          f"{manifest['last_seq']}), sha256 {manifest['sha256']}")
    print(json.dumps({k: manifest[k] for k in ("first_prev_hash", "last_hash")}))
    return EXIT_OK
