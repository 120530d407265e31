"""The hash chain of the audit log: pure functions, no I/O (the store writes the entries).

Each entry is (seq, at, event, actor, message_id, details, prev_hash, hash), where

    hash = SHA-256( canonical_json({"seq", "at", "event", "actor", "message_id",
                                    "details", "prev_hash"}) )

canonical JSON = keys sorted, no whitespace (`,` `:`), UTF-8, `at` as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC). The first entry's prev_hash is 64 zeros (GENESIS);
seq counts up from 1 without gaps. Changing, inserting or deleting any entry breaks the
chain at that entry; cutting entries off the end is only visible against a head hash
recorded elsewhere (an export manifest, `gateway audit verify` output kept by operations).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Something security-relevant that happened, before it is chained."""

    event: str                          # e.g. "message.accepted", "config.changed"
    actor: str                          # who did it: node, operator, "api:<client>"
    message_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One chained entry of the audit log."""

    seq: int
    at: datetime
    event: str
    actor: str
    message_id: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the exported line)."""
        return {**_body(self.seq, self.at, self.event, self.actor, self.message_id,
                        self.details, self.prev_hash), "hash": self.hash}


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where and why verification failed."""

    seq: int
    reason: str


def canonical(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact separators, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def timestamp(at: datetime) -> str:
    """The fixed textual form of a time in the chain (UTC, microseconds, Z)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _body(seq, at, event, actor, message_id, details, prev_hash) -> dict[str, Any]:
    return {"seq": seq, "at": timestamp(at), "event": event, "actor": actor,
            "message_id": message_id, "details": dict(details), "prev_hash": prev_hash}


def entry_hash(seq: int, at: datetime, event: str, actor: str, message_id: str | None,
               details: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of an entry's canonical JSON including prev_hash."""
    return hashlib.sha256(canonical(_body(seq, at, event, actor, message_id, details,
                                          prev_hash))).hexdigest()


def chain(head_seq: int, head_hash: str, events: Iterable[AuditEvent], at: datetime) -> list[AuditEntry]:
    """Chain new events after the head (seq, hash) of the log, all stamped `at`."""
    out: list[AuditEntry] = []
    seq, prev = head_seq, head_hash
    for ev in events:
        seq += 1
        details = json.loads(canonical(dict(ev.details)))  # JSON types only, as stored
        h = entry_hash(seq, at, ev.event, ev.actor, ev.message_id, details, prev)
        out.append(AuditEntry(seq, at, ev.event, ev.actor, ev.message_id, details, prev, h))
        prev = h
    return out


def verify(entries: Iterable[AuditEntry], *, prev_hash: str = GENESIS,
           first_seq: int = 1) -> ChainBreak | None:
    """Walk entries in seq order; return the first broken one, or None if the chain holds.

    An exported range starts at its first entry's seq and prev_hash instead of GENESIS."""
    expected = first_seq
    for e in entries:
        if e.seq != expected:
            return ChainBreak(expected, f"entry {expected} is missing (next entry is {e.seq})")
        if e.prev_hash != prev_hash:
            return ChainBreak(e.seq, "prev_hash does not match the previous entry's hash")
        actual = entry_hash(e.seq, e.at, e.event, e.actor, e.message_id, e.details, e.prev_hash)
        if actual != e.hash:
            return ChainBreak(e.seq, "content does not match its hash (entry altered)")
        prev_hash, expected = e.hash, expected + 1
    return None
