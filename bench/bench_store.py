"""State transitions per second with history rows (and audit entries), SQLite and PostgreSQL,
against raw inserts through the same driver in the same run.

    .venv/bin/python -m bench.bench_store [--batch 200] [--rounds 5] [--only sqlite|postgresql]

Every store transition here writes the state change, a history row and a hash-chained audit
entry (ready <-> failed, both audited: the worst case). Baselines: one raw INSERT per commit
and a raw executemany per commit, with the driver alone (aiosqlite / asyncpg).
"""
from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench.common import interleaved, report
from gateway.model import State, Transition
from gateway.store import Store

TARGET = 3000.0
PG_ADMIN = "postgresql://127.0.0.1:5432/test"
HISTORY_SQL = ("INSERT INTO bench_rows (message_id, at, from_state, to_state, actor, detail) "
               "VALUES ({})")


async def _messages(store: Store, n: int) -> list[str]:
    ids = []
    for i in range(n):
        res = await store.submit_outbound(message_uuid=f"b{i}-{secrets.token_hex(4)}",
                                          message_type="t", partner="p", payload=b"<m/>",
                                          actor="bench", state=State.READY)
        ids.append(res.message.id)
    return ids


def _store_candidates(loop, store: Store, batch: int) -> dict:
    """Three ways through the store, each moving `batch` messages ready <-> failed."""
    groups = {name: loop.run_until_complete(_messages(store, batch))
              for name in ("many", "group", "single")}
    state = {name: State.READY for name in groups}

    def flip(name: str) -> State:
        state[name] = State.FAILED if state[name] is State.READY else State.READY
        return state[name]

    async def many():
        to = flip("many")
        await store.transition_many([Transition(i, to, "bench") for i in groups["many"]])

    async def group():
        to = flip("group")
        await asyncio.gather(*[store.transition(i, to, actor="bench") for i in groups["group"]])

    async def single():
        to = flip("single")
        for i in groups["single"]:
            await store.transition(i, to, actor="bench")

    return {"store transition_many (1 txn/batch)": many,
            "store transition x N concurrent (group commit)": group,
            "store transition one by one (1 txn each)": single}


async def _sqlite_raw(path: Path):
    import aiosqlite
    db = await aiosqlite.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = FULL", "busy_timeout = 30000"):
        await db.execute(f"PRAGMA {pragma}")
    await db.execute("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, message_id TEXT, at TEXT,"
                     " from_state TEXT, to_state TEXT, actor TEXT, detail TEXT)")
    return db


def _raw_sqlite_candidates(loop, db, batch: int) -> dict:
    sql = HISTORY_SQL.format("?, ?, ?, ?, ?, ?")
    row = ("m", datetime.now(timezone.utc).isoformat(), "ready", "failed", "bench", "")

    async def per_row():
        for _ in range(batch):
            await db.execute("BEGIN IMMEDIATE")
            await db.execute(sql, row)
            await db.execute("COMMIT")

    async def per_batch():
        await db.execute("BEGIN IMMEDIATE")
        await db.executemany(sql, [row] * batch)
        await db.execute("COMMIT")

    return {"raw aiosqlite INSERT, 1 commit/row": per_row,
            "raw aiosqlite executemany, 1 commit/batch": per_batch}


def _raw_pg_candidates(loop, conn, batch: int) -> dict:
    sql = HISTORY_SQL.format("$1, $2, $3, $4, $5, $6")
    row = ("m", datetime.now(timezone.utc), "ready", "failed", "bench", "")

    async def per_row():
        for _ in range(batch):
            await conn.execute(sql, *row)       # autocommit: one commit per row

    async def per_batch():
        async with conn.transaction():
            await conn.executemany(sql, [row] * batch)

    return {"raw asyncpg INSERT, 1 commit/row": per_row,
            "raw asyncpg executemany, 1 commit/batch": per_batch}


def _measure(loop, title: str, candidates: dict, batch: int, rounds: int) -> dict[str, float]:
    calls = {name: (lambda fn=fn: loop.run_until_complete(fn())) for name, fn in candidates.items()}
    rates = {name: r * batch for name, r in interleaved(calls, n=1, rounds=rounds).items()}
    report(title, rates, baseline=next(iter(candidates)))
    return rates


def bench_sqlite(loop, batch: int, rounds: int) -> dict[str, float]:
    """SQLite (WAL, synchronous=FULL) in a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        db = loop.run_until_complete(_sqlite_raw(Path(tmp) / "raw.db"))
        store = loop.run_until_complete(Store.open("", tmp))
        try:
            cands = _raw_sqlite_candidates(loop, db, batch) | _store_candidates(loop, store, batch)
            return _measure(loop, f"SQLite WAL synchronous=FULL, batch {batch} "
                                  "(transitions/s incl. history + audit)", cands, batch, rounds)
        finally:
            loop.run_until_complete(store.aclose())
            loop.run_until_complete(db.close())


def bench_postgresql(loop, batch: int, rounds: int) -> dict[str, float] | None:
    """PostgreSQL at 127.0.0.1:5432 in a scratch database (skipped when absent)."""
    import asyncpg
    try:
        admin = loop.run_until_complete(asyncpg.connect(PG_ADMIN, timeout=3))
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to measure
        print(f"PostgreSQL: skipped ({exc})")
        return None
    name = f"gw_bench_{secrets.token_hex(4)}"
    loop.run_until_complete(admin.execute(f'CREATE DATABASE "{name}"'))
    url = f"postgresql://127.0.0.1:5432/{name}"
    try:
        conn = loop.run_until_complete(asyncpg.connect(url))
        loop.run_until_complete(conn.execute(
            "CREATE TABLE bench_rows (id BIGSERIAL PRIMARY KEY, message_id TEXT, at TIMESTAMPTZ,"
            " from_state TEXT, to_state TEXT, actor TEXT, detail TEXT)"))
        store = loop.run_until_complete(Store.open(url, tempfile.gettempdir()))
        try:
            cands = _raw_pg_candidates(loop, conn, batch) | _store_candidates(loop, store, batch)
            return _measure(loop, f"PostgreSQL 127.0.0.1, batch {batch} "
                                  "(transitions/s incl. history + audit)", cands, batch, rounds)
        finally:
            loop.run_until_complete(store.aclose())
            loop.run_until_complete(conn.close())
    finally:
        loop.run_until_complete(admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        loop.run_until_complete(admin.close())


def main(argv: list[str]) -> int:
    """Run the store benchmark; print rates, ratios and the >= 3,000/s SQLite target check."""
    ap = argparse.ArgumentParser(prog="bench_store", description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=200, help="transitions per measured call")
    ap.add_argument("--rounds", type=int, default=5, help="best of this many rounds")
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    ap.add_argument("--quick", action="store_true", help="a few seconds: --batch 20 --rounds 1")
    args = ap.parse_args(argv)
    if args.quick:
        args.batch, args.rounds = 20, 1
    loop = asyncio.new_event_loop()
    try:
        if args.only in (None, "sqlite"):
            rates = bench_sqlite(loop, args.batch, args.rounds)
            best = max(v for k, v in rates.items() if k.startswith("store transition_many") or
                       k.startswith("store transition x"))
            verdict = "ok" if best >= TARGET else "BELOW target"
            print(f"  target >= {TARGET:,.0f} transitions/s on SQLite (batched): "
                  f"{best:,.0f}/s {verdict}")
        if args.only in (None, "postgresql"):
            bench_postgresql(loop, args.batch, args.rounds)
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
