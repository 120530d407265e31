"""JSON shapes of the API answers and the parsing of query parameters (paging, filters)."""
from __future__ import annotations

import re
from datetime import datetime

from aiohttp import web

from ...model import HistoryEntry, Message, Receipt, State
from ...store.chain import timestamp
from .problems import ApiError, field_error

CURSOR = re.compile(r"[0-9a-f]{32}")


def when(at: datetime | None) -> str | None:
    """A time as ISO 8601 UTC with microseconds and Z (or None)."""
    return timestamp(at) if at is not None else None


def message(msg: Message) -> dict:
    """Metadata of a message (outbound or inbound)."""
    return {"id": msg.id, "direction": msg.direction.value, "message_uuid": msg.message_uuid,
            "type": msg.message_type, "partner": msg.partner, "state": msg.state.value,
            "client_ref": msg.client_ref, "attempts": msg.attempts,
            "created_at": when(msg.created_at), "updated_at": when(msg.updated_at),
            "next_attempt_at": when(msg.next_attempt_at), "last_error": msg.last_error,
            "size": msg.size, "sha256": msg.digest}


def timeline(steps: list[HistoryEntry]) -> list[dict]:
    """The routing slip, oldest first."""
    return [{"at": when(h.at), "from": h.from_state.value if h.from_state else None,
             "to": h.to_state.value, "actor": h.actor, "detail": h.detail} for h in steps]


def receipts(msg_id: str, found: list[Receipt], base: str) -> list[dict]:
    """Receipts and transport reports, each with the link to its signed XML."""
    return [{"id": r.id, "kind": r.kind, "positive": r.positive, "at": when(r.at), "sha256": r.digest,
             "detail": r.detail, "href": f"{base}/{msg_id}/receipts/{r.id}"} for r in found]


def limit(request: web.Request, maximum: int) -> int:
    """?limit= (1..maximum, default 50)."""
    text = request.query.get("limit", "50")
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise ApiError("bad-request", f"limit must be a whole number from 1 to {maximum}",
                       errors=[field_error("limit", f"expected 1..{maximum}, got {text!r}")])
    return int(text)


def states(request: web.Request, allowed: frozenset[State] | None = None) -> list[State] | None:
    """?state= (repeatable or comma-separated), checked against the known states."""
    raw = [s for value in request.query.getall("state", []) for s in value.split(",") if s]
    if not raw:
        return None
    known = allowed or frozenset(State)
    bad = [s for s in raw if s not in {k.value for k in known}]
    if bad:
        raise ApiError("bad-request", f"unknown state {bad[0]!r}", errors=[field_error(
            "state", f"one of {', '.join(sorted(k.value for k in known))}")])
    return [State(s) for s in raw]


def since(request: web.Request) -> datetime | None:
    """?since= as an ISO 8601 time with offset."""
    text = request.query.get("since")
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ApiError("bad-request", "since must be an ISO 8601 time with offset, e.g. "
                       "2026-03-01T00:00:00Z", errors=[field_error("since", f"not a time: {text!r}")])
    return value


def cursor(request: web.Request) -> str | None:
    """?cursor=: the next_cursor of an earlier page (a message id)."""
    value = request.query.get("cursor") or None
    if value is not None and not CURSOR.fullmatch(value):
        raise ApiError("bad-request", "cursor must be a next_cursor value of an earlier page",
                       errors=[field_error("cursor", "not a cursor")])
    return value


def page(items: list[dict], next_cursor: str | None) -> dict:
    """One page of a list answer."""
    return {"items": items, "next_cursor": next_cursor}
