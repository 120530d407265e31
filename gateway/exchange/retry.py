"""Whether a failed delivery is retried, and when: `RetryPolicy.decide`, the one place that
decides retry vs dead (a value object, like urllib3's Retry)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import DeliveryError, Refused, RetryLater
from ..model import State


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a message after a failed attempt: its next state, when, and why."""

    state: State                     # RETRY_WAIT, DEAD or REJECTED
    at: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with a ceiling and an attempt limit: the one place that decides
    retry vs dead (a value object, like urllib3's Retry)."""

    max_attempts: int = 12
    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 3600.0

    @classmethod
    def from_config(cls, delivery) -> "RetryPolicy":
        """From the [delivery] section."""
        return cls(delivery.max_attempts, delivery.backoff_initial, delivery.backoff_factor,
                   delivery.backoff_max)

    def delay(self, attempt: int, retry_after: str = "") -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based); a partner's
        Retry-After (seconds) is honoured up to the ceiling."""
        wait = min(self.initial * self.factor ** max(attempt - 1, 0), self.maximum)
        if retry_after.strip().isdigit():
            wait = max(wait, min(float(retry_after), self.maximum))
        return wait

    def decide(self, error: DeliveryError, attempt: int, now: datetime) -> Decision:
        """RetryLater -> retry_wait (or dead after max_attempts); Refused -> dead."""
        if isinstance(error, Refused):
            return Decision(State.DEAD, None, f"refused by the partner: {error}")
        if attempt >= self.max_attempts:
            return Decision(State.DEAD, None, f"gave up after {attempt} attempts: {error}")
        wait = self.delay(attempt, error.detail if isinstance(error, RetryLater) else "")
        return Decision(State.RETRY_WAIT, now + timedelta(seconds=wait),
                        f"attempt {attempt} failed, retry in {wait:.0f}s: {error}")
