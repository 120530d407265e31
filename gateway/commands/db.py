"""`gateway db upgrade` and `gateway db current`: the store's schema; plus the helpers the
store commands share (open the configured store, parse times, the acting operator)."""
from __future__ import annotations

import asyncio
import getpass
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable, TypeVar

from .. import config as configuration
from ..cli import EXIT_OK, UsageError
from ..errors import ConfigError

if TYPE_CHECKING:  # the store pulls in SQLAlchemy and Alembic: import it only when a command runs
    from ..store import Store

T = TypeVar("T")


def register(sub) -> None:
    """Add the `db` command with `upgrade` and `current`."""
    db = sub.add_parser("db", help="the message store's database schema",
                        description="Create or migrate the store's database (Alembic migrations "
                                    "shipped with the gateway) and show its revision.")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    p = actions.add_parser("upgrade", help="create or migrate the database to this version's schema",
                           description="Migrate the database named by [store] url to the newest "
                                       "schema revision. Safe to run repeatedly and from several "
                                       "nodes at once (serialized on PostgreSQL).")
    p.set_defaults(func=upgrade_command)
    p = actions.add_parser("current", help="show the database's and the code's schema revision")
    p.set_defaults(func=current_command)


def run_with_store(args, work: Callable[["Store"], Awaitable[T]], *, upgrade: bool | None = None,
                   create: bool = False) -> T:
    """Load the configuration, open the store, run `work(store)`, close the store. Unless
    `create`, a missing SQLite store is an error (a command run in the wrong folder must not
    leave an empty store behind)."""
    config = configuration.load(args.config)
    if not create:
        require_store(config)

    async def main() -> T:
        from ..store import Store

        store = await Store.from_config(config, upgrade=upgrade)
        try:
            return await work(store)
        finally:
            await store.aclose()

    return asyncio.run(main())


def require_store(config) -> None:
    """ConfigError when the configured store is an SQLite file that does not exist."""
    from ..store.engine import sqlite_file

    path = sqlite_file(config.store.url, config.data_dir)
    if path is not None and not path.exists():
        try:
            shown = f"./{path.relative_to(Path.cwd().resolve())}"
        except ValueError:
            shown = str(path)
        raise ConfigError(f"no store at {shown} \u2014 run in the gateway's folder or pass --config")


def operator() -> str:
    """The actor name for changes made from the command line."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


_RELATIVE = re.compile(r"^(\d+)([mhd])$")


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An ISO date or date-time (UTC unless it names an offset), or a relative age like
    `30m`, `12h`, `7d` (that long before now)."""
    now = now or datetime.now(timezone.utc)
    m = _RELATIVE.match(text.strip())
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return now - timedelta(**{unit: int(m.group(1))})
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{text!r} is not a time: write 2026-03-01, 2026-03-01T12:00, "
                         "2026-03-01T12:00+01:00 or an age like 7d, 12h, 30m") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _on_database(args, op, *, create: bool = False):
    """Run `op(writer, reader)` on the configured database's engines (no schema check)."""
    config = configuration.load(args.config)
    if not create:
        require_store(config)

    async def main():
        from ..store.engine import create_engines, resolve_url

        writer, reader = create_engines(resolve_url(config.store.url, config.data_dir))
        try:
            return await op(writer, reader)
        finally:
            await writer.dispose()
            if reader is not writer:
                await reader.dispose()

    return asyncio.run(main())


def upgrade_command(args) -> int:
    """Migrate the configured database to the newest revision."""
    from ..store import schema

    before, after = _on_database(args, lambda writer, _: schema.upgrade(writer), create=True)
    if before == after:
        print(f"database is up to date (revision {after})")
    else:
        print(f"database upgraded from revision {before or 'none (empty)'} to {after}")
    return EXIT_OK


def current_command(args) -> int:
    """Print the database's revision and the newest one this gateway knows."""
    from ..store import schema
    from ..store.engine import sqlite_file

    config = configuration.load(args.config)
    path = sqlite_file(config.store.url, config.data_dir)
    if path is not None and not path.exists():       # read-only: never create it to look
        print(f"database revision: none (empty) \u2014 no store at {path} yet\n"
              f"gateway needs:     {schema.head()}  (`gateway db upgrade` creates it)")
        return EXIT_OK
    have, want = _on_database(args, lambda _, reader: schema.current(reader)), schema.head()
    state = "up to date" if have == want else "needs `gateway db upgrade`"
    print(f"database revision: {have or 'none (empty)'}\ngateway needs:     {want}  ({state})")
    return EXIT_OK
