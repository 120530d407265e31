"""Outbound drop folders against real folders (tmp_path) and a real SQLite store: only
complete files are taken, bad files go to failed/ with an error file naming the field or
line and nothing stored, a file left in place after its submit is not sent twice."""
from __future__ import annotations

import json
import os
import time

import pytest
from dropfolder_pair import LETTER, OFFICE, PORTAL, Pair, example
from lxml import etree

from gateway.backend.dropfolder import client_ref, outbound_folders
from gateway.mapping.completion import prepare_message
from gateway.model import Direction, State


def folder_table(path, **kw) -> dict:
    return {"outbound": {"portal": {"path": str(path), "type": LETTER, "partner": OFFICE, **kw}}}


@pytest.fixture
async def pair(tmp_path):
    p = Pair(tmp_path)
    yield p
    await p.aclose()


@pytest.fixture
async def gw(pair, tmp_path):
    """Gateway A with one outbound folder tmp_path/out (default type letter, partner B)."""
    return await pair.a(folders=folder_table(tmp_path / "out"))


@pytest.fixture
def out(tmp_path):
    path = tmp_path / "out"
    path.mkdir()
    return path


def drop(folder, name: str, doc) -> bytes:
    """Write like a well-behaved backend: temp name, then rename."""
    data = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False, indent=1).encode()
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(data)
    os.rename(tmp, folder / name)
    return data


async def scan(gw):
    (folder,) = outbound_folders(gw.config, gw)
    return await folder.scan()


async def test_envelope_is_submitted_and_moved_to_done_with_a_result(gw, out):
    data = drop(out, "brief-1.json", {"type": LETTER, "partner": OFFICE, "record": example()})
    (outcome,) = await scan(gw)
    assert outcome.status == "submitted" and outcome.file == "brief-1.json"
    assert not (out / "brief-1.json").exists()
    assert (out / "done" / "brief-1.json").read_bytes() == data
    result = json.loads((out / "done" / "brief-1.json.result.json").read_text())
    msg = await gw.store.get(outcome.message_id)
    assert result["message_id"] == msg.id and result["message_uuid"] == msg.message_uuid
    assert msg.state is State.READY and msg.partner == OFFICE and msg.message_type == LETTER
    assert msg.client == "folder:portal" and msg.client_ref == client_ref("brief-1.json", data)
    history = await gw.store.history(msg.id)
    assert history[0].actor == "folder:portal"


async def test_bare_record_uses_the_folder_defaults(gw, out):
    drop(out, "bare.json", example())
    (outcome,) = await scan(gw)
    assert outcome.status == "submitted"
    assert (await gw.store.get(outcome.message_id)).partner == OFFICE


async def test_partial_files_are_ignored_until_renamed(gw, out):
    body = json.dumps(example()).encode()
    for name in (".brief.json", "brief.json.tmp", "brief.json.part"):
        (out / name).write_bytes(body[:40])          # still being written
    assert await scan(gw) == []
    assert await gw.store.list(direction=Direction.OUT) == []
    (out / "brief.json.part").write_bytes(body)
    os.rename(out / "brief.json.part", out / "brief.json")
    (outcome,) = await scan(gw)
    assert outcome.status == "submitted"
    assert sorted(p.name for p in out.iterdir()) == [".brief.json", "brief.json.tmp", "done"]


async def test_done_file_mode_waits_for_the_marker_and_removes_it(pair, tmp_path, out):
    gw = await pair.a(folders=folder_table(out, completion="done-file"))
    (out / "brief.json").write_text(json.dumps(example()))
    assert await scan(gw) == []                      # no brief.json.done yet
    (out / "brief.json.done").write_bytes(b"")
    (outcome,) = await scan(gw)
    assert outcome.status == "submitted"
    assert not (out / "brief.json.done").exists() and (out / "done" / "brief.json").exists()


async def test_min_age_waits_for_files_that_cannot_be_renamed(pair, out):
    gw = await pair.a(folders=folder_table(out, min_age=60))
    path = out / "brief.json"
    path.write_text(json.dumps(example()))
    assert await scan(gw) == []
    old = time.time() - 120
    os.utime(path, (old, old))
    assert [o.status for o in await scan(gw)] == ["submitted"]


