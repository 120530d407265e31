"""Messages stuck in a non-final state longer than that state's threshold (the sanitizer's
query; `gateway status`, metrics and the console can show the same answer).

"Since" is when the message entered its state (`updated_at`); for `retry_wait` it is when
the retry fell due (`next_attempt_at`): waiting for a backoff is not being stuck.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..model import FINAL, TRANSITIONS, Direction, State
from .tables import messages

m = messages.c


@dataclass(frozen=True, slots=True)
class StuckGroup:
    """Messages of one direction and state over its threshold: how many, since when, which."""

    direction: Direction
    state: State
    threshold: float                  # seconds
    count: int
    oldest: datetime                  # the longest-stuck message's "since"
    sample: tuple[str, ...] = field(default=())   # up to a few message ids, oldest first

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"direction": self.direction.value, "state": self.state.value,
                "threshold": self.threshold, "count": self.count,
                "oldest": self.oldest.isoformat(), "sample": list(self.sample)}


def _since(state: State):
    return m.next_attempt_at if state is State.RETRY_WAIT else m.updated_at


async def find(conn: AsyncConnection, thresholds: Mapping[State, float], now: datetime, *,
               sample: int = 5) -> list[StuckGroup]:
    """One group per (direction, state) with messages over the state's threshold in seconds
    (states without a threshold, or with 0, are not checked; final states never are)."""
    found = []
    for direction in Direction:
        for state, seconds in sorted(thresholds.items()):
            state = State(state)
            if not seconds or seconds <= 0 or state in FINAL[direction] or state not in TRANSITIONS[direction]:
                continue
            since = _since(state)
            where = and_(m.direction == direction.value, m.state == state.value,
                         since < now - timedelta(seconds=seconds))
            count, oldest = (await conn.execute(select(func.count(), func.min(since)).where(where))).one()
            if not count:
                continue
            ids = (await conn.execute(select(m.id).where(where).order_by(since, m.id).limit(sample))).scalars()
            found.append(StuckGroup(direction, state, float(seconds), count, oldest, tuple(ids)))
    return found
