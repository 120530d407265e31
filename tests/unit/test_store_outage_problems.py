"""The one decision what a store outage is (gateway/server/problems.py), with real
exceptions: SQLite locked and full, disk full on a payload write, PostgreSQL gone."""
from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from gateway.errors import MessageError
from gateway.server.problems import problem_for, store_unavailable


def locked_sqlite(tmp_path) -> BaseException:
    path = tmp_path / "db.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    except OperationalError as exc:
        return exc
    finally:
        holder.close()
        engine.dispose()
    raise AssertionError("no lock error")


def test_outages_are_503_with_retry(tmp_path, caplog):
    for exc in (locked_sqlite(tmp_path), OSError(errno.ENOSPC, "No space left on device"),
                sqlite3.OperationalError("database or disk is full"), ConnectionResetError()):
        assert store_unavailable(exc), exc
        problem = problem_for(exc)
        assert (problem.status, problem.code, problem.retry) == (503, "unavailable", True)
    assert not [r for r in caplog.records if r.exc_info]


def test_wrapped_outages_are_found_through_the_chain():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("writing the payload failed") from inner
    except RuntimeError as exc:
        assert store_unavailable(exc)


@pytest.mark.parametrize("exc", [ValueError("bug"), KeyError("x"), OSError(errno.ENOENT, "missing"),
                                 MessageError("bad message")])
def test_other_errors_are_not_outages(exc):
    assert not store_unavailable(exc)