async def test_bad_record_goes_to_failed_with_the_field_path_and_nothing_is_stored(gw, out):
    record = example()
    record["absender"]["email"] = "nicht-erreichbar"
    data = drop(out, "brief-2.json", {"record": record})
    (outcome,) = await scan(gw)
    assert outcome.status == "failed"
    assert await gw.store.list(direction=Direction.OUT) == []
    assert (out / "failed" / "brief-2.json").read_bytes() == data
    error = (out / "failed" / "brief-2.json.error.txt").read_text()
    assert "brief-2.json: record.absender.email: 'nicht-erreichbar' does not match" in error
    assert "nothing was stored or sent" in error and f"folder: portal ({out})" in error


async def test_json_syntax_error_names_the_line(gw, out):
    drop(out, "kaputt.json", b'{\n  "record": {\n    "betreff": "x",\n  }\n}\n')
    (outcome,) = await scan(gw)
    assert outcome.status == "failed"
    error = (out / "failed" / "kaputt.json.error.txt").read_text()
    assert "kaputt.json:4: not JSON:" in error


async def test_envelope_errors_are_all_named(gw, out):
    drop(out, "e.json", {"record": [], "typ": LETTER})
    drop(out, "f.json", {"record": {}, "type": "", "partner": 7})
    errors = {o.file: o.detail for o in await scan(gw)}
    assert "e.json: typ: unknown envelope key" in errors["e.json"]
    assert "f.json: type: must be a non-empty string" in errors["f.json"]
    assert "f.json: partner: must be a non-empty string" in errors["f.json"]


async def test_scope_refuses_other_types_and_partners(pair, out):
    gw = await pair.a(folders=folder_table(out, types=[LETTER], partners=["ags:00000001"]))
    drop(out, "a.json", {"type": "personenstand.urkundenantrag.0100", "record": {}})
    drop(out, "b.json", {"record": example()})
    errors = {o.file: o.detail for o in await scan(gw)}
    assert f"may not send personenstand.urkundenantrag.0100 (allowed: {LETTER})" in errors["a.json"]
    assert f"may not send to {OFFICE}" in errors["b.json"]
    assert await gw.store.list(direction=Direction.OUT) == []


async def test_partner_that_does_not_accept_the_type_is_refused(pair, tmp_path, out):
    raw = pair.raw_a
    raw["partners"][OFFICE]["accepts"] = ["personenstand.urkundenantrag.0100"]
    gw = await pair.a(folders=folder_table(out))
    drop(out, "brief.json", example())
    (outcome,) = await scan(gw)
    assert outcome.status == "failed" and f"partner {OFFICE} does not accept {LETTER}" in outcome.detail


async def test_too_large_and_unknown_files_fail_without_being_parsed(pair, out):
    gw = await pair.a(folders=folder_table(out, max_bytes=100))
    drop(out, "big.json", {"record": example()})
    drop(out, "notes.txt", b"hello")
    errors = {o.file: o.detail for o in await scan(gw)}
    assert "larger than max_bytes (100 bytes)" in errors["big.json"]
    assert "neither JSON" in errors["notes.txt"]
    assert (out / "failed" / "big.json.error.txt").exists()


async def test_file_left_in_place_after_submit_is_not_sent_twice(pair, out):
    """A crash between submit and move: the same file is scanned again."""
    gw = await pair.a(folders=folder_table(out))
    b = await pair.b()
    data = drop(out, "brief.json", example())
    (folder,) = outbound_folders(gw.config, gw)
    first = await folder.process(out / "brief.json")
    # the crash: the file is back where it was (as if the move never happened)
    os.rename(out / "done" / "brief.json", out / "brief.json")
    (again,) = await folder.scan()
    assert (first.status, again.status) == ("submitted", "repeated")
    assert again.message_id == first.message_id
    assert len(await gw.store.list(direction=Direction.OUT)) == 1
    assert (out / "done" / "brief.json").read_bytes() == data     # its note was rewritten, same name
    assert json.loads((out / "done" / "brief.json.result.json").read_text())["repeated"] is True
    msg = await gw.wait_final(first.message_id, timeout=10)
    assert msg.state is State.ACKNOWLEDGED
    assert pair.deliveries[msg.message_uuid] == 1
    assert len(await b.store.list(direction=Direction.IN)) == 1


