"""The store's tables (SQLAlchemy Core). Alembic migrations in gateway/migrations must
produce exactly this schema; tests compare the two."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes aware UTC times")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# BigInteger primary keys autoincrement as INTEGER on SQLite (rowid), BIGSERIAL elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")

messages = Table(
    "messages", metadata,
    Column("id", String(32), primary_key=True),
    Column("direction", String(3), nullable=False),
    Column("message_uuid", String(64), nullable=False),
    Column("message_type", String(200), nullable=False),
    Column("partner", String(200), nullable=False),
    Column("client", String(200), nullable=False, default=""),
    Column("client_ref", String(200), nullable=True),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("claimed_by", String(200), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("transport_id", String(200), nullable=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("payload", LargeBinary, nullable=True),
    Column("payload_file", String(300), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("direction", "message_uuid"),
    UniqueConstraint("client", "client_ref"),
    Index(None, "direction", "state", "next_attempt_at"),
    Index(None, "state", "updated_at"),
    Index(None, "partner", "created_at"),
)

history = Table(
    "history", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("from_state", String(20), nullable=True),
    Column("to_state", String(20), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index(None, "message_id", "id"),
)

receipts = Table(
    "receipts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"),
           nullable=False),
    Column("kind", String(50), nullable=False),
    Column("positive", Boolean, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("xml", LargeBinary, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index(None, "message_id"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("event", String(100), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("message_id", String(32), nullable=True),    # no FK: entries outlive purged messages
    Column("details", Text, nullable=False),             # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "at"),
    Index(None, "message_id"),
)


def utcnow() -> datetime:
    """The current time, aware, UTC."""
    return datetime.now(timezone.utc)


# -- backend integration (gateway.backend.tokens, gateway.backend.webhooks; migration 0002) -------------

api_tokens = Table(
    "api_tokens", metadata,
    Column("name", String(100), primary_key=True),          # the backend system
    Column("digest", String(64), nullable=False),            # SHA-256 (hex) of the token
    Column("types", Text, nullable=False),                   # JSON list of type patterns
    Column("partners", Text, nullable=False),                # JSON list of partner patterns
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    UniqueConstraint("digest"),
)

webhook_events = Table(
    "webhook_events", metadata,
    Column("id", String(40), primary_key=True),              # receivers dedupe on it
    Column("message_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"),
           nullable=False),
    Column("history_id", BigInteger, nullable=False),        # the routing-slip step pushed
    Column("state", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(200), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("history_id"),
    Index(None, "delivered_at", "next_attempt_at"),
    Index(None, "message_id"),
)

webhook_cursor = Table(
    "webhook_cursor", metadata,
    Column("name", String(40), primary_key=True),
    Column("position", BigInteger, nullable=False),          # history ids up to here are scanned
)


# -- the console (gateway.console; migration 0003) -------------------------------------------------

console_users = Table(
    "console_users", metadata,
    Column("name", String(100), primary_key=True),          # login name
    Column("password", String(200), nullable=False),        # argon2id hash (PHC string), never the password
    Column("role", String(20), nullable=False),             # operator | clerk | auditor
    Column("units", Text, nullable=False),                  # JSON list of mailbox units (clerks)
    Column("created_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)

console_sessions = Table(
    "console_sessions", metadata,
    Column("id", String(64), primary_key=True),              # SHA-256 (hex) of the cookie value
    Column("user_name", String(100), ForeignKey("console_users.name", ondelete="CASCADE"),
           nullable=False),
    Column("csrf", String(64), nullable=False),              # the session's CSRF token
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "user_name"),
)

console_reads = Table(
    "console_reads", metadata,
    Column("message_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("user_name", String(100), primary_key=True),      # who opened it (unread marks per user)
    Column("at", UTCDateTime, nullable=False),
)

# -- several nodes on one store (gateway.store.nodes; migration 0004) ------------------------------

nodes = Table(
    "nodes", metadata,
    Column("name", String(200), primary_key=True),           # [gateway] node_id (or the host name)
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", String(50), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime, nullable=True),        # set on a clean shutdown
)

job_runs = Table(
    "job_runs", metadata,
    Column("job", String(100), primary_key=True),
    Column("slot", String(40), primary_key=True),             # e.g. 2026-12-05T03:30Z: one run per slot
    Column("node", String(200), nullable=False),              # who runs (ran) it
    Column("attempt", Integer, nullable=False),               # 2, 3 ... after a takeover
    Column("started_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=False),       # renewed while it runs
    Column("finished_at", UTCDateTime, nullable=True),
    Column("ok", Boolean, nullable=True),
    Column("detail", Text, nullable=False, default=""),
    Index(None, "finished_at", "lease_until"),
    Index(None, "job", "started_at"),
)


# -- delivery: one circuit breaker per partner and transport (gateway.store.breakers; migration 0005) --

breakers = Table(
    "breakers", metadata,
    Column("partner", String(200), primary_key=True),
    Column("transport", String(50), primary_key=True),
    Column("state", String(10), nullable=False),             # closed | open | probing
    Column("failures", Integer, nullable=False, default=0),  # consecutive transport failures
    Column("probes", Integer, nullable=False, default=0),    # failed probes since it opened
    Column("opened_at", UTCDateTime, nullable=True),
    Column("retry_at", UTCDateTime, nullable=True),          # open: the earliest probe
    Column("probe_by", String(200), nullable=True),          # probing: the node sending the probe
    Column("probe_until", UTCDateTime, nullable=True),       # ... until then (another node may probe after)
    Column("last_success_at", UTCDateTime, nullable=True),
    Column("last_failure_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)
