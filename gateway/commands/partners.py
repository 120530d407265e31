"""`gateway partners`: list (and check) the partner directory."""
from __future__ import annotations

import json
import sys

import adapters

from .. import config as configuration
from ..cli import EXIT_INVALID, EXIT_OK
from ..exchange.directory import Directory, describe


def register(sub) -> None:
    """Add the `partners` command."""
    p = sub.add_parser("partners", help="list the partner directory",
                       description="List the partners of the directory ([partners.\"ID\"] in the config), "
                                   "optionally filtered; --check reports incomplete entries.")
    p.add_argument("--accepts", metavar="TYPE", help="only partners that accept this message type")
    p.add_argument("--transport", metavar="NAME", help="only partners reached over this transport")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--check", action="store_true", help="exit 1 and name every problem of the directory")
    p.set_defaults(func=partners_command)


def partners_command(args) -> int:
    """Print the (filtered) directory; with --check, its problems."""
    directory = Directory.from_config(configuration.load(args.config))
    hits = directory.query(accepts=args.accepts, transport=args.transport)
    if args.json:
        print(json.dumps([describe(p) for p in hits], indent=2, ensure_ascii=False))
    else:
        for p in hits:
            trust = f"{len(p.trust.certificates)} cert(s), {len(p.trust.cas)} CA(s)"
            print(f"{p.id}\t{p.transport}\t{p.name or '-'}\taccepts: {', '.join(p.accepts) or 'nothing'}"
                  f"\t{' '.join(p.endpoints) or 'no endpoint'}\ttrust: {trust}")
        if not hits:
            print("(no partners)", file=sys.stderr)
    if args.check:
        problems = directory.problems(adapters.ALIASES)
        for problem in problems:
            print(f"gateway partners: {problem}", file=sys.stderr)
        return EXIT_INVALID if problems else EXIT_OK
    return EXIT_OK
