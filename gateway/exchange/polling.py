"""Polling Sources (XTA mailboxes, shared source folders): fetch -> the inbound pipeline ->
store -> settle.

A message is settled (closed at the provider, moved aside in a folder) only after it is
durably kept: stored by the inbound pipeline (verified or rejected) with the source's events
(XTA metadata, attachments) in its routing slip and, for sources without a synchronous
answer (XTA), our signed receipt queued to go back to the sender; a partner's receipt
settles our outbound message instead (never stored as a message); or, when the pipeline
refuses it without storing (unknown sender, bad signature, not a message), written to the
quarantine folder `data_dir/quarantine/<source>/` with the reason beside it. A store or
disk problem leaves the message unsettled; the source offers it again on the next poll.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import DeliveryError, MessageError
from ..files import write_atomic
from ..ports import ERROR_SUFFIX, NamedSource, Peer
from .receipt_flow import stored_for

log = logging.getLogger("gateway.polling")


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll of one source did."""

    fetched: int = 0
    accepted: int = 0          # stored as verified (positive receipt)
    rejected: int = 0          # stored as rejected, or refused and quarantined
    left: int = 0              # not settled: offered again next time




async def poll(gw, named: NamedSource, limit: int) -> PollReport:
    """Fetch up to `limit` messages from one source and run each through the pipeline."""
    try:
        items = await named.source.fetch(limit)
    except DeliveryError as exc:
        log.warning("source %s: fetch failed: %s", named.name, exc)
        return PollReport()
    accepted = rejected = left = 0
    for item in items:
        note, stored = "", None
        try:
            try:
                result = await gw.inbound.receive(item.xml, Peer(named.transport, remote=item.sender_hint))
            except MessageError as exc:     # not a message at all: no receipt can be addressed
                ok, note = False, f"not a message: {exc}"
                await _quarantine(gw, named, item, note)
            else:
                ok = result.accepted
                stored = (await stored_for(gw, result.message_uuid, item.xml)) if result.receipt_xml else None
                if stored is not None:
                    await gw.keep_events(stored.id, named.transport, item.events)
                    if named.receipts_back:
                        await gw.send_receipt_back(result, item.xml)
                if not ok:
                    note = f"negative receipt, codes {', '.join(result.codes) or '-'}"
                    if stored is None:
                        await _quarantine(gw, named, item, note)
            await named.source.settle(item, ok, note + "\n" if note else "")
        except Exception:  # noqa: BLE001 - store/disk/provider trouble: offered again next poll
            log.exception("source %s: message %s left unsettled", named.name, item.handle)
            left += 1
            continue
        if stored is not None:
            await _settled(gw, named, item, stored.id)
        accepted += ok
        rejected += not ok
    return PollReport(len(items), accepted, rejected, left)


async def _settled(gw, named: NamedSource, item, msg_id: str) -> None:
    """Say in the routing slip that the source let go of the message (after it was stored)."""
    try:
        await gw.store.note(msg_id, actor=named.transport, detail=f"settled at {named.name} ({item.handle})")
    except Exception:  # noqa: BLE001 - the message is stored and settled; only the note is missing
        log.exception("source %s: settle note for %s not written", named.name, msg_id)


async def _quarantine(gw, named: NamedSource, item, reason: str) -> Path:
    """Keep a refused, unstored message and why (nothing received is ever just dropped)."""
    sha = hashlib.sha256(item.xml).hexdigest()
    folder = gw.config.data_dir / "quarantine" / "".join(c if c.isalnum() or c in "-._" else "_"
                                                         for c in named.name)
    name = f"{gw.clock():%Y%m%dT%H%M%S}-{sha[:16]}.xml"
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / (name + ERROR_SUFFIX), (f"source: {named.name}\nhandle: {item.handle}\n"
                                               f"sender (unverified): {item.sender_hint}\n"
                                               f"sha256: {sha}\nreason: {reason}\n").encode(), mode=0o640)
    path = write_atomic(folder / name, item.xml, mode=0o640)
    log.warning("source %s: message %s refused (%s); kept as %s", named.name, item.handle, reason, path)
    return path
