"""RetryPolicy: the one place deciding retry vs dead."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gateway.errors import Refused, RetryLater
from gateway.exchange.retry import RetryPolicy
from gateway.model import State

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_backoff_grows_to_the_ceiling():
    policy = RetryPolicy(max_attempts=20, initial=5, factor=2, maximum=60)
    assert [policy.delay(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_retry_after_is_honoured_up_to_the_ceiling():
    policy = RetryPolicy(initial=5, maximum=600)
    assert policy.delay(1, "120") == 120
    assert policy.delay(1, "99999") == 600
    assert policy.delay(1, "soon") == 5


def test_retry_later_waits_then_dies_after_max_attempts():
    policy = RetryPolicy(max_attempts=3, initial=5, factor=2)
    first = policy.decide(RetryLater("busy"), 1, NOW)
    assert first.state is State.RETRY_WAIT and first.at == NOW + timedelta(seconds=5)
    last = policy.decide(RetryLater("busy"), 3, NOW)
    assert last.state is State.DEAD and "after 3 attempts" in last.reason


def test_refused_is_dead_at_once():
    decision = RetryPolicy().decide(Refused("HTTP 403"), 1, NOW)
    assert decision.state is State.DEAD and decision.at is None and "refused" in decision.reason
