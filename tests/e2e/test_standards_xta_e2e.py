"""Configured standards over XTA 2 (versions 3 and 5, the fake provider that validates every
request against the real XTA XSDs): a real xdomea 2.4.0 Aussonderung 0503, a standard of our
own with nachrichtenkopf.g2g and one with an XPath header profile go from A's submit_xml
(what POST /api/messages with application/xml calls) into B's mailbox, B stores it verified
with its header facts, and B's signed receipt travels back through the provider and settles
A's message (acknowledged)."""
from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from exchange_pair import OFFICE, PORTAL
from lxml import etree
from test_standards_e2e import STANDARDS, fundsache, meldung, xdomea_0503
from test_xta_e2e import Node, fake, state_is, until, xta_configs  # noqa: F401 - fake is a fixture

from gateway.model import Direction, State
from tests.conftest import REFERENCE, need
from tests.support.xdomea import write_xdomea_standard, xdomea_dir

MESSAGES = {"xdomea": xdomea_0503, "Fundsache": fundsache, "Meldung": meldung}


def with_standards(config, folder):
    write_xdomea_standard(folder / "xdomea", REFERENCE)
    schemas = replace(config.schemas, standards=(str(folder / "xdomea"), str(STANDARDS / "fundsache"),
                                                 str(STANDARDS / "meldung")))
    return replace(config, sections={**config.sections, "schemas": schemas})


@pytest.mark.parametrize("standard", sorted(MESSAGES))
async def test_a_configured_standard_through_the_mailbox_with_the_receipt_back(standard, fake, tmp_path):
    need(xdomea_dir(REFERENCE).is_dir(), f"xdomea 2.4.0 reference set not found in {REFERENCE}")
    config_a, config_b = xta_configs(tmp_path, fake)
    config_a, config_b = with_standards(config_a, tmp_path / "a"), with_standards(config_b, tmp_path / "b")
    message_id = str(uuid.uuid4())
    xml = MESSAGES[standard](message_id)
    async with Node(config_a) as a, Node(config_b) as b:
        await a.sched.start()
        await b.sched.start()
        msg = (await a.gw.submit_xml(xml, to=OFFICE)).message
        assert msg.message_uuid == message_id
        done = await until(lambda: state_is(a.gw, msg.id, State.ACKNOWLEDGED), what="A acknowledged")
        got = await b.gw.store.find(Direction.IN, message_id)
        assert got is not None and got.partner == PORTAL and got.message_type == msg.message_type
        assert await b.gw.store.payload(got.id) == await a.gw.store.payload(msg.id)
        header = b.gw.headers.read(etree.fromstring(await b.gw.store.payload(got.id)))
        assert (header.standard, header.author, header.reader) == (standard, PORTAL, OFFICE)
        assert fake.sent[done.transport_id].closed
        receipts = [r for r in await a.gw.store.receipts(msg.id) if r.positive]
        assert receipts, "A keeps B's positive signed receipt"
