"""Console accounts: a name, a role, the mailbox units of a clerk, an argon2id password hash.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile) and
never stored, logged or audited in clear. Every change is written to the audit log in the
same transaction. A disabled account cannot log in and its sessions end at once.
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update

from ..errors import MessageError, NotFound
from ..store import audit as store_audit
from ..store.chain import AuditEvent
from ..store.tables import console_sessions, console_users, utcnow

ROLES = ("operator", "clerk", "auditor")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
MIN_PASSWORD = 12
_hasher = PasswordHasher()
# a hash to verify against when the account does not exist, so both cases take as long
_DUMMY = _hasher.hash("not a password of anyone")
u = console_users.c


@dataclass(frozen=True, slots=True)
class User:
    """An account as the console sees it (never the hash)."""

    name: str
    role: str
    units: tuple[str, ...]
    created_at: datetime
    password_changed_at: datetime
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        """False once disabled."""
        return self.disabled_at is None


def check_password(password: str) -> None:
    """MessageError unless the password is long enough to be worth hashing."""
    if len(password) < MIN_PASSWORD:
        raise MessageError(f"the password must have at least {MIN_PASSWORD} characters")


def _user(row) -> User:
    return User(row.name, row.role, tuple(json.loads(row.units)), row.created_at,
                row.password_changed_at, row.disabled_at)


class Accounts:
    """The `console_users` table of a store."""

    def __init__(self, store, clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.clock = clock

    async def add(self, name: str, role: str, password: str, *, units: Sequence[str] = (),
                  actor: str, known_units: Sequence[str] | None = None) -> User:
        """Create an account; a clerk needs at least one unit (of `known_units`, if given)."""
        if not NAME.fullmatch(name):
            raise MessageError(f"user name {name!r}: use letters, digits, '.', '_', '-', '@' (at most 100)")
        if role not in ROLES:
            raise MessageError(f"role {role!r}: use one of {', '.join(ROLES)}")
        units = tuple(dict.fromkeys(units))
        if role == "clerk" and not units:
            raise MessageError("a clerk needs at least one mailbox unit (--unit NAME)")
        if role != "clerk" and units:
            raise MessageError("only clerks belong to mailbox units")
        unknown = [x for x in units if known_units is not None and x not in known_units]
        if unknown:
            raise MessageError(f"unit {unknown[0]!r} is not configured; [console.units] has: "
                               f"{', '.join(known_units) or 'none'}")
        check_password(password)
        hashed, now = await asyncio.to_thread(_hasher.hash, password), self.clock()
        async with self.store.writing() as conn:
            if (await conn.execute(select(u.name).where(u.name == name))).first() is not None:
                raise MessageError(f"user {name!r} exists")
            await conn.execute(insert(console_users).values(
                name=name, password=hashed, role=role, units=json.dumps(list(units)),
                created_at=now, password_changed_at=now, disabled_at=None))
            await store_audit.append(conn, [AuditEvent("console.user_added", actor, None,
                                                       {"user": name, "role": role, "units": list(units)})], now)
        return User(name, role, units, now, now)

    async def list(self) -> list[User]:
        """Every account, by name."""
        async with self.store.reading() as conn:
            rows = (await conn.execute(select(console_users).order_by(u.name))).all()
        return [_user(r) for r in rows]

    async def get(self, name: str) -> User:
        """One account; NotFound otherwise."""
        async with self.store.reading() as conn:
            row = (await conn.execute(select(console_users).where(u.name == name))).first()
        if row is None:
            raise NotFound(f"user {name!r}")
        return _user(row)

    async def passwd(self, name: str, password: str, *, actor: str) -> User:
        """Set a new password; the account's sessions end."""
        check_password(password)
        hashed = await asyncio.to_thread(_hasher.hash, password)
        return await self._change(name, {"password": hashed,
                                         "password_changed_at": self.clock()},
                                  "console.password_changed", actor)

    async def disable(self, name: str, *, actor: str) -> User:
        """Disable an account at once (it cannot log in; its sessions end)."""
        return await self._change(name, {"disabled_at": self.clock()}, "console.user_disabled", actor)

    async def _change(self, name: str, values: dict, event: str, actor: str) -> User:
        now = self.clock()
        async with self.store.writing() as conn:
            row = (await conn.execute(select(console_users).where(u.name == name))).first()
            if row is None:
                raise NotFound(f"user {name!r}")
            await conn.execute(update(console_users).where(u.name == name).values(**values))
            await conn.execute(delete(console_sessions).where(console_sessions.c.user_name == name))
            await store_audit.append(conn, [AuditEvent(event, actor, None, {"user": name})], now)
            row = (await conn.execute(select(console_users).where(u.name == name))).first()
        return _user(row)

    async def authenticate(self, name: str, password: str) -> User | None:
        """The active account whose password this is, else None (same work either way).
        Rehashes a hash made with older parameters."""
        async with self.store.reading() as conn:
            row = (await conn.execute(select(console_users).where(u.name == name))).first()
        if not await asyncio.to_thread(_verify, row.password if row is not None else _DUMMY, password):
            return None
        if row is None or row.disabled_at is not None:
            return None
        if _hasher.check_needs_rehash(row.password):
            async with self.store.writing() as conn:
                await conn.execute(update(console_users).where(u.name == name)
                                   .values(password=await asyncio.to_thread(_hasher.hash, password)))
        return _user(row)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
