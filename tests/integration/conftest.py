"""Fixtures for tests against real databases: an SQLite file per test, a fresh scratch
PostgreSQL database per test (created on the server at 127.0.0.1:5432, dropped after)."""
from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url


def _root_conftest():
    """tests/conftest.py (not importable as a package: tests/ has no __init__.py)."""
    spec = importlib.util.spec_from_file_location(
        "_gateway_tests_root", Path(__file__).resolve().parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_root = _root_conftest()
PG_URL, need = _root.PG_URL, _root.need


def _pg_admin_url() -> str:
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_connect():
    try:
        import asyncpg
        return await asyncpg.connect(_pg_admin_url(), timeout=3)
    except (OSError, ImportError) as exc:
        return exc
    except Exception as exc:  # asyncpg's own errors (auth, missing db)
        return exc


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite file in the test's tmp_path."""
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture
async def pg_url():
    """URL of a fresh, empty PostgreSQL database gw_<random>, dropped after the test."""
    admin = await _pg_connect()
    need(not isinstance(admin, Exception),
         f"no PostgreSQL server answers at {PG_URL}: {admin}")
    name = f"gw_{secrets.token_hex(6)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(drivername="postgresql", database=name).render_as_string(
            hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """Each backend in turn: the SQLite file, then a scratch PostgreSQL database."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture(scope="session")
def pg_session_db():
    """Name of a PostgreSQL scratch database migrated once per test run (None when no
    server answers); dropped at the end of the run."""
    import asyncio

    async def make():
        admin = await _pg_connect()
        if isinstance(admin, Exception):
            return None
        from gateway.store import schema
        from gateway.store.engine import create_engines, resolve_url
        name = f"gw_{secrets.token_hex(6)}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = make_url(PG_URL).set(drivername="postgresql", database=name)
        writer, _ = create_engines(resolve_url(url.render_as_string(hide_password=False), Path(".")))
        await schema.upgrade(writer)
        await writer.dispose()
        return name

    async def drop(name):
        admin = await _pg_connect()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    name = asyncio.run(make())
    yield name
    if name:
        asyncio.run(drop(name))


@pytest.fixture
async def migrated_pg_url(pg_session_db):
    """URL of the run's migrated PostgreSQL database, emptied for this test (TRUNCATE: far
    cheaper than CREATE/DROP DATABASE, which checkpoint)."""
    need(pg_session_db is not None, f"no PostgreSQL server answers at {PG_URL}")
    import asyncpg

    from gateway.store.tables import metadata
    url = make_url(PG_URL).set(drivername="postgresql", database=pg_session_db)
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    await conn.close()
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request) -> str:
    """Like db_url, but the PostgreSQL database is the run's migrated one, emptied."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "migrated_pg_url")
