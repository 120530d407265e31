"""`gateway users add|list|passwd|disable`: accounts of the console (docs/console.md)."""
from __future__ import annotations

import getpass
import json
import os
import sys

from .. import config as configuration
from ..cli import EXIT_OK, UsageError
from ..store.chain import timestamp
from .db import operator, run_with_store


def register(sub) -> None:
    """Add the `users` command and its actions."""
    users = sub.add_parser("users", help="console accounts: operators, clerks, auditors (add, list, passwd, disable)",
                           description="Accounts of the browser console at /console/. Passwords are "
                                       "read from the terminal (or from $GATEWAY_PASSWORD, for scripts), "
                                       "hashed with argon2id and never printed or logged.")
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    p = actions.add_parser("add", help="create an account")
    p.add_argument("name", metavar="NAME", help="the login name")
    p.add_argument("--role", required=True, choices=("operator", "clerk", "auditor"),
                   help="operator: the whole console; clerk: the mailbox of their units; "
                        "auditor: read messages and the audit log")
    p.add_argument("--unit", action="append", default=[], metavar="UNIT",
                   help="a clerk's mailbox unit ([console.units.UNIT]); repeat for several")
    p.set_defaults(func=add_command)

    p = actions.add_parser("list", help="the accounts: name, role, units, created, disabled")
    p.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    p.set_defaults(func=list_command)

    p = actions.add_parser("passwd", help="set a new password (the account's sessions end)")
    p.add_argument("name", metavar="NAME", help="the account")
    p.set_defaults(func=passwd_command)

    p = actions.add_parser("disable", help="disable an account at once (its sessions end)")
    p.add_argument("name", metavar="NAME", help="the account")
    p.set_defaults(func=disable_command)


def _password() -> str:
    """From $GATEWAY_PASSWORD, else asked twice on the terminal."""
    if "GATEWAY_PASSWORD" in os.environ:
        return os.environ["GATEWAY_PASSWORD"]
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: set GATEWAY_PASSWORD")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def _accounts(store):
    from ..console.accounts import Accounts

    return Accounts(store)


def add_command(args) -> int:
    """Create an account."""
    password = _password()
    known = [u.name for u in configuration.load(args.config).console.units]
    user = run_with_store(args, create=True, work=lambda store: _accounts(store).add(
        args.name, args.role, password, units=args.unit, actor=operator(), known_units=known))
    print(f"added {user.name} ({user.role}{': ' + ', '.join(user.units) if user.units else ''})")
    return EXIT_OK


def list_command(args) -> int:
    """Print the accounts (never a hash)."""
    found = run_with_store(args, lambda store: _accounts(store).list())
    if args.json:
        print(json.dumps([{"name": u.name, "role": u.role, "units": list(u.units),
                           "created_at": timestamp(u.created_at),
                           "disabled_at": timestamp(u.disabled_at) if u.disabled_at else None}
                          for u in found], indent=2))
        return EXIT_OK
    print(f"{'NAME':<20}  {'ROLE':<8}  {'STATE':<8}  {'CREATED (UTC)':<19}  UNITS")
    for u in found:
        print(f"{u.name:<20}  {u.role:<8}  {'active' if u.active else 'disabled':<8}  "
              f"{u.created_at:%Y-%m-%d %H:%M:%S}  {','.join(u.units)}")
    print(f"({len(found)} account{'s' if len(found) != 1 else ''})")
    return EXIT_OK


def passwd_command(args) -> int:
    """Set a new password."""
    password = _password()
    run_with_store(args, lambda store: _accounts(store).passwd(args.name, password, actor=operator()))
    print(f"password of {args.name} changed; its sessions ended")
    return EXIT_OK


def disable_command(args) -> int:
    """Disable an account."""
    run_with_store(args, lambda store: _accounts(store).disable(args.name, actor=operator()))
    print(f"disabled {args.name}; its sessions ended")
    return EXIT_OK
