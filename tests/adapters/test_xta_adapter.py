"""The XTA adapter's zeep client, built from the REAL WSDLs, against the fake provider.

Every test runs for version 3 and version 5; the fake validates every request against the
real XSDs and fails the test (via `fake.rejected`) when the adapter sends anything invalid.
"""
from __future__ import annotations

import asyncio

import pytest
from lxml import etree
from support.xta_fake import FakeProvider
from support.xta_fake.helpers import (
    AUTHOR,
    PAYLOAD_NS,
    READER,
    SERVICE,
    message,
    settings_for,
)

from adapters.xta import Attachment, XtaAdapter
from gateway.errors import Refused, RetryLater


@pytest.fixture(params=["3", "5"], ids=["v3", "v5"])
async def fake(request, reference_dir):
    async with FakeProvider(reference_dir, request.param) as provider:
        provider.add_account(AUTHOR)
        provider.add_account(READER)
        provider.offer(READER, SERVICE)
        yield provider
        assert provider.rejected == [], "the adapter sent requests that violate the XSDs"


@pytest.fixture
async def sender(fake):
    adapter = XtaAdapter(settings_for(fake, AUTHOR))
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def reader(fake):
    adapter = XtaAdapter(settings_for(fake, READER))
    yield adapter
    await adapter.aclose()


def kinds(events) -> list[str]:
    return [e.kind for e in events]


async def test_send_async_puts_message_in_reader_mailbox_with_metadata_and_report(fake, sender):
    msg = message()
    result = await sender.send(msg)
    assert result.transport_id in fake.created            # createMessageId was used
    assert kinds(result.events) == ["provider-accepted", "transport-report"]
    [stored] = fake.mailbox(READER)
    assert stored.message_id == result.transport_id
    assert stored.content == msg.xml
    assert (stored.author, stored.reader, stored.service) == (AUTHOR, READER, SERVICE)
    meta = etree.tostring(stored.metadata).decode()
    assert "XGATEWAY_TEST" in meta and "Antrag" in meta and PAYLOAD_NS in meta
    report = etree.fromstring(result.events[1].data)
    assert etree.QName(report).localname == "TransportReport"
    assert "status 0 (open)" in result.events[1].detail
    assert fake.calls == ["lookupService", fake.calls[1], "sendMessage", "getTransportReport"]


async def test_metadata_names_message_type_and_schema_per_version(fake, sender):
    await sender.send(message())
    [stored] = fake.mailbox(READER)
    ns = {"m": "http://www.osci.eu/ws/2014/10/transport", "x": "https://xoev.de/transport/xta/core/3.1.1"}
    if fake.version == "3":
        kind = stored.metadata.find("m:Qualifier/m:MessageType", ns)
        assert kind.get("listURI") == "urn:de:payloadSchema:elementName"
        assert kind.get("payloadSchema") == PAYLOAD_NS and kind.findtext("code") == "Antrag"
    else:
        kind = stored.metadata.find("x:Qualifier/x:MessageType", ns)
        assert kind.get("messageSchema") == PAYLOAD_NS and kind.text == "Antrag"
        assert stored.metadata.find("x:MessageProperty/x:Value", ns).text  # our nachrichtenUUID


async def test_send_without_create_message_id_uses_our_uuid_and_a_resend_is_refused(fake):
    adapter = XtaAdapter(settings_for(fake, AUTHOR, create_message_id="false"))
    try:
        msg = message()
        result = await adapter.send(msg)
        assert result.transport_id == f"urn:uuid:{msg.message_uuid}"
        with pytest.raises(Refused) as caught:
            await adapter.send(msg)                       # the provider knows this id already
        assert caught.value.code == "ParameterIsNotValidException:9024"
    finally:
        await adapter.aclose()


async def test_send_sync_returns_reply_as_incoming(fake, sender):
    fake.offer(READER, "urn:xoev-de:sync-service", sync=True)
    fake.sync_responder = lambda order: b'<r:Antwort xmlns:r="urn:reply"><r:ok/></r:Antwort>'
    adapter = XtaAdapter(settings_for(fake, AUTHOR, mode="sync", service="urn:xoev-de:sync-service"))
    try:
        result = await adapter.send(message())
        assert kinds(result.events) == ["provider-accepted", "sync-reply", "transport-report"]
        assert result.events[1].data == b'<r:Antwort xmlns:r="urn:reply"><r:ok/></r:Antwort>'
        [reply] = await adapter.fetch(5)
        assert reply.xml == result.events[1].data and reply.handle.startswith("sync-reply:")
        assert reply.sender_hint == READER
        await adapter.settle(reply, True)                 # nothing to close at the provider
        assert "close" not in fake.calls and "sendMessageSync" in fake.calls
        assert fake.mailbox(READER) == []
    finally:
        await adapter.aclose()


async def test_sync_async_mismatch_is_refused(fake, sender):
    fake.offer(READER, SERVICE, sync=True)                # the service only works synchronously
    with pytest.raises(Refused) as caught:
        await sender.send(message())
    assert caught.value.code == "SyncAsyncException:9081"


