"""Console sessions: a random cookie value (only its SHA-256 is stored), the user, a CSRF
token and an expiry. Logging out, a new password or disabling the account ends them."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import delete, insert, select

from ..store.tables import console_sessions, console_users, utcnow
from .accounts import User, _user

s = console_sessions.c


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in user and the CSRF token of their forms."""

    user: User
    csrf: str
    expires_at: datetime


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Sessions:
    """The `console_sessions` table of a store."""

    def __init__(self, store, minutes: int, clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.minutes = minutes
        self.clock = clock

    async def start(self, user: User) -> tuple[str, Session]:
        """A new session for `user`: (cookie value, session). Expired sessions are dropped."""
        cookie, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock()
        expires = now + timedelta(minutes=self.minutes)
        async with self.store.writing() as conn:
            await conn.execute(delete(console_sessions).where(s.expires_at < now))
            await conn.execute(insert(console_sessions).values(
                id=_digest(cookie), user_name=user.name, csrf=csrf, created_at=now, expires_at=expires))
        return cookie, Session(user, csrf, expires)

    async def find(self, cookie: str) -> Session | None:
        """The live session of this cookie value with its active user, else None."""
        if not cookie:
            return None
        q = (select(console_sessions, console_users)
             .join(console_users, console_users.c.name == s.user_name)
             .where(s.id == _digest(cookie)))
        async with self.store.reading() as conn:
            row = (await conn.execute(q)).first()
        if row is None or row.expires_at <= self.clock() or row.disabled_at is not None:
            return None
        return Session(_user(row), row.csrf, row.expires_at)

    async def end(self, cookie: str) -> None:
        """Log out: the session is gone."""
        async with self.store.writing() as conn:
            await conn.execute(delete(console_sessions).where(s.id == _digest(cookie)))
