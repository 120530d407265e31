"""Login throttling: after `failures` failed logins within the lock time, per account and per
address (each counted on its own), further attempts are refused until the lock time has
passed since the last failure. Kept in the memory of each node: an attacker spreading
attempts over N nodes gets N times the budget, still a few guesses per minute."""
from __future__ import annotations

import time
from typing import Callable


class LoginThrottle:
    """Failed-login counters per key ('user:NAME', 'addr:ADDRESS')."""

    def __init__(self, failures: int, lock_seconds: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000):
        self.failures = failures
        self.lock_seconds = lock_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._seen: dict[str, list[float]] = {}

    def _recent(self, key: str) -> list[float]:
        now = self.clock()
        times = [t for t in self._seen.get(key, ()) if now - t < self.lock_seconds]
        if times:
            self._seen[key] = times
        else:
            self._seen.pop(key, None)
        return times

    def locked(self, *keys: str) -> float:
        """Seconds until a login for these keys may be tried again (0: now)."""
        wait = 0.0
        for key in keys:
            times = self._recent(key)
            if len(times) >= self.failures:
                wait = max(wait, self.lock_seconds - (self.clock() - times[-1]))
        return max(wait, 0.0)

    def failed(self, *keys: str) -> None:
        """Count a failed login for each key."""
        if len(self._seen) >= self.max_keys:       # bounded memory: forget the stalest keys
            for key in sorted(self._seen, key=lambda k: self._seen[k][-1])[: self.max_keys // 10]:
                del self._seen[key]
        now = self.clock()
        for key in keys:
            self._seen.setdefault(key, []).append(now)

    def succeeded(self, *keys: str) -> None:
        """A good login clears the account's counter (not the address's)."""
        for key in keys:
            self._seen.pop(key, None)