async def test_same_name_with_new_content_is_a_new_message(gw, out):
    drop(out, "brief.json", example())
    first = (await scan(gw))[0]
    record = example()
    record["betreff"] = "Zweiter Brief"
    drop(out, "brief.json", record)
    second = (await scan(gw))[0]
    assert first.message_id != second.message_id
    assert (out / "done" / "brief.json").exists() and (out / "done" / "brief.json.1").exists()


def unsigned_xml(gw, record: dict | None = None) -> bytes:
    record = record or example()
    record["nachrichtenkopfG2g"]["leser"] = {"verzeichnisdienst": {"code": "DVDV"}, "kennung": OFFICE,
                                             "name": "Standesamt"}
    root = prepare_message(gw.registry, LETTER, record, authority=gw.authority)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


async def test_unsigned_xml_message_is_signed_and_submitted(gw, out):
    xml = unsigned_xml(gw)
    uuid = etree.fromstring(xml).findtext(".//nachrichtenUUID")
    drop(out, "brief.xml", xml)
    (outcome,) = await scan(gw)
    assert outcome.status == "submitted"
    msg = await gw.store.get(outcome.message_id)
    assert msg.message_uuid == uuid and msg.partner == OFFICE
    assert b"SignatureValue" in await gw.store.payload(msg.id)


async def test_bad_xml_names_the_line_and_the_field(gw, out):
    record = example()
    record["absender"]["email"] = "kaputt@"
    good = unsigned_xml(gw)
    bad = good.replace(b"bauordnung@augsburg.example", b"kaputt@")
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if b"kaputt@" in text)
    drop(out, "brief.xml", bad)
    drop(out, "syntax.xml", b"<a>\n<b>\n</a>\n")
    errors = {o.file: o.detail for o in await scan(gw)}
    assert f"brief.xml:{line}: absender.email: 'kaputt@' does not match" in errors["brief.xml"]
    assert errors["syntax.xml"].startswith("syntax.xml:3:")
    assert await gw.store.list(direction=Direction.OUT) == []


async def test_signed_xml_is_refused(gw, out):
    msg = await gw.submit(LETTER, example(), to=OFFICE)
    drop(out, "signed.xml", await gw.store.payload(msg.id))
    (outcome,) = await scan(gw)
    assert outcome.status == "failed" and "already signed" in outcome.detail


async def test_xml_with_a_used_message_uuid_fails(gw, out):
    xml = unsigned_xml(gw)
    drop(out, "one.xml", xml)
    drop(out, "two.xml", xml)          # same message under another name: not a retry
    outcomes = {o.file: o for o in await scan(gw)}
    assert outcomes["one.xml"].status == "submitted"
    assert outcomes["two.xml"].status == "failed" and "already stored" in outcomes["two.xml"].detail


async def test_store_trouble_leaves_the_file_for_the_next_scan(gw, out, monkeypatch):
    drop(out, "brief.json", example())

    async def broken(**kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gw.store, "submit_outbound", broken)
    (outcome,) = await scan(gw)
    assert outcome.status == "left" and (out / "brief.json").exists()
    assert not (out / "failed").exists()
    monkeypatch.undo()
    assert [o.status for o in await scan(gw)] == ["submitted"]


async def test_author_is_this_gateway(gw, out):
    drop(out, "brief.json", example())
    (outcome,) = await scan(gw)
    xml = await gw.store.payload(outcome.message_id)
    assert PORTAL.encode() in xml


@pytest.mark.parametrize("table, says", [
    ({"outbound": {"x": {"path": "o"}}}, "set `type` or `types`"),
    ({"outbound": {"x": {"path": "o", "types": ["*"]}}}, "set `partner` or `partners`"),
    ({"outbound": {"x": {"path": "o", "type": "t", "partner": "p", "completion": "close"}}}, "is not 'rename'"),
    ({"outbound": {"x": {"type": "t"}}}, "must be a table with a path"),
    ({"inbound": {"x": {"path": "i", "typs": ["*"]}}}, "unknown key 'typs' (did you mean 'types'?)"),
    ({"inbox": {}}, "unknown key 'inbox'"),
    ({"inbound": {"x": {"path": "same"}}, "source": {"y": {"path": "same"}}}, "two folders share one path"),
])
def test_folder_config_is_checked(table, says, tmp_path):
    from gateway import config as cfg
    from gateway.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        cfg.from_dict({"folders": table}, base_dir=tmp_path)
    assert says in str(info.value)
