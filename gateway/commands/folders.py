"""`gateway folders list|scan|deliver|poll`: drop folders run once (e.g. from cron) or listed."""
from __future__ import annotations

import asyncio
import json
import sys

from .. import config as configuration
from ..cli import EXIT_INVALID, EXIT_OK, UsageError


def register(sub) -> None:
    """Add the `folders` command and its actions."""
    p = sub.add_parser("folders", help="drop folders: list, or run a scan once",
                       description="Drop folders of [folders] (docs/drop-folders.md). `gateway serve` runs "
                                   "them by itself; these actions run one pass now, e.g. from cron.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="the configured folders")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=list_command)
    scan = actions.add_parser("scan", help="submit the complete files of the outbound folders once",
                              description="One pass over the outbound folders: prints FILE, STATUS "
                                          "(submitted, repeated, failed, left, gone), MESSAGE ID and detail. "
                                          "Exit 1 when a file failed or was left for later.")
    scan.add_argument("--folder", metavar="NAME", help="only this outbound folder")
    scan.set_defaults(func=scan_command)
    deliver = actions.add_parser("deliver", help="write received messages to the inbound folders once")
    deliver.set_defaults(func=deliver_command)
    poll = actions.add_parser("poll", help="poll the sources (source folders, XTA mailboxes) once")
    poll.set_defaults(func=poll_command)


def list_command(args) -> int:
    """Print every configured folder with its kind, path and scope."""
    config = configuration.load(args.config)
    sec = config.folders
    rows = ([{"kind": "outbound", "name": s.name, "path": str(config.path(s.path)), "backend": s.client,
              "types": list(s.types or [s.type]), "partners": list(s.partners or [s.partner]),
              "completion": s.completion} for s in sec.outbound]
            + [{"kind": "inbound", "name": s.name, "path": str(config.path(s.path)), "types": list(s.types),
                "partners": list(s.partners), "record_json": s.record_json} for s in sec.inbound]
            + [{"kind": "source", "name": s.name, "path": str(config.path(s.path)),
                "completion": s.completion} for s in sec.source])
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    for row in rows:
        scope = f"types: {', '.join(row['types'])}\tpartners: {', '.join(row['partners'])}" if "types" in row else ""
        print(f"{row['kind']}\t{row['name']}\t{row['path']}\t{scope}".rstrip())
    if not rows:
        print("(no folders configured)", file=sys.stderr)
    return EXIT_OK


def scan_command(args) -> int:
    """Scan the outbound folders once and print what happened to each file."""
    config = configuration.load(args.config)
    names = [s.name for s in config.folders.outbound]
    if args.folder and args.folder not in names:
        raise UsageError(f"no outbound folder {args.folder!r} (configured: {', '.join(names) or 'none'})")
    return asyncio.run(_with_gateway(config, lambda gw: _scan(gw, config, args.folder)))


async def _scan(gw, config, only: str | None) -> int:
    from ..backend.dropfolder import outbound_folders

    bad = 0
    for folder in outbound_folders(config, gw):
        if only and folder.spec.name != only:
            continue
        for o in await folder.scan():
            bad += o.status in ("failed", "left")
            print(f"{folder.spec.name}/{o.file}\t{o.status}\t{o.message_id or '-'}\t{o.detail}".rstrip())
    return EXIT_INVALID if bad else EXIT_OK


def deliver_command(args) -> int:
    """Write pending received messages to the inbound folders once."""
    config = configuration.load(args.config)
    if not config.folders.inbound:
        raise UsageError("no inbound folders configured ([folders.inbound.NAME])")
    return asyncio.run(_with_gateway(config, _deliver))


async def _deliver(gw) -> int:
    from ..backend.dropfolder import inbound_folders

    count = await inbound_folders(gw.config, gw).deliver()
    print(f"{count} message(s) written")
    return EXIT_OK


def poll_command(args) -> int:
    """Poll every source once and print what each one gave."""
    config = configuration.load(args.config)
    return asyncio.run(_with_gateway(config, _poll))


async def _poll(gw) -> int:
    from adapters import sources

    from ..exchange.polling import poll

    found = sources(gw.config)
    if not found:
        raise UsageError("no sources configured ([folders.source.NAME] or XTA partners)")
    left = 0
    try:
        for named in found:
            r = await poll(gw, named, gw.config.scheduler.poll_batch)
            left += r.left
            print(f"{named.name}\tfetched {r.fetched}\taccepted {r.accepted}\trejected {r.rejected}\tleft {r.left}")
    finally:
        for named in found:
            await named.source.aclose()
    return EXIT_INVALID if left else EXIT_OK


async def _with_gateway(config, action) -> int:
    from .. import bootstrap

    gw = await bootstrap.build(config)
    try:
        return await action(gw)
    finally:
        await gw.aclose()
