"""Alembic migrations build exactly the schema the code declares, on both backends."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.errors import ConfigError
from gateway.store import Store, schema
from gateway.store.engine import create_engines, resolve_url
from gateway.store.tables import metadata


async def test_migrations_match_the_tables(db_url, tmp_path):
    writer, reader = create_engines(resolve_url(db_url, tmp_path))
    try:
        assert await schema.current(reader) is None
        before, after = await schema.upgrade(writer)
        assert (before, after) == (None, schema.head())
        assert await schema.upgrade(writer) == (after, after)      # idempotent
        async with writer.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata))
        assert diff == []
    finally:
        await writer.dispose()
        if reader is not writer:
            await reader.dispose()


async def test_open_without_upgrade_refuses_an_old_schema(db_url, tmp_path):
    with pytest.raises(ConfigError, match="gateway db upgrade"):
        await Store.open(db_url, tmp_path, upgrade=False)
    store = await Store.open(db_url, tmp_path, upgrade=True)
    await store.aclose()
    store = await Store.open(db_url, tmp_path, upgrade=False)
    assert store.backend in ("sqlite", "postgresql")
    await store.aclose()


def test_store_urls(tmp_path):
    assert resolve_url("", tmp_path) == f"sqlite+aiosqlite:///{tmp_path.resolve()}/gateway.db"
    assert resolve_url("sqlite:///x.db", tmp_path).endswith(f"{tmp_path.resolve()}/x.db")
    assert resolve_url("postgresql://h/db", tmp_path) == "postgresql+asyncpg://h/db"
    for bad in ("mysql://h/db", "not a url"):
        with pytest.raises(ConfigError):
            resolve_url(bad, tmp_path)
