"""Whether a failed delivery is retried, and when: `RetryPolicy.decide`, the one place that
decides retry vs dead (a value object, like urllib3's Retry).

Backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the wait
after failed attempt n is uniform in [0, min(maximum, initial * factor^(n-1))], so a thousand
messages that failed together do not come back together. A partner's Retry-After (seconds
or an HTTP date, carried by `RetryLater.retry_after`) is a lower bound of the wait, up to
the ceiling. The random source is injectable (`random`), so tests pin the jitter.
"""
from __future__ import annotations

import random as _random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Callable

from ..errors import DeliveryError, Refused, RetryLater
from ..model import State


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a message after a failed attempt: its next state, when, and why."""

    state: State                     # RETRY_WAIT, DEAD or REJECTED
    at: datetime | None
    reason: str


def retry_after_seconds(value: str, now: datetime) -> float | None:
    """A Retry-After header value in seconds from `now` (delta-seconds or HTTP date), or
    None when absent or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, a ceiling and an attempt limit: the one place
    that decides retry vs dead."""

    max_attempts: int = 12
    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 3600.0
    jitter: bool = True
    random: Callable[[], float] = field(default=_random.random, compare=False, repr=False)

    @classmethod
    def from_config(cls, delivery, **kw) -> "RetryPolicy":
        """From the [delivery] section."""
        return cls(delivery.max_attempts, delivery.backoff_initial, delivery.backoff_factor,
                   delivery.backoff_max, **kw)

    def ceiling(self, attempt: int) -> float:
        """The computed (unjittered) delay after failed attempt number `attempt` (1-based)."""
        return min(self.initial * self.factor ** max(attempt - 1, 0), self.maximum)

    def delay(self, attempt: int, retry_after: str = "", now: datetime | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): uniform in
        [0, ceiling] (or the ceiling itself without jitter), at least the partner's
        Retry-After (itself capped by `maximum`)."""
        wait = self.ceiling(attempt)
        if self.jitter:
            wait *= self.random()
        hint = retry_after_seconds(retry_after, now or datetime.now(timezone.utc))
        if hint is not None:
            wait = max(wait, min(hint, self.maximum))
        return wait

    def decide(self, error: DeliveryError, attempt: int, now: datetime) -> Decision:
        """RetryLater -> retry_wait (or dead after max_attempts); Refused -> dead."""
        if isinstance(error, Refused):
            return Decision(State.DEAD, None, f"refused by the partner: {error}")
        if attempt >= self.max_attempts:
            return Decision(State.DEAD, None, f"gave up after {attempt} attempts: {error}")
        hint = error.retry_after if isinstance(error, RetryLater) else ""
        wait = self.delay(attempt, hint, now)
        after = f" (Retry-After {hint})" if hint else ""
        return Decision(State.RETRY_WAIT, now + timedelta(seconds=wait),
                        f"attempt {attempt} failed, retry in {wait:.0f}s{after}: {error}")
