"""The state machine table (gateway.model) and the pure audit hash chain (gateway.store.chain)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from gateway.errors import StateError
from gateway.model import (
    AUDIT_EVENTS,
    CANCELLABLE,
    CLAIMABLE,
    FINAL,
    INITIAL,
    RETRYABLE,
    TRANSITIONS,
    Direction,
    State,
    audit_event,
    check_history,
    check_transition,
)
from gateway.store import chain as audit

OUT, IN = Direction.OUT, Direction.IN
S = State
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)

HAPPY_OUT = [S.ACCEPTED, S.READY, S.SENDING, S.SENT, S.ACKNOWLEDGED]
HAPPY_IN = [S.RECEIVED, S.VERIFIED, S.DELIVERED, S.ACKNOWLEDGED]


@pytest.mark.parametrize("direction,path", [(OUT, HAPPY_OUT), (IN, HAPPY_IN)])
def test_happy_paths_are_legal(direction, path):
    check_transition(direction, None, path[0])
    for a, b in zip(path, path[1:]):
        check_transition(direction, a, b)
    assert path[-1] in FINAL[direction]


@pytest.mark.parametrize("direction,frm,to", [
    (OUT, S.ACCEPTED, S.SENT),          # must be signed (ready) and claimed first
    (OUT, S.READY, S.ACKNOWLEDGED),
    (OUT, S.ACKNOWLEDGED, S.READY),     # final
    (OUT, S.CANCELLED, S.READY),
    (OUT, S.REJECTED, S.READY),
    (OUT, S.SENT, S.SENDING),
    (IN, S.RECEIVED, S.DELIVERED),      # never deliver unverified
    (IN, S.DELIVERED, S.REJECTED),
    (IN, S.ACKNOWLEDGED, S.DELIVERED),
    (IN, S.RECEIVED, S.SENDING),        # outbound-only state
])
def test_illegal_moves_raise_state_error_naming_both_states(direction, frm, to):
    with pytest.raises(StateError) as err:
        check_transition(direction, frm, to)
    assert frm.value in str(err.value) and to.value in str(err.value)


def test_creation_states():
    for direction in Direction:
        for state in State:
            if state in INITIAL[direction]:
                check_transition(direction, None, state)
            else:
                with pytest.raises(StateError):
                    check_transition(direction, None, state)


def test_table_is_closed_and_consistent():
    for direction, table in TRANSITIONS.items():
        for frm, targets in table.items():
            assert targets <= set(table), f"{direction}: {frm} leads out of the table"
        reachable = set(INITIAL[direction])
        changed = True
        while changed:
            new = {t for s in reachable for t in table[s]} - reachable
            reachable |= new
            changed = bool(new)
        assert reachable == set(table), f"{direction}: unreachable {set(table) - reachable}"
        for state in FINAL[direction]:
            assert table[state] <= {S.READY, S.CANCELLED, S.ACKNOWLEDGED, S.REJECTED}, \
                "final states only leave by an operator or by a late receipt"
        for state in CLAIMABLE[direction]:
            assert state in table


def test_operator_sets_agree_with_the_table():
    for state in RETRYABLE:
        check_transition(OUT, state, S.READY)
    for state in CANCELLABLE:
        check_transition(OUT, state, S.CANCELLED)
    for state in CLAIMABLE[OUT]:
        check_transition(OUT, state, S.SENDING)
    check_transition(OUT, S.SENDING, S.SENDING)   # lease takeover


@pytest.mark.parametrize("frm", [S.SENDING, S.SENT, S.RETRY_WAIT, S.DEAD])
@pytest.mark.parametrize("to", [S.ACKNOWLEDGED, S.REJECTED])
def test_a_receipt_settles_a_message_that_went_out(frm, to):
    # async transports (XTA): the receipt comes as a message, possibly after the gateway
    # counted the send as failed (the provider's answer was lost) or gave it up
    check_transition(OUT, frm, to)
    assert audit_event(OUT, to, frm) in ("message.acknowledged", "message.rejected")


@pytest.mark.parametrize("frm", [S.ACCEPTED, S.READY, S.FAILED, S.CANCELLED, S.ACKNOWLEDGED, S.REJECTED])
def test_a_receipt_cannot_settle_a_message_not_out_or_already_settled(frm):
    for to in (S.ACKNOWLEDGED, S.REJECTED):
        with pytest.raises(StateError):
            check_transition(OUT, frm, to)


def test_sent_awaits_its_receipt_and_may_be_sent_again_by_an_operator():
    assert S.SENT not in FINAL[OUT] and S.SENT not in CLAIMABLE[OUT]
    assert S.SENT in RETRYABLE and S.SENT not in CANCELLABLE
    check_transition(OUT, S.SENT, S.READY)
    path = [(None, S.READY), (S.READY, S.SENDING), (S.SENDING, S.SENT), (S.SENT, S.SENT),
            (S.SENT, S.READY), (S.READY, S.SENDING), (S.SENDING, S.RETRY_WAIT),
            (S.RETRY_WAIT, S.ACKNOWLEDGED)]
    assert check_history(OUT, path, S.ACKNOWLEDGED) is None


def test_audit_events_only_for_real_moves():
    assert audit_event(OUT, S.SENT, S.SENDING) == "message.sent"
    assert audit_event(OUT, S.SENDING, S.READY) is None       # claims are not audited
    assert audit_event(OUT, S.SENDING, S.SENDING) is None
    assert audit_event(IN, S.RECEIVED, None) == "message.received"
    for (direction, state), name in AUDIT_EVENTS.items():
        assert state in TRANSITIONS[direction] and name.startswith("message.")


def test_check_history():
    ok = [(None, S.ACCEPTED), (S.ACCEPTED, S.READY), (S.READY, S.SENDING),
          (S.SENDING, S.SENDING), (S.SENDING, S.RETRY_WAIT), (S.RETRY_WAIT, S.RETRY_WAIT),
          (S.RETRY_WAIT, S.SENDING), (S.SENDING, S.ACKNOWLEDGED)]
    assert check_history(OUT, ok, S.ACKNOWLEDGED) is None
    assert "ends in" in check_history(OUT, ok, S.SENT)
    assert "starts from" in check_history(OUT, [(None, S.ACCEPTED), (S.READY, S.SENDING)], S.SENDING)
    assert "cannot move" in check_history(OUT, [(None, S.ACCEPTED), (S.ACCEPTED, S.SENT)], S.SENT)
    assert check_history(IN, [], S.RECEIVED) is not None


# -- the audit chain -----------------------------------------------------------------------

def _chain(n: int = 5) -> list[audit.AuditEntry]:
    events = [audit.AuditEvent(f"message.e{i}", "node-1", f"m{i}", {"i": i, "ü": "ß"})
              for i in range(n)]
    return audit.chain(0, audit.GENESIS, events, T0)


def test_chain_links_and_verifies():
    entries = _chain()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
    assert audit.verify(entries) is None
    more = audit.chain(5, entries[-1].hash, [audit.AuditEvent("x", "y")], T0 + timedelta(1))
    assert audit.verify(entries + more) is None
    assert audit.verify(entries[2:], prev_hash=entries[1].hash, first_seq=3) is None


def test_hash_is_sha256_of_canonical_json():
    import hashlib
    e = _chain(1)[0]
    body = {k: v for k, v in e.as_dict().items() if k != "hash"}
    assert body["at"] == "2026-01-02T03:04:05.678901Z"
    assert e.hash == hashlib.sha256(audit.canonical(body)).hexdigest()
    assert audit.canonical({"b": 1, "a": "ü"}) == '{"a":"ü","b":1}'.encode()


@pytest.mark.parametrize("tamper,seq,reason", [
    (lambda es: es.__setitem__(2, dataclasses.replace(es[2], details={"i": 99})), 3, "altered"),
    (lambda es: es.__setitem__(2, dataclasses.replace(es[2], actor="mallory")), 3, "altered"),
    (lambda es: es.__setitem__(2, dataclasses.replace(es[2], at=T0 + timedelta(seconds=1))), 3, "altered"),
    (lambda es: es.pop(1), 2, "missing"),
    (lambda es: es.insert(4, es[3]), 5, "missing"),
])
def test_tampering_is_found_at_the_first_broken_entry(tamper, seq, reason):
    entries = _chain()
    tamper(entries)
    broken = audit.verify(entries)
    assert broken is not None and broken.seq == seq and reason in broken.reason


def test_rehashing_one_entry_breaks_the_next_link():
    entries = _chain()
    e = dataclasses.replace(entries[1], details={"i": 42})
    entries[1] = dataclasses.replace(e, hash=audit.entry_hash(
        e.seq, e.at, e.event, e.actor, e.message_id, e.details, e.prev_hash))
    broken = audit.verify(entries)
    assert broken.seq == 3 and "prev_hash" in broken.reason


# -- the [store] configuration section --------------------------------------------------------

def test_store_section_defaults_and_retention(tmp_path):
    from gateway import config
    c = config.from_dict({}, base_dir=tmp_path)
    assert c.store.url == "" and c.store.auto_upgrade and c.store.retention == ()
    assert c.store.retention_days("acknowledged") is None
    c = config.from_dict({"store": {"lease_seconds": 30, "retention": {"dead": 7, "acknowledged": 90}}},
                         base_dir=tmp_path)
    assert c.store.lease_seconds == 30 and c.store.retention_days("dead") == 7
    assert dict(c.store.retention) == {"acknowledged": 90, "dead": 7}


@pytest.mark.parametrize("table,message", [
    ({"retention": {"ready": 3}}, "not a final state"),
    ({"retention": {"dead": 0}}, "whole days"),
    ({"retention": {"dead": True}}, "whole days"),
    ({"retention": 5}, "must be a table"),
    ({"lease_seconds": 0}, "lease_seconds"),
    ({"urll": "x"}, "did you mean 'url'"),
    ({"auto_upgrade": "yes"}, "expected bool"),
])
def test_store_section_refuses_bad_values(tmp_path, table, message):
    from gateway import config
    from gateway.errors import ConfigError
    with pytest.raises(ConfigError, match=message):
        config.from_dict({"store": table}, base_dir=tmp_path)
