"""Schema migrations with Alembic (scripts in gateway/migrations, shipped in the package).

`upgrade(engine)` brings a database to the newest revision; it is what `gateway db upgrade`
runs and what `Store.open(upgrade=True)` runs on start (config `[store] auto_upgrade`).
On PostgreSQL concurrent upgrades by several nodes are serialized by an advisory lock.
"""
from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import ConfigError

ADVISORY_KEY = 0x6777_6462   # "gwdb": schema upgrade lock on PostgreSQL


def alembic_config() -> AlembicConfig:
    """Alembic configuration pointing at the packaged migration scripts (no alembic.ini)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "gateway:migrations")
    return cfg


def head() -> str:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current(engine: AsyncEngine) -> str | None:
    """The database's revision, or None for an empty database."""
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str]:
    """Migrate to `revision`; return (before, after)."""
    cfg = alembic_config()

    def run(sync_conn) -> tuple[str | None, str]:
        if sync_conn.dialect.name == "postgresql":
            sync_conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})
        before = MigrationContext.configure(sync_conn).get_current_revision()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)
        return before, MigrationContext.configure(sync_conn).get_current_revision()

    async with engine.begin() as conn:
        return await conn.run_sync(run)


async def check(engine: AsyncEngine) -> None:
    """ConfigError unless the database is at the newest revision."""
    have, want = await current(engine), head()
    if have != want:
        raise ConfigError(f"the database schema is at revision {have or 'none (empty)'}, this "
                          f"gateway needs {want}: run `gateway db upgrade` "
                          "(or set [store] auto_upgrade = true)")
