"""The routes that hand received messages to the backend, and the start-up check that no
message can fall to two of them by chance.

Two routes claim `verified` inbound messages and mark them delivered: the webhook (`[webhooks]
url` with `inbound = true`, selecting by `types`/`partners`) and each inbound drop folder
(`[folders.inbound.NAME]`, `types`/`partners`). Both select with exact ids or `"*"` (any).
When one message type + partner is selected by the webhook and by a folder, whichever
claims the message first delivers it and the other never sees it: the backend finds some
messages in its folder and the others only as webhook pushes, at random. That is refused at
start-up unless the folder says it is meant (`allow_webhook_overlap = true`).

Inbound folders among themselves do not conflict: a message goes to the first folder (in
config order) that matches it, always the same one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..config import Config
from ..errors import ConfigError

ANY = "*"


@dataclass(frozen=True, slots=True)
class Route:
    """One route to the backend: where it is configured and what it selects."""

    name: str                      # e.g. '[webhooks]', '[folders.inbound."registry"]'
    types: tuple[str, ...]         # exact message type ids, "*" = any
    partners: tuple[str, ...]      # exact partner ids, "*" = any


@dataclass(frozen=True, slots=True)
class Overlap:
    """Two routes that select the same messages: these types from these partners."""

    first: Route
    second: Route
    types: tuple[str, ...]
    partners: tuple[str, ...]

    def describe(self) -> str:
        """One sentence naming both routes and the overlapping type/partner pattern."""
        return (f"{self.first.name} and {self.second.name} both deliver received messages of "
                f"type {_show(self.types)} from partner {_show(self.partners)}")


def common(a: Sequence[str], b: Sequence[str]) -> tuple[str, ...]:
    """The values two selections both include ("*" = any); () when they are disjoint."""
    if ANY in a and ANY in b:
        return (ANY,)
    if ANY in a:
        return tuple(b)
    if ANY in b:
        return tuple(a)
    return tuple(x for x in a if x in b)


def overlap(a: Route, b: Route) -> Overlap | None:
    """The messages both routes select, or None when no type + partner matches both."""
    types, partners = common(a.types, b.types), common(a.partners, b.partners)
    return Overlap(a, b, types, partners) if types and partners else None


def inbound_routes(config: Config) -> tuple[Route | None, list[tuple[Route, bool]]]:
    """The webhook route (None when webhooks push no received messages) and each inbound
    folder's route with its `allow_webhook_overlap` flag."""
    sec = config.webhooks
    hook = Route("[webhooks]", tuple(sec.types), tuple(sec.partners)) if sec.url and sec.inbound else None
    folders = [(Route(f'[folders.inbound."{spec.name}"]', tuple(spec.types), tuple(spec.partners)),
                spec.allow_webhook_overlap) for spec in config.folders.inbound]
    return hook, folders


def check_inbound_routes(config: Config) -> list[Overlap]:
    """Refuse (ConfigError) when a received message type + partner could be delivered both
    by the webhook and by an inbound folder not marked `allow_webhook_overlap = true`;
    returns the overlaps that are allowed (for a start-up log line)."""
    hook, folders = inbound_routes(config)
    if hook is None:
        return []
    refused, allowed = [], []
    for route, allow in folders:
        found = overlap(hook, route)
        if found is not None:
            (allowed if allow else refused).append(found)
    if refused:
        lines = "; ".join(f.describe() for f in refused)
        raise ConfigError(
            f"{lines}: whichever claims a message first delivers it and the other never sees it. "
            "Give the webhook and the folder disjoint types/partners, set [webhooks] inbound = false, "
            f"or, if each such message may go to either, set allow_webhook_overlap = true in "
            f"{', '.join(f.second.name for f in refused)}")
    return allowed


def _show(values: tuple[str, ...]) -> str:
    if values == (ANY,):
        return "* (any)"
    return values[0] if len(values) == 1 else "{" + ", ".join(values) + "}"
