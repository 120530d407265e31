"""What a log line is about: the message (id, UUID, partner, type) or job a task works on.

The exchange binds a message when it starts on it (`bind(message_id=..., partner=...)`);
the value lives in a ContextVar, so it follows the task (and the tasks it starts) and no
other: concurrent deliveries each log their own message. gateway.operations.logs puts these
fields on every line (JSON fields, or `key=value` after a text line).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Iterator

FIELDS = ("message_id", "message_uuid", "partner", "type", "job")

_current: ContextVar[dict[str, str]] = ContextVar("gateway_log_context", default={})


def bind(**fields: str | None) -> Token:
    """Add fields (empty ones are left out) to the current task's context; returns the token
    to `reset` with."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    return _current.set({**_current.get(), **{k: str(v) for k, v in fields.items() if v}})


def reset(token: Token) -> None:
    """Restore the context as it was before `bind`."""
    _current.reset(token)


def current() -> dict[str, str]:
    """The fields bound in this task."""
    return _current.get()


def of_message(msg) -> dict[str, str]:
    """The fields of a stored message (gateway.model.Message)."""
    return {"message_id": msg.id, "message_uuid": msg.message_uuid, "partner": msg.partner,
            "type": msg.message_type}


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """`bind` for the `with` block only (for loops that work on one message after another)."""
    token = bind(**fields)
    try:
        yield
    finally:
        reset(token)
