"""`gateway send TYPE RECORD.json --to PARTNER [--wait]`: build, validate, sign, store, deliver.
`gateway send FILE.xml --to PARTNER [--wait]`: a complete message of a configured standard
(the type taken from the root, the routing facts from the standard's header profile)."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from .. import config as configuration
from ..cli import EXIT_INVALID, EXIT_OK, UsageError
from ..errors import ValidationFailed


def register(sub) -> None:
    """Add the `send` command."""
    p = sub.add_parser("send", help="send a record or an XML message as a signed message to a partner",
                       description="Build the message from RECORD.json (or take the complete message "
                                   "FILE.xml of a configured standard), validate, sign and store it for "
                                   "delivery to PARTNER (a running `gateway serve` delivers it). Prints the "
                                   "message id; with --wait, delivers it now and prints the outcome.")
    p.add_argument("type", metavar="TYPE|FILE.xml",
                   help="message type, e.g. personenstand.urkundenantrag.0100; or an XML message file "
                        "(then no RECORD.json: the type is its root element)")
    p.add_argument("record", metavar="RECORD.json", type=Path, nargs="?",
                   help="the record (JSON object); omitted for FILE.xml")
    p.add_argument("--to", required=True, metavar="PARTNER", help="partner id from the directory")
    p.add_argument("--wait", action="store_true", help="deliver now and wait for a final state")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="--wait limit (default 60)")
    p.add_argument("--client-ref", metavar="REF", help="your reference; sending it again returns the first message")
    p.set_defaults(func=send_command)


def send_command(args) -> int:
    """Handler of `gateway send`."""
    if args.record is None:
        source = Path(args.type)
        if not source.is_file():
            raise UsageError(f"{source}: no such file (give TYPE RECORD.json, or an XML message FILE.xml)")
        record, xml = None, source.read_bytes()
    else:
        source, xml = args.record, None
        try:
            record = json.loads(args.record.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UsageError(f"{args.record}:{exc.lineno}: not JSON: {exc.msg}") from None
    config = configuration.load(args.config)
    try:
        return asyncio.run(_send(config, args, record, xml))
    except ValidationFailed as exc:
        for issue in exc.issues:
            print(issue.format(str(source)), file=sys.stderr)
        return EXIT_INVALID


async def _send(config, args, record, xml: bytes | None) -> int:
    from .. import bootstrap

    gw = await bootstrap.build(config)
    try:
        if xml is not None:
            msg = (await gw.submit_xml(xml, to=args.to, client="cli", client_ref=args.client_ref,
                                       actor="cli")).message
        else:
            msg = await gw.submit(args.type, record, to=args.to, client="cli", client_ref=args.client_ref,
                                  actor="cli")
        print(f"{msg.id}\t{msg.message_uuid}\t{msg.state.value}")
        if not args.wait:
            return EXIT_OK
        msg = await gw.wait_final(msg.id, timeout=args.timeout)
        print(f"{msg.id}\t{msg.state.value}" + (f"\t{msg.last_error}" if msg.last_error else ""))
        return EXIT_OK if msg.state.value == "acknowledged" else EXIT_INVALID
    finally:
        await gw.aclose()
