"""The stuck-message sanitizer (the scheduler's `sanitizer` job, `[sanitizer]`): repairs
what is safe to repair and flags the rest for the operator.

- Repaired: an outbound message in `sending` whose lease expired (its node died or hung)
  goes back to the queue through the retry policy (gateway.exchange.delivery.reclaim: the
  lost attempt counts; a slip entry names the node).
- Flagged: messages in a non-final state longer than that state's threshold
  (`Store.stuck`, the same query `gateway status`, metrics and the console use): one log
  line per direction and state with the count, the oldest and a few ids. Nothing is moved:
  whether a message in `ready` waits for a partner whose breaker is open or for a node
  that is down needs a person.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ..model import State
from ..store.stuck import StuckGroup
from .delivery import reclaim

log = logging.getLogger("gateway.sanitizer")


@dataclass(frozen=True, slots=True)
class SanitizerReport:
    """What one run did: leases reclaimed, and the groups of stuck messages flagged."""

    reclaimed: int
    stuck: tuple[StuckGroup, ...]

    def __str__(self) -> str:
        flagged = ", ".join(f"{g.count} {g.direction.value} {g.state.value}" for g in self.stuck)
        return f"{self.reclaimed} expired lease(s) back to the queue; stuck: {flagged or 'none'}"


async def sanitize(gw, thresholds: dict[str, float]) -> SanitizerReport:
    """One run: reclaim expired leases, then flag (log) every group over its threshold."""
    back = await reclaim(gw)
    groups = await gw.store.stuck({State(k): v for k, v in thresholds.items()})
    for g in groups:
        log.warning("stuck: %d %s message(s) in %s for more than %gs (oldest since %s): %s",
                    g.count, g.direction.value, g.state.value, g.threshold,
                    f"{g.oldest:%Y-%m-%dT%H:%M:%SZ}", ", ".join(g.sample))
    return SanitizerReport(len(back), tuple(groups))
