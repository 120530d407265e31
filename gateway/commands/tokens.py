"""`gateway tokens create|list|revoke`: API tokens of the backend systems (docs/backend-api.md)."""
from __future__ import annotations

import json
import sys

from ..cli import EXIT_OK
from ..store.chain import timestamp
from .db import operator, run_with_store


def register(sub) -> None:
    """Add the `tokens` command and its actions."""
    tokens = sub.add_parser("tokens", help="API tokens of backend systems (create, list, revoke)",
                            description="Each backend system calls the REST API with its own token, "
                                        "scoped to message types and partners. Only the token's "
                                        "SHA-256 is stored; the token is printed once.")
    actions = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)

    p = actions.add_parser("create", help="make a token for a backend system and print it once")
    p.add_argument("name", metavar="NAME", help="the backend system, e.g. portal or efile-1")
    p.add_argument("--types", nargs="+", required=True, metavar="PATTERN",
                   help="message types it may use: ids or patterns (personenstand.*, '*')")
    p.add_argument("--partners", nargs="+", required=True, metavar="PATTERN",
                   help="partners it may use: ids or patterns (ags:09162*, '*')")
    p.add_argument("--replace", action="store_true",
                   help="replace an active token of that name (rotation; the old one stops working)")
    p.set_defaults(func=create_command)

    p = actions.add_parser("list", help="the stored tokens: name, scopes, created, revoked")
    p.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    p.set_defaults(func=list_command)

    p = actions.add_parser("revoke", help="revoke a token at once")
    p.add_argument("name", metavar="NAME", help="the backend system whose active token is revoked")
    p.set_defaults(func=revoke_command)


def create_command(args) -> int:
    """Create a token and print it (stdout); a hint goes to stderr."""
    token = run_with_store(args, create=True, work=lambda store: _tokens(store).create(
        args.name, types=args.types, partners=args.partners, actor=operator(), replace=args.replace))
    print(token)
    print(f"gateway tokens: token for {args.name!r} created; it is shown only now, store it "
          "in the backend's secret store", file=sys.stderr)
    return EXIT_OK


def list_command(args) -> int:
    """Print the stored tokens (never the tokens themselves)."""
    found = run_with_store(args, lambda store: _tokens(store).list())
    if args.json:
        print(json.dumps([{"name": i.name, "types": list(i.types), "partners": list(i.partners),
                           "created_at": timestamp(i.created_at),
                           "revoked_at": timestamp(i.revoked_at) if i.revoked_at else None}
                          for i in found], indent=2))
        return EXIT_OK
    print(f"{'NAME':<20}  {'STATE':<8}  {'CREATED (UTC)':<19}  TYPES / PARTNERS")
    for i in found:
        state = "active" if i.active else "revoked"
        print(f"{i.name:<20}  {state:<8}  {i.created_at:%Y-%m-%d %H:%M:%S}  "
              f"{','.join(i.types)} / {','.join(i.partners)}")
    print(f"({len(found)} token{'s' if len(found) != 1 else ''})")
    return EXIT_OK


def revoke_command(args) -> int:
    """Revoke a token."""
    info = run_with_store(args, lambda store: _tokens(store).revoke(args.name, actor=operator()))
    print(f"revoked {info.name} at {info.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
    return EXIT_OK


def _tokens(store):
    """The token registry over an open store (imported late: it pulls in SQLAlchemy)."""
    from ..backend.tokens import Tokens

    return Tokens(store)
