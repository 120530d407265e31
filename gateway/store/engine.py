"""Database URLs and engines: SQLite (WAL, synchronous=FULL, one writer) or PostgreSQL.

Durability on SQLite: WAL with `synchronous=FULL` fsyncs the WAL at every commit, so a
transaction the gateway acknowledged survives a power failure; `NORMAL` would only
survive an application crash (the last commits may roll back after power loss). Group
commit (several transitions per transaction, see batch.py) pays for the extra fsyncs.
Write transactions on SQLite start with `BEGIN IMMEDIATE` on a dedicated one-connection
writer engine, so a transaction never has to upgrade its lock half-way (no SQLITE_BUSY
deadlocks); readers use their own pool and see the last committed state (WAL).
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..errors import ConfigError
from ..files import create_private, make_dirs

BUSY_TIMEOUT_MS = 30_000


def resolve_url(url: str, data_dir: Path) -> str:
    """The SQLAlchemy async URL for a configured store URL ("" = data_dir/gateway.db)."""
    if not url:
        return f"sqlite+aiosqlite:///{Path(data_dir).resolve() / 'gateway.db'}"
    try:
        u = make_url(url)
    except ArgumentError:
        raise ConfigError(f"[store] url {url!r}: not a database URL "
                          "(sqlite:///PATH or postgresql://HOST/DB)") from None
    backend = u.get_backend_name()
    if backend == "sqlite":
        u = u.set(drivername="sqlite+aiosqlite")
        if u.database and u.database != ":memory:" and not Path(u.database).is_absolute():
            u = u.set(database=str(Path(data_dir).resolve() / u.database))
    elif backend == "postgresql":
        u = u.set(drivername="postgresql+asyncpg")
    else:
        raise ConfigError(f"[store] url {url!r}: only sqlite and postgresql are supported")
    return u.render_as_string(hide_password=False)


def sqlite_file(url: str, data_dir: Path) -> Path | None:
    """The database file of a configured store URL when it is SQLite (None for PostgreSQL
    or an in-memory database)."""
    u = make_url(resolve_url(url, data_dir))
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def is_sqlite(url: str) -> bool:
    """True for an SQLite URL."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engines(url: str) -> tuple[AsyncEngine, AsyncEngine]:
    """(writer, reader) engines; the same engine twice on PostgreSQL."""
    if not is_sqlite(url):
        engine = create_async_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)
        return engine, engine
    database = make_url(url).database
    if database and database != ":memory:":
        make_dirs(Path(database).parent)
        create_private(Path(database))      # 0600 (0640 with a group) whatever the umask; WAL too
    writer = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=300)
    if not database or database == ":memory:":
        raise ConfigError("[store] url: an SQLite store needs a file (sqlite:///PATH)")
    reader = create_async_engine(url, pool_size=4, max_overflow=4)
    _sqlite_setup(writer, begin="BEGIN IMMEDIATE")
    _sqlite_setup(reader, begin="BEGIN")
    return writer, reader


def _sqlite_setup(engine: AsyncEngine, begin: str) -> None:
    """Pragmas on every new connection; take over BEGIN from the driver."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None   # we emit BEGIN ourselves (below)
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql(begin)