async def test_receive_closes_only_after_settle(fake, sender, reader):
    sent = await sender.send(message(body="42"))
    [item] = await reader.fetch(10)
    assert item.handle == sent.transport_id and item.sender_hint == AUTHOR
    assert b"<a:nummer>42</a:nummer>" in item.xml
    assert kinds(item.events) == ["xta-fetched"] and b"MessageMetaData" in item.events[0].data
    [again] = await reader.fetch(10)                      # not settled: offered again, same handle
    assert (again.handle, again.xml) == (item.handle, item.xml)
    assert len(fake.mailbox(READER)) == 1
    await reader.settle(item, True)
    assert fake.mailbox(READER) == [] and await reader.fetch(10) == []
    report = await sender.report(sent.transport_id)
    assert report.kind == "transport-report" and "status 1 (green)" in report.detail


async def test_crash_between_fetch_and_settle_loses_nothing(fake, sender, reader):
    sent = await sender.send(message())
    [first] = await reader.fetch(10)
    await reader.aclose()                                 # the caller "crashes" before storing
    restarted = XtaAdapter(settings_for(fake, READER))
    try:
        [redelivered] = await restarted.fetch(10)
        assert (redelivered.handle, redelivered.xml) == (first.handle, first.xml) == \
            (sent.transport_id, redelivered.xml)
        await restarted.settle(redelivered, True)
        assert fake.mailbox(READER) == []
        assert fake.sent[sent.transport_id].fetches == 2
    finally:
        await restarted.aclose()


async def test_lost_getmessage_answer_is_retried_and_redelivered(fake, sender, reader):
    await sender.send(message())
    fake.drop_next("getMessage")                          # provider served it, answer lost
    with pytest.raises(RetryLater) as caught:
        await reader.fetch(10)
    assert caught.value.code == "connection"
    [item] = await reader.fetch(10)
    await reader.settle(item, True)
    assert fake.mailbox(READER) == []


async def test_lost_close_answer_then_settle_again_is_fine(fake, sender, reader):
    await sender.send(message())
    [item] = await reader.fetch(10)
    fake.drop_next("close")                               # closed at the provider, answer lost
    with pytest.raises(RetryLater):
        await reader.settle(item, True)
    await reader.settle(item, True)                       # provider: unknown id -> already closed
    assert fake.mailbox(READER) == []


async def test_fetch_respects_limit_and_pages_with_next_status_list(fake, sender, reader):
    fake.page_size = 2
    sent = [(await sender.send(message(body=str(i)))).transport_id for i in range(5)]
    first = await reader.fetch(3)
    # v3 pages on with getNextStatusList; v5 has no paging: a provider page is all we get
    taken = 3 if fake.version == "3" else 2
    assert [i.handle for i in first] == sent[:taken]
    assert ("getNextStatusList" in fake.calls) == (fake.version == "3")
    for item in first:
        await reader.settle(item, True)
    rest = []
    while batch := await reader.fetch(10):
        rest += batch
        for item in batch:
            await reader.settle(item, True)
    assert [i.handle for i in rest] == sent[taken:]


async def test_attachments_travel_and_arrive_as_events(fake, sender, reader):
    pdf = Attachment("anlage.pdf", "application/pdf", b"%PDF-1.7 fake")
    await sender.send(message(), attachments=[pdf])
    [item] = await reader.fetch(1)
    assert kinds(item.events) == ["xta-fetched", "xta-attachment"]
    assert item.events[1].data == pdf.data and "anlage.pdf" in item.events[1].detail


async def test_health_probe(fake, sender):
    await sender.health()
    fake.add_account(AUTHOR, active=False)
    with pytest.raises(Refused) as caught:
        await sender.health()
    assert caught.value.code == "PermissionDeniedException:9011"
    assert "gesperrt" in caught.value.detail


async def test_unknown_account_is_refused(fake):
    adapter = XtaAdapter(settings_for(fake, "ags:99999999"))
    try:
        with pytest.raises(Refused) as caught:
            await adapter.fetch(1)
        assert caught.value.code == "PermissionDeniedException:9012"
    finally:
        await adapter.aclose()


async def test_lookup_service_refuses_reader_without_the_service(fake, sender):
    assert await sender.accepts(READER, "test.antrag.0100") is True
    assert await sender.accepts("ags:05000005", "test.antrag.0100") is False
    with pytest.raises(Refused) as caught:
        await sender.send(message(to="ags:05000005"))
    assert caught.value.code == "lookupService:not-available"
    assert "sendMessage" not in fake.calls and "createMessageId" not in fake.calls


async def test_report_failure_after_send_does_not_fail_the_send(fake, sender):
    fake.fail_next("getTransportReport", fake.codec.technical, "9030")
    result = await sender.send(message())
    assert kinds(result.events) == ["provider-accepted", "transport-report-unavailable"]
    assert fake.codec.technical in result.events[1].detail
    assert len(fake.mailbox(READER)) == 1


async def test_request_violating_the_xsd_earns_schema_violation_fault(fake, sender):
    bad = etree.Element(f"{{{_meta_ns(fake.version)}}}MessageMetaData")      # empty: invalid
    client = sender._client
    with pytest.raises(Refused) as caught:
        await asyncio.to_thread(client.call, "send", headers=[bad],
                         **client.profile.content_args(b"<a/>", ()))
    assert caught.value.code == "MessageSchemaViolationException:9050"
    assert "MessageMetaData" in caught.value.detail
    fake.rejected.clear()                                 # this one was on purpose


def _meta_ns(version: str) -> str:
    return ("http://www.osci.eu/ws/2014/10/transport" if version == "3"
            else "https://xoev.de/transport/xta/core/3.1.1")
