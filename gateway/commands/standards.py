"""`gateway standards` and `gateway codelists`: what the configuration makes the gateway
carry (docs/standards.md).

Both build what `gateway serve` builds at start-up (every schema compiled, code lists read,
header profiles compiled), so a configuration error shows here first (exit 2).
"""
from __future__ import annotations

import argparse
import json
import sys

from ..cli import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add `standards` and `codelists` to the `gateway` parser."""
    p = sub.add_parser(
        "standards", help="the configured standards: namespaces, versions, message types, header, code-list policy",
        description="List our own and the configured third-party standards (compiled as `serve` "
                    "does: a configuration error exits 2).")
    p.add_argument("--json", action="store_true", help="one JSON object per standard")
    p.set_defaults(func=cmd_standards)
    p = sub.add_parser(
        "codelists", help="the loaded code lists: URI, versions, number of codes, file",
        description="List every genericode code list the configured standards load, one line "
                    "per list version.")
    p.add_argument("--json", action="store_true", help="one JSON object per list version")
    p.add_argument("--uri", metavar="TEXT", help="only lists whose URI contains TEXT")
    p.set_defaults(func=cmd_codelists)


def describe_standards(validator) -> list[dict]:
    """One description per standard of a Validator's catalog (also checks the header profiles)."""
    from ..exchange.header import Headers

    Headers(validator.catalog.standards)        # compiles the XPath profiles, as serve does
    out = []
    for std in validator.catalog.standards:
        compiled = [c for c in validator.catalog.compiled() if c.standard == std.name]
        out.append({
            "name": std.name,
            "namespaces": sorted({c.namespace for c in compiled}),
            "versions": sorted({c.version or "any" for c in compiled}),
            "message_types": sorted({t for c in compiled for t in c.roots}),
            "header": std.header.profile,
            "codelist_policy": std.codelist_policy,
            "codelists": list(std.codelists),
            "schematron": sorted({s for c in compiled for s in c.schematron_files}),
            "folder": std.folder,
        })
    return out


def cmd_standards(args: argparse.Namespace) -> int:
    """Print the configured standards."""
    from .. import config as config_module
    from ..validation import Validator

    rows = describe_standards(Validator.from_config(config_module.load(args.config)))
    for row in rows:
        if args.json:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            continue
        print(f"{row['name']}  header {row['header']}  code lists {row['codelist_policy']}")
        print(f"  namespaces: {', '.join(row['namespaces'])}  versions: {', '.join(row['versions'])}")
        print(f"  message types ({len(row['message_types'])}): {', '.join(row['message_types'])}")
        if row["schematron"]:
            print(f"  schematron: {', '.join(row['schematron'])}")
    return EXIT_OK


def cmd_codelists(args: argparse.Namespace) -> int:
    """Print the loaded code lists, one line per (URI, version)."""
    from .. import config as config_module
    from ..validation import Validator

    lists = Validator.from_config(config_module.load(args.config)).catalog.codelists
    rows = sorted((cl for cl in lists if not args.uri or args.uri in cl.uri),
                  key=lambda cl: (cl.uri, lists.versions(cl.uri).index(cl.version)))
    for cl in rows:
        if args.json:
            sys.stdout.write(json.dumps({"uri": cl.uri, "version": cl.version, "name": cl.short_name,
                                         "codes": len(cl.codes), "file": cl.source}, ensure_ascii=False) + "\n")
        else:
            print(f"{cl.uri}  {cl.version}  {len(cl.codes)} codes  {cl.source}")
    print(f"gateway codelists: {len(rows)} list version{'s' * (len(rows) != 1)} of "
          f"{len({cl.uri for cl in rows})} list{'s' * (len({cl.uri for cl in rows}) != 1)}", file=sys.stderr)
    return EXIT_OK
