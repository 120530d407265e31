"""`gateway demo`: two local gateways exchange a birth-certificate application and its answer."""
from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path


def register(sub) -> None:
    """Add the `demo` command."""
    p = sub.add_parser(
        "demo", help="run two local gateways that exchange a civil-status application",
        description="Start a citizen portal's gateway and a registry office's gateway on 127.0.0.1 "
                    "(own SQLite store, dev keys and server each), send the example application, "
                    "answer it, and print both routing slips and audit chains.")
    p.add_argument("--dir", default="data/demo", type=Path,
                   help="where both gateways keep their data (default: data/demo; reused on the next run)")
    p.add_argument("--transport", choices=("http", "soap"), default="http",
                   help="how the gateways talk to each other (default: http)")
    p.add_argument("--load", type=int, default=0, metavar="N",
                   help="then send N more applications through the same two gateways and print "
                        "the rate (acknowledged exchanges/s) and latency (p50/p99)")
    p.set_defaults(func=demo_command)


def demo_command(args) -> int:
    """Handler of `gateway demo`."""
    from .. import demo

    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    if args.load < 0:
        print("gateway demo: --load must be 0 or more", file=sys.stderr)
        return 2
    return asyncio.run(demo.run(args.dir, transport=args.transport, load=args.load))
