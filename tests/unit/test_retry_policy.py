"""RetryPolicy: the one place deciding retry vs dead; full jitter and Retry-After."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gateway.errors import Refused, RetryLater
from gateway.exchange.retry import RetryPolicy, retry_after_seconds
from gateway.model import State

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def fixed(value: float):
    return lambda: value


def test_the_ceiling_grows_to_the_maximum():
    policy = RetryPolicy(max_attempts=20, initial=5, factor=2, maximum=60)
    assert [policy.ceiling(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_full_jitter_is_uniform_between_zero_and_the_ceiling():
    assert RetryPolicy(initial=5, factor=2, random=fixed(0.5)).delay(3) == 10.0
    assert RetryPolicy(initial=5, factor=2, random=fixed(0.0)).delay(3) == 0.0
    assert RetryPolicy(initial=5, factor=2, jitter=False).delay(3) == 20.0
    import random
    rng = random.Random(7)
    policy = RetryPolicy(initial=5, factor=2, maximum=3600, random=rng.random)
    waits = [policy.delay(4) for _ in range(2000)]
    assert 0 <= min(waits) < 1 and 39 < max(waits) <= 40
    assert 18 < sum(waits) / len(waits) < 22                   # mean of U(0, 40)
    assert len({round(w, 6) for w in waits}) > 1900            # spread, not one instant


def test_retry_after_is_a_lower_bound_up_to_the_ceiling():
    policy = RetryPolicy(initial=5, maximum=600, random=fixed(0.1))
    assert policy.delay(1, "120") == 120
    assert policy.delay(1, "99999") == 600
    assert policy.delay(1, "soon") == pytest.approx(0.5)
    date = "Thu, 01 Jan 2026 00:01:30 GMT"                      # NOW + 90 s
    assert retry_after_seconds(date, NOW) == 90
    assert retry_after_seconds("Wed, 31 Dec 2025 23:00:00 GMT", NOW) == 0
    assert retry_after_seconds("", NOW) is None and retry_after_seconds("x y", NOW) is None
    assert policy.delay(1, date, NOW) == 90


def test_decide_uses_the_jittered_wait_and_names_retry_after():
    policy = RetryPolicy(max_attempts=3, initial=5, factor=2, random=fixed(0.25))
    first = policy.decide(RetryLater("busy"), 2, NOW)
    assert first.state is State.RETRY_WAIT and first.at == NOW + timedelta(seconds=2.5)
    hinted = policy.decide(RetryLater("HTTP 503", retry_after="30"), 1, NOW)
    assert hinted.at == NOW + timedelta(seconds=30) and "Retry-After 30" in hinted.reason
    last = policy.decide(RetryLater("busy"), 3, NOW)
    assert last.state is State.DEAD and "after 3 attempts" in last.reason


def test_refused_is_dead_at_once():
    decision = RetryPolicy().decide(Refused("HTTP 403"), 1, NOW)
    assert decision.state is State.DEAD and decision.at is None and "refused" in decision.reason
