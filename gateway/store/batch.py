"""Applying transitions in batches: one transaction, one SELECT, one executemany UPDATE and
one executemany INSERT of history rows (plus receipts and audit entries) for many messages.

`apply` checks every requested move against gateway.model before anything is written.
`GroupCommit` collects `Store.transition` calls from concurrent tasks while the previous
transaction commits and writes them together (group commit): the fsync per commit is shared
by every caller in the group, a failing item only fails its own caller.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Mapping, Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import GatewayError, LeaseLost, NotFound, StateError
from ..model import Direction, Message, State, Transition, audit_event, check_transition
from . import audit
from .chain import AuditEvent
from .payloads import digest
from .tables import history, messages, receipts

META_COLUMNS = [c for c in messages.c if c.name != "payload"]
MUTABLE = ("state", "attempts", "next_attempt_at", "claimed_by", "lease_until", "last_error",
           "transport_id", "updated_at")

_update_stmt = (update(messages).where(messages.c.id == bindparam("b_id"))
                .values({name: bindparam(f"b_{name}") for name in MUTABLE}))


@dataclass(frozen=True, slots=True)
class Lease:
    """A claim written with a transition: who holds the message and until when."""

    node: str
    until: datetime


def to_message(row: Mapping[str, Any]) -> Message:
    """A Message value from a messages row (mapping)."""
    return Message(
        id=row["id"], direction=Direction(row["direction"]), message_uuid=row["message_uuid"],
        message_type=row["message_type"], partner=row["partner"], state=State(row["state"]),
        attempts=row["attempts"], created_at=row["created_at"], updated_at=row["updated_at"],
        digest=row["digest"], size=row["size"], client=row["client"],
        client_ref=row["client_ref"], next_attempt_at=row["next_attempt_at"],
        claimed_by=row["claimed_by"], lease_until=row["lease_until"],
        last_error=row["last_error"], transport_id=row["transport_id"],
        payload_file=row["payload_file"])


async def load(conn: AsyncConnection, ids: Sequence[str], *, lock: bool) -> dict[str, dict]:
    """Current metadata rows by id; locked FOR UPDATE on PostgreSQL when `lock`."""
    q = select(*META_COLUMNS).where(messages.c.id.in_(sorted(set(ids)))).order_by(messages.c.id)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return {r["id"]: dict(r) for r in (await conn.execute(q)).mappings()}


async def apply(conn: AsyncConnection, items: Sequence[Transition], now: datetime, *,
                strict: bool, leases: Mapping[str, Lease] | None = None,
                rows: dict[str, dict] | None = None) -> list[Message | GatewayError]:
    """Check and write transitions in the caller's transaction.

    strict: the first illegal item raises (the caller's transaction rolls back); otherwise
    an illegal item gets its exception as result and the others are written. A message in
    `leases` is claimed by the transition (lease set, attempts + 1)."""
    leases = leases or {}
    current = rows if rows is not None else await load(conn, [t.message_id for t in items], lock=True)
    results: list[Message | GatewayError] = []
    updates, steps, events, new_receipts = [], [], [], []
    for t in items:
        row = current.get(t.message_id)
        try:
            if row is None:
                raise NotFound(f"message {t.message_id}")
            if t.node is not None and row["claimed_by"] != t.node:
                raise LeaseLost(f"message {t.message_id}: the lease of node {t.node} expired and "
                                f"{row['claimed_by'] or 'nobody'} holds it now ({row['state']})")
            if t.unchanged_since is not None and row["updated_at"] != t.unchanged_since:
                raise StateError(f"message {t.message_id} changed since {t.unchanged_since.isoformat()} "
                                 f"(now {row['state']}); the move was decided on what it was then")
            direction, frm = Direction(row["direction"]), State(row["state"])
            check_transition(direction, frm, t.to)
        except GatewayError as exc:
            if strict:
                raise
            results.append(exc)
            continue
        row = dict(row)
        lease = leases.get(t.message_id)
        row.update(state=t.to.value, updated_at=now, next_attempt_at=t.next_attempt_at)
        if lease is not None:
            row.update(claimed_by=lease.node, lease_until=lease.until, attempts=row["attempts"] + 1)
        elif t.to != frm:
            row.update(claimed_by=None, lease_until=None)
        if t.last_error is not None:
            row["last_error"] = t.last_error
        if t.transport_id is not None:
            row["transport_id"] = t.transport_id
        current[t.message_id] = row
        updates.append({f"b_{k}": row[k] for k in MUTABLE} | {"b_id": t.message_id})
        steps.append({"message_id": t.message_id, "at": now, "from_state": frm.value,
                      "to_state": t.to.value, "actor": t.actor, "detail": t.detail})
        if t.receipt is not None:
            new_receipts.append({"message_id": t.message_id, "kind": t.receipt.kind,
                                 "positive": t.receipt.positive, "at": now, "xml": t.receipt.xml,
                                 "digest": digest(t.receipt.xml), "detail": t.receipt.detail})
        name = audit_event(direction, t.to, frm)
        if name:
            details = {"from": frm.value, "to": t.to.value, "detail": t.detail}
            if t.receipt is not None:
                details["receipt_sha256"] = new_receipts[-1]["digest"]
            events.append(AuditEvent(name, t.actor, t.message_id, details))
        results.append(to_message(row))
    if updates:
        await conn.execute(_update_stmt, updates)
        await conn.execute(insert(history), steps)
    if new_receipts:
        await conn.execute(insert(receipts), new_receipts)
    await audit.append(conn, events, now)
    return results


class GroupCommit:
    """Batches concurrent single transitions into shared transactions (group commit)."""

    def __init__(self, run: Callable[[list[Transition]], Awaitable[list[Message | GatewayError]]],
                 max_batch: int = 500):
        self._run = run
        self._max = max_batch
        self._queue: list[tuple[Transition, asyncio.Future]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closed = False

    async def submit(self, item: Transition) -> Message:
        """Queue one transition; return its Message once its group committed (or raise)."""
        if self._closed:
            raise RuntimeError("store is closed")
        fut = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut))
        self._wakeup.set()
        if self._task is None:
            self._task = asyncio.create_task(self._worker(), name="store-group-commit")
        return await fut

    async def _worker(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                group, self._queue = self._queue[:self._max], self._queue[self._max:]
                try:
                    results = await self._run([item for item, _ in group])
                except BaseException as exc:  # the whole transaction failed: tell every caller
                    for _, fut in group:
                        if not fut.done():
                            fut.set_exception(exc if isinstance(exc, Exception) else
                                              RuntimeError("store writer stopped"))
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, fut), result in zip(group, results):
                    if fut.done():
                        continue
                    if isinstance(result, Exception):
                        fut.set_exception(result)
                    else:
                        fut.set_result(result)
            if self._closed:
                return

    async def aclose(self) -> None:
        """Finish what is queued, then stop the worker."""
        self._closed = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
