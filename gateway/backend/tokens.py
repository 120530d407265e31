"""API tokens per backend system, stored hashed and scoped to message types and partners.

A token is `gwt_` + 43 characters of `secrets.token_urlsafe(32)` (256 random bits). The
database keeps only its SHA-256: a token this random cannot be guessed from its hash, so a
slow password hash would add latency to every request and nothing else. A presented token is
hashed, looked up by that hash, and the stored hash compared with `hmac.compare_digest`.
Tokens live in the gateway's database (table `api_tokens`, migration 0002) rather than in the
configuration: `gateway tokens create/revoke` take effect at once on every node sharing the
database, without a restart, and both are written to the audit log.

Scopes are shell-style patterns (`fnmatch`, case-sensitive): `*` (everything),
`personenstand.*`, `ags:09162*`. The operator token (`[server] api_token` or
`data_dir/api-token`, unless `[api] operator_token = false`) is a grant on everything.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Callable, Sequence

from sqlalchemy import delete, insert, select, update

from ..errors import MessageError, NotFound
from ..store import audit as store_audit
from ..store.chain import AuditEvent
from ..store.tables import api_tokens, utcnow

PREFIX = "gwt_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
OPERATOR = "operator"
t = api_tokens.c


@dataclass(frozen=True, slots=True)
class Grant:
    """Who is calling (the backend system) and which types and partners it may use."""

    name: str
    types: tuple[str, ...]
    partners: tuple[str, ...]
    operator: bool = False              # sees every message, also those others submitted

    def allows_type(self, message_type: str) -> bool:
        """True when the message type is within the scope."""
        return any(fnmatchcase(message_type, p) for p in self.types)

    def allows_partner(self, partner: str) -> bool:
        """True when the partner is within the scope."""
        return any(fnmatchcase(partner, p) for p in self.partners)

    def allows(self, message_type: str, partner: str) -> bool:
        """True when both the type and the partner are within the scope."""
        return self.allows_type(message_type) and self.allows_partner(partner)


OPERATOR_GRANT = Grant(OPERATOR, ("*",), ("*",), operator=True)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token's metadata (never the token itself)."""

    name: str
    types: tuple[str, ...]
    partners: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None


def new_token() -> str:
    """A fresh random token (shown once, never stored)."""
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str | bytes) -> str:
    """SHA-256 (hex) of a token: the only form that is stored."""
    return hashlib.sha256(token.encode() if isinstance(token, str) else token).hexdigest()


def check_scope(patterns: Sequence[str], what: str) -> tuple[str, ...]:
    """The patterns as a tuple; MessageError for an empty scope or an empty pattern."""
    cleaned = tuple(p.strip() for p in patterns)
    if not cleaned or any(not p for p in cleaned):
        raise MessageError(f"give at least one {what} pattern ('*' for all)")
    return cleaned


class Tokens:
    """The `api_tokens` table of a store: create, list, revoke, look up."""

    def __init__(self, store, clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.clock = clock

    async def create(self, name: str, *, types: Sequence[str], partners: Sequence[str],
                     actor: str, replace: bool = False) -> str:
        """Store a new token for backend system `name` and return it (the only time it is
        seen). An active token of that name is refused unless `replace` (rotation)."""
        if not NAME.fullmatch(name) or name == OPERATOR:
            raise MessageError(f"token name {name!r}: use letters, digits, '.', '_', '-' "
                               f"(at most 100, not {OPERATOR!r})")
        types, partners = check_scope(types, "message type"), check_scope(partners, "partner")
        token, now = new_token(), self.clock()
        async with self.store.writing() as conn:
            row = (await conn.execute(select(t.revoked_at).where(t.name == name))).first()
            if row is not None and row.revoked_at is None and not replace:
                raise MessageError(f"an active token named {name!r} exists; revoke it first or "
                                   "replace it (--replace)")
            await conn.execute(delete(api_tokens).where(t.name == name))
            await conn.execute(insert(api_tokens).values(
                name=name, digest=digest(token), types=json.dumps(list(types)),
                partners=json.dumps(list(partners)), created_at=now, revoked_at=None))
            await store_audit.append(conn, [AuditEvent(
                "api.token.created", actor, None,
                {"name": name, "types": list(types), "partners": list(partners),
                 "replaced": row is not None})], now)
        return token

    async def list(self) -> list[TokenInfo]:
        """Every stored token, by name."""
        async with self.store.reading() as conn:
            rows = (await conn.execute(select(api_tokens).order_by(t.name))).all()
        return [_info(r) for r in rows]

    async def revoke(self, name: str, *, actor: str) -> TokenInfo:
        """Revoke a token at once; NotFound for an unknown or already revoked name."""
        now = self.clock()
        async with self.store.writing() as conn:
            done = await conn.execute(update(api_tokens).where(t.name == name, t.revoked_at.is_(None))
                                      .values(revoked_at=now))
            if done.rowcount != 1:
                raise NotFound(f"no active token named {name!r}")
            await store_audit.append(conn, [AuditEvent("api.token.revoked", actor, None,
                                                       {"name": name})], now)
            row = (await conn.execute(select(api_tokens).where(t.name == name))).one()
        return _info(row)

    async def lookup(self, token: str) -> Grant | None:
        """The grant of an active token, or None."""
        if not token.startswith(PREFIX):
            return None
        wanted = digest(token)
        async with self.store.reading() as conn:
            row = (await conn.execute(select(api_tokens).where(t.digest == wanted))).first()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.digest, wanted):
            return None
        return Grant(row.name, tuple(json.loads(row.types)), tuple(json.loads(row.partners)))


class Authenticator:
    """Turns a presented bearer token into a Grant: the operator token or a stored one."""

    def __init__(self, tokens: Tokens | None = None, operator_token: bytes | None = None):
        self.tokens = tokens
        self.operator = digest(operator_token) if operator_token else None

    async def authenticate(self, presented: str) -> Grant | None:
        """The grant for this token, or None when it is unknown or revoked."""
        if not presented:
            return None
        if self.operator is not None and hmac.compare_digest(digest(presented), self.operator):
            return OPERATOR_GRANT
        if self.tokens is None:
            return None
        return await self.tokens.lookup(presented)


def _info(row) -> TokenInfo:
    return TokenInfo(row.name, tuple(json.loads(row.types)), tuple(json.loads(row.partners)),
                     row.created_at, row.revoked_at)
