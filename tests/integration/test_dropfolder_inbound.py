"""Inbound folders (received messages written atomically for a legacy backend) and source
folders (signed messages partners leave in a shared folder), with a real SQLite store."""
from __future__ import annotations

import asyncio
import json

import pytest
from dropfolder_pair import LETTER, OFFICE, PORTAL, Pair, example

from adapters import sources
from gateway.backend.dropfolder import inbound_folders, inbound_name
from gateway.exchange.polling import poll
from gateway.model import Direction, State


@pytest.fixture
async def pair(tmp_path):
    p = Pair(tmp_path)
    yield p
    await p.aclose()


async def received(pair, b, count: int = 1, type_id: str = LETTER) -> list:
    """Let A send `count` messages to B; returns B's stored (verified) messages."""
    a = await pair.a()
    for _ in range(count):
        msg = await a.submit(type_id, example(type_id), to=OFFICE)
        assert (await a.wait_final(msg.id, timeout=10)).state is State.ACKNOWLEDGED
    return await b.store.list(direction=Direction.IN)


async def test_received_message_is_written_atomically_then_delivered(pair, tmp_path):
    inbox = tmp_path / "inbox"
    b = await pair.b(folders={"inbound": {"registry": {"path": str(inbox), "record_json": True}}})
    (msg,) = await received(pair, b)
    assert msg.state is State.VERIFIED
    assert await inbound_folders(b.config, b).deliver() == 1
    stem = f"{LETTER}_{msg.message_uuid}"
    assert sorted(p.name for p in inbox.iterdir()) == [f"{stem}.json", f"{stem}.xml"]   # no temp files
    assert (inbox / f"{stem}.xml").read_bytes() == await b.store.payload(msg.id)
    doc = json.loads((inbox / f"{stem}.json").read_text())
    assert doc["message_uuid"] == msg.message_uuid and doc["partner"] == PORTAL and doc["type"] == LETTER
    assert doc["record"]["betreff"] == example()["betreff"]
    after = await b.store.get(msg.id)
    assert after.state is State.DELIVERED
    assert (await b.store.history(msg.id))[-1].detail == f"written to folder registry as {stem}.xml"
    assert await inbound_folders(b.config, b).deliver() == 0          # nothing twice


async def test_crash_before_the_state_change_writes_the_same_file_again(pair, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    b = await pair.b(folders={"inbound": {"registry": {"path": str(inbox)}}},
                     store={"lease_seconds": 0.3},                    # sends stay below the lease
                     delivery={"timeout": 0.1, "connect_timeout": 0.1})
    (msg,) = await received(pair, b)
    folders = inbound_folders(b.config, b)

    async def crash(*args, **kw):
        raise RuntimeError("power cut")

    monkeypatch.setattr(b.store, "transition", crash)
    with pytest.raises(RuntimeError):
        await folders.deliver()
    monkeypatch.undo()
    name = f"{inbound_name(LETTER, msg.message_uuid)}.xml"
    assert [p.name for p in inbox.iterdir()] == [name]
    assert (await b.store.get(msg.id)).state is State.VERIFIED       # not delivered yet
    assert await folders.deliver() == 0                               # still leased by the crashed run
    await asyncio.sleep(0.4)                                          # the lease expires
    assert await folders.deliver() == 1
    assert [p.name for p in inbox.iterdir()] == [name]                # same name, written again
    assert (inbox / name).read_bytes() == await b.store.payload(msg.id)
    assert (await b.store.get(msg.id)).state is State.DELIVERED


async def test_routes_by_type_and_unrouted_messages_stay_unclaimed(pair, tmp_path):
    b = await pair.b(folders={"inbound": {
        "letters": {"path": str(tmp_path / "letters"), "types": [LETTER]},
        "other": {"path": str(tmp_path / "other"), "types": ["akte.abgabe.0300"]}}})
    await received(pair, b, type_id="personenstand.urkundenantrag.0100")
    (letter,) = [m for m in await received(pair, b) if m.message_type == LETTER]
    assert await inbound_folders(b.config, b).deliver() == 1
    assert (tmp_path / "letters" / f"{inbound_name(LETTER, letter.message_uuid)}.xml").exists()
    assert not (tmp_path / "other").exists()
    (left,) = await b.store.list(direction=Direction.IN, state=State.VERIFIED)
    assert left.message_type == "personenstand.urkundenantrag.0100" and left.claimed_by is None


async def test_unwritable_folder_gives_the_message_back_for_later(pair, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    b = await pair.b(folders={"inbound": {"registry": {"path": str(blocked)}}})
    (msg,) = await received(pair, b)
    assert await inbound_folders(b.config, b).deliver() == 0
    after = await b.store.get(msg.id)
    assert after.state is State.VERIFIED and after.claimed_by is None
    assert after.next_attempt_at is not None                          # retried in a minute


def test_inbound_names_are_safe():
    assert inbound_name("a.b.0100", "../../etc/passwd") == "a.b.0100_.._.._etc_passwd"
    assert "/" not in inbound_name("x", "a/b\\c")


async def test_source_folder_messages_are_verified_stored_and_moved(pair, tmp_path):
    """Signed messages a partner leaves in a shared folder: fetch -> pipeline -> settle."""
    shared = tmp_path / "shared"
    shared.mkdir()
    b = await pair.b(folders={"source": {"from-portal": {"path": str(shared)}}})
    a = await pair.a()
    good = await a.store.payload((await a.submit(LETTER, example(), to=OFFICE)).id)
    forged = good.replace(b"<betreff>", b"<betreff>X")
    (shared / "good.xml").write_bytes(good)
    (shared / "forged.xml").write_bytes(forged)
    (shared / "junk.xml").write_bytes(b"not xml at all")
    (shared / "late.xml.part").write_bytes(good[:10])
    (named,) = sources(b.config)
    report = await poll(b, named, 10)
    assert (report.fetched, report.accepted, report.rejected, report.left) == (3, 1, 2, 0)
    (stored,) = await b.store.list(direction=Direction.IN)
    assert stored.state is State.VERIFIED and await b.store.payload(stored.id) == good
    assert sorted(p.name for p in (shared / "done").iterdir()) == ["good.xml", "good.xml.result.txt"]
    assert "codes 1100" in (shared / "failed" / "forged.xml.error.txt").read_text()
    assert "not a message" in (shared / "failed" / "junk.xml.error.txt").read_text()
    kept = sorted(p.name for p in (b.config.data_dir / "quarantine" / "folder_from-portal").iterdir())
    assert len(kept) == 4 and sum(n.endswith(".error.txt") for n in kept) == 2   # nothing received is lost
    assert [p.name for p in shared.iterdir() if p.is_file()] == ["late.xml.part"]
    again = await poll(b, named, 10)
    assert again.fetched == 0
