"""The store's async API: what the orchestrator, the server and the CLI call.

Every write is one transaction that includes its history row(s) and audit entries; a
payload too large for the row is written to a file (fsync + rename) before the row commits.
Single `transition` calls from concurrent tasks are group-committed (see batch.py).
"""
from __future__ import annotations

import os
import secrets
import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import LeaseLost, NotFound, StateError, StoreCorrupted
from ..model import (
    CANCELLABLE,
    RETRYABLE,
    Direction,
    HistoryEntry,
    Inbound,
    InboundOutcome,
    Message,
    NewReceipt,
    Receipt,
    State,
    Submitted,
    Transition,
    audit_event,
    check_transition,
)
from . import audit, batch, breakers, claims, orphans, retention, schema, stuck
from .chain import AuditEntry, AuditEvent
from .engine import create_engines, is_sqlite, resolve_url
from .payloads import PayloadFiles, digest
from .tables import history, messages, receipts, utcnow

m = messages.c
OUTBOX_CHANNEL = "gateway_outbox"   # PostgreSQL: NOTIFY when a message is ready to send


def new_id() -> str:
    """A new message id: 12 hex digits of milliseconds since 1970, then 20 random hex digits
    (sorts by creation time, unique across nodes)."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


class Store:
    """Durable outbox + inbox with routing slips, receipts and the audit log."""

    def __init__(self, url: str, data_dir: Path, *, inline_max: int = 64 * 1024,
                 lease_seconds: float = 300.0, clock: Callable[[], datetime] = utcnow):
        self.url = url
        self.data_dir = Path(data_dir)
        self.inline_max = inline_max
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.files = PayloadFiles(self.data_dir)
        self._writer, self._reader = create_engines(url)
        self._group = batch.GroupCommit(self._run_group)

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    async def open(cls, url: str = "", data_dir: str | os.PathLike = ".", *, upgrade: bool = True,
                   **options: Any) -> "Store":
        """Open the store at `url` ("" = SQLite data_dir/gateway.db); migrate the schema
        when `upgrade`, else refuse (ConfigError) a database that is not up to date."""
        store = cls(resolve_url(url, Path(data_dir)), Path(data_dir), **options)
        try:
            if upgrade:
                await schema.upgrade(store._writer)
            else:
                await schema.check(store._reader)
        except BaseException:
            await store.aclose()
            raise
        return store

    @classmethod
    async def from_config(cls, config, *, upgrade: bool | None = None, **options: Any) -> "Store":
        """Open the store a gateway.config.Config describes ([store] section)."""
        sec = config.store
        return await cls.open(sec.url, config.data_dir,
                              upgrade=sec.auto_upgrade if upgrade is None else upgrade,
                              inline_max=sec.payload_inline_max,
                              lease_seconds=sec.lease_seconds, **options)

    async def listen_outbox(self, callback: Callable[[], None]) -> Callable[[], Any] | None:
        """PostgreSQL: call `callback()` whenever any node stores a message ready to send
        (LISTEN on its own connection); returns the async closer. None on SQLite (one node)."""
        if self.backend != "postgresql":
            return None
        import asyncpg

        from sqlalchemy.engine import make_url
        url = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(url)
        await conn.add_listener(OUTBOX_CHANNEL, lambda *_: callback())
        return conn.close

    async def aclose(self) -> None:
        """Finish queued transitions and close the connections."""
        await self._group.aclose()
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return "sqlite" if is_sqlite(self.url) else "postgresql"

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self._writer.begin() as conn:
            yield conn

    def writing(self):
        """A write transaction on the store's writer (async context manager yielding the
        connection), for the tables other parts own (API tokens, webhook events)."""
        return self._write()

    def reading(self):
        """A read connection (async context manager), for the tables other parts own."""
        return self._reader.connect()

    # -- creating messages -----------------------------------------------------------------

    async def submit_outbound(self, *, message_uuid: str, message_type: str, partner: str,
                              payload: bytes, actor: str, client: str = "",
                              client_ref: str | None = None, state: State = State.ACCEPTED,
                              detail: str = "") -> Submitted:
        """Store a message to send. The same (client, client_ref) again returns the first
        message (created=False) and stores nothing (the unique index decides: no read before)."""
        check_transition(Direction.OUT, None, state)
        msg, created = await self._create(Direction.OUT, message_uuid, message_type, partner,
                                          payload, actor, state, detail, client=client,
                                          client_ref=client_ref)
        if created:
            return Submitted(msg, True)
        if client_ref is not None and msg.client == client and msg.client_ref == client_ref:
            return Submitted(msg, False)
        raise StateError(f"outbound message UUID {message_uuid} is already stored as {msg.id}")

    async def record_inbound(self, *, message_uuid: str, message_type: str, partner: str,
                             payload: bytes, actor: str, state: State = State.RECEIVED,
                             detail: str = "", transport_id: str | None = None,
                             receipt: NewReceipt | None = None, receipt_actor: str = "",
                             evidence: NewReceipt | None = None) -> Inbound:
        """Store a received message. Same UUID and content again: DUPLICATE (acknowledge
        again, do not deliver again); same UUID, other content: CONFLICT (reject; flagged
        in the audit log and the first message's routing slip). `receipt` (our answer to a
        NEW message) is stored in the same transaction, as `add_receipt` would by
        `receipt_actor`; for a duplicate or conflict it is not stored. So is `evidence` (the
        message as it arrived, when that differs from `payload`, e.g. encrypted), by `actor`."""
        check_transition(Direction.IN, None, state)
        kept = ((evidence, actor),) if evidence else ()
        kept += ((receipt, receipt_actor or actor),) if receipt else ()
        msg, created = await self._create(Direction.IN, message_uuid, message_type, partner,
                                          payload, actor, state, detail, kept=kept,
                                          transport_id=transport_id)
        if created:
            return Inbound(msg, InboundOutcome.NEW)
        new_digest = digest(payload)
        if new_digest == msg.digest:
            outcome, note, event = (InboundOutcome.DUPLICATE,
                                    f"received again from {partner}: duplicate, acknowledged "
                                    "again, not delivered again", "message.duplicate")
        else:
            outcome, note, event = (InboundOutcome.CONFLICT,
                                    f"same UUID with different content (SHA-256 {new_digest}) "
                                    f"from {partner}: rejected", "message.conflict")
        details = {"message_uuid": message_uuid, "partner": partner, "sha256": new_digest,
                   "stored_sha256": msg.digest}
        async with self._write() as conn:
            await self._note(conn, msg, actor, note)
            await audit.append(conn, [AuditEvent(event, actor, msg.id, details)], self.clock())
        return Inbound(msg, outcome)

    async def _create(self, direction: Direction, message_uuid: str, message_type: str,
                      partner: str, payload: bytes, actor: str, state: State, detail: str,
                      kept: Sequence[tuple[NewReceipt, str]] = (), **extra: Any) -> tuple[Message, bool]:
        """Insert a message (payload file first) unless its UUID (or client ref) exists, with
        the receipt records `kept` ((receipt, actor), ...); return (the stored message, created)."""
        msg_id, now = new_id(), self.clock()
        row = {"id": msg_id, "direction": direction.value, "message_uuid": message_uuid,
               "message_type": message_type, "partner": partner, "client": "",
               "client_ref": None, "state": state.value, "attempts": 0,
               "next_attempt_at": None, "claimed_by": None, "lease_until": None,
               "last_error": None, "transport_id": None, "digest": digest(payload),
               "size": len(payload), "payload": None, "payload_file": None,
               "created_at": now, "updated_at": now, **extra}
        if len(payload) > self.inline_max:
            row["payload_file"] = self.files.write(msg_id, payload)
        else:
            row["payload"] = payload
        dialect = sqlite if self.backend == "sqlite" else postgresql
        stmt = dialect.insert(messages).values(row).on_conflict_do_nothing().returning(m.id)
        try:
            async with self._write() as conn:
                created = (await conn.execute(stmt)).first() is not None
                if created:
                    await conn.execute(insert(history).values(
                        message_id=msg_id, at=now, from_state=None, to_state=state.value,
                        actor=actor, detail=detail or "created"))
                    if state is State.READY and self.backend == "postgresql":
                        await conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))    # on commit, to every node
                    name = audit_event(direction, state, None)
                    details = {"message_uuid": message_uuid, "type": message_type,
                               "partner": partner, "sha256": row["digest"], "size": len(payload)}
                    if name:
                        await audit.append(conn, [AuditEvent(name, actor, msg_id, details)], now)
                    for record, by in kept:
                        await self._store_receipt(conn, msg_id, state, record, by)
        except BaseException:
            if row["payload_file"]:
                self.files.remove(row["payload_file"])
            raise
        if created:
            row.pop("payload")
            return batch.to_message(row), True
        if row["payload_file"]:
            self.files.remove(row["payload_file"])
        first = await self._one(m.direction == direction.value, m.message_uuid == message_uuid)
        if first is None and extra.get("client_ref") is not None:
            first = await self._one(m.client == extra["client"], m.client_ref == extra["client_ref"])
        if first is None:  # pragma: no cover - a conflicting row vanished (purged) meanwhile
            raise StateError(f"message {message_uuid} conflicted but cannot be found")
        return first, False

    # -- state changes ---------------------------------------------------------------------

    async def transition(self, msg_id: str, to: State, *, actor: str, detail: str = "",
                         next_attempt_at: datetime | None = None, last_error: str | None = None,
                         transport_id: str | None = None, node: str | None = None,
                         receipt: NewReceipt | None = None) -> Message:
        """Move one message to `to` (with its history row, receipt and audit entry);
        StateError if the move is illegal, LeaseLost if `node` no longer holds it.
        Concurrent calls share transactions (group commit)."""
        return await self._group.submit(Transition(
            msg_id, State(to), actor, detail, next_attempt_at, last_error, transport_id, node,
            receipt))

    async def transition_many(self, items: Sequence[Transition]) -> list[Message]:
        """Apply several transitions in one transaction: all of them, or (on the first
        illegal one, which is raised) none."""
        async with self._write() as conn:
            return await batch.apply(conn, list(items), self.clock(), strict=True)  # type: ignore[return-value]

    async def _run_group(self, items: list[Transition]):
        async with self._write() as conn:
            return await batch.apply(conn, items, self.clock(), strict=False)

    async def claim_due(self, node: str, *, limit: int = 20, direction: Direction = Direction.OUT,
                        now: datetime | None = None, types: Sequence[str] | None = None,
                        partners: Sequence[str] | None = None, room: Mapping[str, int] | None = None,
                        default_room: int | None = None) -> list[Message]:
        """Claim up to `limit` due messages for `node` with a lease of `lease_seconds`.
        Outbound: ready/retry_wait (due) -> sending, skipping partners whose breaker is
        open, at most `room[partner]` (else `default_room`) per partner when `room` is given.
        Inbound: verified (due, not leased) -> leased for delivery, state unchanged.
        `types`/`partners` (None: any) restrict the claim, e.g. to one delivery route.
        Expired outbound leases are not claimed here: see `reclaim_leases`."""
        async with self._write() as conn:
            return await claims.claim(conn, node, limit=limit, direction=Direction(direction),
                                      now=now or self.clock(), lease_seconds=self.lease_seconds,
                                      types=types, partners=partners, room=room,
                                      default_room=default_room)

    async def reclaim_leases(self, decide: Callable[[Message], Transition], *,
                             now: datetime | None = None, node: str | None = None) -> list[Message]:
        """Move outbound messages whose lease expired (with `node`: the ones `node` holds,
        for a restarted node) as `decide(message)` says (the retry policy); one transaction."""
        async with self._write() as conn:
            return await claims.reclaim(conn, decide, now=now or self.clock(), node=node)

    async def release_inbound_leases(self, node: str) -> int:
        """Drop every inbound delivery lease `node` holds (a restarted node's own)."""
        async with self._write() as conn:
            res = await conn.execute(update(messages).where(
                m.direction == Direction.IN.value, m.claimed_by == node).values(
                claimed_by=None, lease_until=None))
            return res.rowcount or 0

    async def renew_leases(self, ids: Sequence[str], node: str) -> set[str]:
        """Extend `node`'s leases on these in-flight outbound messages by `lease_seconds`
        from now; returns the ids it still holds."""
        async with self._write() as conn:
            return await claims.renew(conn, ids, node, self.clock() + timedelta(seconds=self.lease_seconds))

    async def stuck(self, thresholds: Mapping[State, float], *, now: datetime | None = None,
                    sample: int = 5) -> list["stuck.StuckGroup"]:
        """Messages in a non-final state for longer than that state's threshold (seconds),
        grouped by direction and state with the oldest and a few ids (the sanitizer's
        query, for `gateway status`, metrics and the console too)."""
        async with self._reader.connect() as conn:
            return await stuck.find(conn, thresholds, now or self.clock(), sample=sample)

    # -- circuit breakers (gateway.store.breakers) ------------------------------------------

    async def breakers(self) -> list["breakers.Breaker"]:
        """Every partner's breaker per transport (state, failures, last success and failure),
        for `gateway status`, metrics and the console. Partners never failed have no row."""
        async with self._reader.connect() as conn:
            return await breakers.read(conn)

    async def record_delivery(self, partner: str, transport: str, ok: bool, rule: "breakers.BreakerRule",
                              *, actor: str, error: str = "", retry_after: float | None = None,
                              now: datetime | None = None) -> tuple["breakers.Breaker", str | None]:
        """A delivery outcome for the partner's breaker (ok: the partner answered; else a
        transport failure); returns the breaker and the audit event written, if any."""
        async with self._write() as conn:
            return await breakers.record(conn, partner, transport, ok, rule, now or self.clock(),
                                         actor=actor, error=error, retry_after=retry_after)

    async def claim_probe(self, node: str, partner: str, transport: str, *,
                          now: datetime | None = None) -> Message | None:
        """The probe of an open breaker whose cool-down is over: one due message of the
        partner claimed for `node`, the breaker moved to probing; None if not due or nothing
        to send."""
        now = now or self.clock()

        async def one(conn):
            return await claims.claim(conn, node, limit=1, direction=Direction.OUT, now=now,
                                      lease_seconds=self.lease_seconds, partners=[partner],
                                      skip_open=False)
        async with self._write() as conn:
            return await breakers.claim_probe(conn, partner, transport, node, now, self.lease_seconds, one)

    async def release(self, msg_id: str, *, node: str, next_attempt_at: datetime | None = None,
                      detail: str = "") -> Message:
        """Give a claimed message back undone (e.g. on shutdown): outbound sending -> ready,
        inbound: the lease is dropped. LeaseLost if `node` does not hold it."""
        msg = await self.get(msg_id)
        if msg.direction is Direction.OUT:
            return await self.transition(msg_id, State.READY, actor=node, node=node,
                                         next_attempt_at=next_attempt_at,
                                         detail=detail or f"released by {node}")
        async with self._write() as conn:
            row = (await batch.load(conn, [msg_id], lock=True)).get(msg_id)
            if row is None or row["claimed_by"] != node:
                raise LeaseLost(f"message {msg_id} is not held by {node}")
            row.update(claimed_by=None, lease_until=None, next_attempt_at=next_attempt_at,
                       updated_at=self.clock())
            await conn.execute(batch._update_stmt,
                               [{f"b_{k}": row[k] for k in batch.MUTABLE} | {"b_id": msg_id}])
        return batch.to_message(row)

    async def retry(self, msg_id: str, *, actor: str, detail: str = "") -> Message:
        """Operator: send a retry_wait, dead or failed outbound message again now (-> ready)."""
        return await self._operator_move(msg_id, State.READY, RETRYABLE, "retried", actor=actor,
                                         detail=detail or "retry requested")

    async def cancel(self, msg_id: str, *, actor: str, detail: str = "") -> Message:
        """Operator or backend: withdraw an outbound message that is not being sent."""
        return await self._operator_move(msg_id, State.CANCELLED, CANCELLABLE, "cancelled", actor=actor,
                                         detail=detail or "cancelled")

    async def _operator_move(self, msg_id: str, to: State, allowed: frozenset[State], verb: str, *, actor: str,
                             detail: str) -> Message:
        """Move an outbound message in one of the `allowed` states to `to`; StateError otherwise."""
        msg = await self.get(msg_id)
        if msg.direction is not Direction.OUT or msg.state not in allowed:
            raise StateError(f"message {msg_id} is {msg.direction.value}/{msg.state.value}; only "
                             f"outbound messages in {', '.join(sorted(allowed))} can be {verb}")
        return await self.transition(msg_id, to, actor=actor, detail=detail)

    async def note(self, msg_id: str, *, actor: str, detail: str) -> None:
        """Add a routing-slip entry without a state change (e.g. a transport event)."""
        async with self._write() as conn:
            msg = (await batch.load(conn, [msg_id], lock=True)).get(msg_id)
            if msg is None:
                raise NotFound(f"message {msg_id}")
            await self._note(conn, batch.to_message(msg), actor, detail)

    async def _note(self, conn: AsyncConnection, msg: Message, actor: str, detail: str) -> None:
        await conn.execute(insert(history).values(
            message_id=msg.id, at=self.clock(), from_state=msg.state.value,
            to_state=msg.state.value, actor=actor, detail=detail))

    async def add_receipt(self, msg_id: str, receipt: NewReceipt, *, actor: str) -> None:
        """Store a receipt or transport report without a state change (use
        `transition(..., receipt=...)` to store it with one)."""
        async with self._write() as conn:
            row = (await batch.load(conn, [msg_id], lock=True)).get(msg_id)
            if row is None:
                raise NotFound(f"message {msg_id}")
            await self._store_receipt(conn, msg_id, State(row["state"]), receipt, actor)

    async def _store_receipt(self, conn: AsyncConnection, msg_id: str, state: State, receipt: NewReceipt,
                             actor: str) -> None:
        """The receipt row and its routing-slip note (no state change)."""
        now = self.clock()
        await conn.execute(insert(receipts).values(
            message_id=msg_id, kind=receipt.kind, positive=receipt.positive, at=now,
            xml=receipt.xml, digest=digest(receipt.xml), detail=receipt.detail))
        await conn.execute(insert(history).values(
            message_id=msg_id, at=now, from_state=state.value, to_state=state.value, actor=actor,
            detail=f"{receipt.kind} stored ({'positive' if receipt.positive else 'negative'})"))

    async def audit(self, event: str, *, actor: str, message_id: str | None = None,
                    details: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append one audit entry on its own (configuration or key changes, logins...)."""
        async with self._write() as conn:
            (entry,) = await audit.append(conn, [AuditEvent(event, actor, message_id,
                                                            dict(details or {}))], self.clock())
        return entry

    # -- reading ---------------------------------------------------------------------------

    async def _one(self, *where) -> Message | None:
        async with self._reader.connect() as conn:
            row = (await conn.execute(select(*batch.META_COLUMNS).where(*where))).mappings().first()
        return batch.to_message(row) if row else None

    async def get(self, msg_id: str) -> Message:
        """The message with this id; NotFound otherwise."""
        msg = await self._one(m.id == msg_id)
        if msg is None:
            raise NotFound(f"message {msg_id}")
        return msg

    async def ids_starting(self, prefix: str, *, limit: int = 2) -> list[str]:
        """Up to `limit` message ids that start with `prefix` (lower-case hex), the exact id first."""
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            return []
        async with self._reader.connect() as conn:
            rows = (await conn.execute(select(m.id).where(m.id >= prefix, m.id < prefix + "g")
                                       .order_by(m.id).limit(limit))).scalars().all()
        return list(rows)

    async def find_client_ref(self, client: str, client_ref: str) -> Message | None:
        """The message a backend submitted under this reference, if stored."""
        return await self._one(m.client == client, m.client_ref == client_ref)

    async def find(self, direction: Direction, message_uuid: str) -> Message | None:
        """The message with this UUID in this direction, if stored."""
        return await self._one(m.direction == Direction(direction).value,
                               m.message_uuid == message_uuid)

    async def payload(self, msg_id: str) -> bytes:
        """The payload bytes, checked against the stored SHA-256 (StoreCorrupted if not)."""
        async with self._reader.connect() as conn:
            row = (await conn.execute(select(m.payload, m.payload_file, m.digest)
                                      .where(m.id == msg_id))).first()
        if row is None:
            raise NotFound(f"message {msg_id}")
        if row.payload_file:
            return self.files.read(row.payload_file, row.digest)
        if digest(row.payload) != row.digest:
            raise StoreCorrupted(f"message {msg_id}: stored payload does not match its SHA-256")
        return bytes(row.payload)

    async def history(self, msg_id: str) -> list[HistoryEntry]:
        """The routing slip, oldest first."""
        h = history.c
        async with self._reader.connect() as conn:
            rows = (await conn.execute(select(history).where(h.message_id == msg_id)
                                       .order_by(h.id))).all()
        return [HistoryEntry(r.at, State(r.from_state) if r.from_state else None,
                             State(r.to_state), r.actor, r.detail) for r in rows]

    async def receipts(self, msg_id: str) -> list[Receipt]:
        """Receipts and transport reports stored with the message, oldest first."""
        r = receipts.c
        async with self._reader.connect() as conn:
            rows = (await conn.execute(select(receipts).where(r.message_id == msg_id)
                                       .order_by(r.id))).all()
        return [Receipt(x.id, x.message_id, x.kind, x.positive, x.at, bytes(x.xml), x.digest,
                        x.detail) for x in rows]

    async def list(self, *, direction: Direction | None = None, state: State | Sequence[State] | None = None,
                   partner: str | None = None, message_type: str | None = None,
                   since: datetime | None = None, updated_before: datetime | None = None,
                   limit: int = 100, before_id: str | None = None, until: datetime | None = None,
                   message_uuid: str | None = None, client_ref: str | None = None,
                   client: str | None = None) -> list[Message]:
        """Messages matching every given filter, newest first (page with `before_id`);
        `since`/`until` bound the creation time as [since, until)."""
        q = select(*batch.META_COLUMNS)
        if client is not None:
            q = q.where(m.client == client)
        if direction is not None:
            q = q.where(m.direction == Direction(direction).value)
        if state is not None:
            states = [state] if isinstance(state, str) else list(state)
            q = q.where(m.state.in_([State(s).value for s in states]))
        if partner is not None:
            q = q.where(m.partner == partner)
        if message_type is not None:
            q = q.where(m.message_type == message_type)
        if since is not None:
            q = q.where(m.created_at >= since)
        if until is not None:
            q = q.where(m.created_at < until)
        if message_uuid is not None:
            q = q.where(m.message_uuid == message_uuid)
        if client_ref is not None:
            q = q.where(m.client_ref == client_ref)
        if updated_before is not None:
            q = q.where(m.updated_at < updated_before)
        if before_id is not None:
            q = q.where(m.id < before_id)
        async with self._reader.connect() as conn:
            rows = (await conn.execute(q.order_by(m.id.desc()).limit(limit))).mappings().all()
        return [batch.to_message(r) for r in rows]

    async def counts(self) -> dict[tuple[Direction, State], int]:
        """Number of messages per (direction, state), e.g. for metrics."""
        async with self._reader.connect() as conn:
            rows = (await conn.execute(select(m.direction, m.state, func.count())
                                       .group_by(m.direction, m.state))).all()
        return {(Direction(d), State(s)): n for d, s, n in rows}

    def audit_entries(self, first: int = 1, last: int | None = None) -> AsyncIterator[AuditEntry]:
        """Audit entries from seq `first` to `last` (inclusive), in order."""
        return audit.entries(self._reader, first, last)

    async def audit_range(self, since: datetime | None = None,
                          until: datetime | None = None) -> tuple[int, int] | None:
        """(first, last) seq of the audit entries stamped within [since, until)."""
        return await audit.seq_range(self._reader, since, until)

    # -- retention -------------------------------------------------------------------------

    async def archive(self, ids: Sequence[str], dest: Path, *, actor: str) -> "retention.Archived":
        """Write messages with receipts, timeline and a digest manifest to the zip `dest`."""
        return await retention.archive(self, ids, dest, actor=actor)

    async def purge(self, ids: Sequence[str], *, actor: str) -> list[str]:
        """Delete final messages (rows and payload files; the audit log stays)."""
        return await retention.purge(self, ids, actor=actor)

    async def purge_expired(self, retention_days: Mapping[str, int], *, actor: str,
                            archive_dir: Path | None, now: datetime | None = None,
                            dry_run: bool = False) -> "retention.PurgeReport":
        """Archive then purge final messages older than their state's retention in days."""
        return await retention.purge_expired(self, retention_days, actor=actor,
                                             archive_dir=archive_dir, now=now, dry_run=dry_run)

    async def sweep_orphans(self, grace: float, *, actor: str, now: datetime | None = None,
                            dry_run: bool = False) -> "orphans.SweepReport":
        """Quarantine payload files older than `grace` seconds that no row references."""
        return await orphans.sweep(self, grace=grace, actor=actor, now=now, dry_run=dry_run)

    async def verify_audit(self) -> "audit.ChainReport":
        """Check the whole audit chain; report its head and the first broken entry."""
        return await audit.verify_chain(self._reader)

    async def export_audit(self, dest: Path, *, since: datetime | None = None,
                           until: datetime | None = None) -> dict:
        """Write audit entries stamped within [since, until) plus a manifest to the zip
        `dest`; returns the manifest (with the zip's own SHA-256)."""
        return await audit.export(self._reader, dest, since=since, until=until,
                                  created_at=self.clock())
