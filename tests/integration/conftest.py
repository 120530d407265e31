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
