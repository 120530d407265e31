"""`gateway send TYPE RECORD.json --to PARTNER [--wait]`: build, validate, sign, store, deliver."""
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
    p = sub.add_parser("send", help="send a record as a signed message to a partner",
                       description="Build the message from RECORD.json, validate, sign and store it for "
                                   "delivery to PARTNER (a running `gateway serve` delivers it). Prints the "
                                   "message id; with --wait, delivers it now and prints the outcome.")
    p.add_argument("type", metavar="TYPE", help="message type, e.g. personenstand.urkundenantrag.0100")
    p.add_argument("record", metavar="RECORD.json", type=Path, help="the record (JSON object)")
    p.add_argument("--to", required=True, metavar="PARTNER", help="partner id from the directory")
    p.add_argument("--wait", action="store_true", help="deliver now and wait for a final state")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="--wait limit (default 60)")
    p.add_argument("--client-ref", metavar="REF", help="your reference; sending it again returns the first message")
    p.set_defaults(func=send_command)


def send_command(args) -> int:
    """Handler of `gateway send`."""
    try:
        record = json.loads(args.record.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{args.record}:{exc.lineno}: not JSON: {exc.msg}") from None
    config = configuration.load(args.config)
    try:
        return asyncio.run(_send(config, args, record))
    except ValidationFailed as exc:
        for issue in exc.issues:
            print(issue.format(str(args.record)), file=sys.stderr)
        return EXIT_INVALID


async def _send(config, args, record) -> int:
    from .. import bootstrap

    gw = await bootstrap.build(config)
    try:
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
