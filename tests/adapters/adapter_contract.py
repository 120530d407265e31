"""The shared contract every Sender adapter fulfils (kombu's BasicFunctionality style).

A subclass supplies three fixtures: `sender` (the adapter, timeout 0.5 s), `endpoint`
(where the scripted peer listens) and `dead_endpoint` (where nobody listens), plus
`bad_endpoint` (a value the adapter can never use). The peer is `inbound` (ScriptedInbound).
"""
from __future__ import annotations

import asyncio

import pytest
from peer_double import receipt_for

from gateway.errors import Refused, RetryLater
from gateway.ports import Outgoing, Sender, SendResult

XML = ("<nachricht>" + "Grüße aus Köln " * 8000 + "</nachricht>").encode()


def outgoing(endpoint: str, xml: bytes = XML, n: int = 1) -> Outgoing:
    """A message for the scripted peer."""
    return Outgoing(message_id=f"m{n}", message_uuid=f"uuid-{n}", message_type="test.nachricht.0100",
                    partner_id="ags:09000009", endpoint=endpoint, xml=xml)


class SenderContract:
    """What every transport must do; subclasses provide the fixtures."""

    async def test_is_a_sender(self, sender):
        assert isinstance(sender, Sender)

    async def test_delivers_bytes_unchanged_and_returns_the_receipt(self, sender, endpoint, inbound):
        result = await sender.send(outgoing(endpoint))
        assert isinstance(result, SendResult)
        assert inbound.received[-1][0] == XML
        assert result.receipt_xml == receipt_for(XML)

    async def test_busy_peer_means_retry_later(self, sender, endpoint, inbound):
        inbound.mode = "busy"
        with pytest.raises(RetryLater) as info:
            await sender.send(outgoing(endpoint))
        assert "busy" in str(info.value)

    async def test_overloaded_peer_means_retry_later(self, sender, endpoint, inbound):
        inbound.mode = "overloaded"
        with pytest.raises(RetryLater):
            await sender.send(outgoing(endpoint))

    async def test_crashing_peer_means_retry_later(self, sender, endpoint, inbound):
        inbound.mode = "crash"
        with pytest.raises(RetryLater):
            await sender.send(outgoing(endpoint))

    async def test_refusal_means_refused_with_the_reason(self, sender, endpoint, inbound):
        inbound.mode = "reject"
        with pytest.raises(Refused) as info:
            await sender.send(outgoing(endpoint))
        assert "not XML" in str(info.value)
        assert info.value.code

    async def test_slow_peer_times_out_as_retry_later(self, sender, endpoint, inbound):
        inbound.mode = "slow"
        with pytest.raises(RetryLater) as info:
            await sender.send(outgoing(endpoint))
        assert info.value.code in ("timeout", "http-504")

    async def test_nobody_listening_means_retry_later(self, sender, dead_endpoint):
        with pytest.raises(RetryLater):
            await sender.send(outgoing(dead_endpoint))

    async def test_unusable_endpoint_is_refused(self, sender, bad_endpoint):
        with pytest.raises(Refused):
            await sender.send(outgoing(bad_endpoint))

    async def test_concurrent_sends_each_get_their_receipt(self, sender, endpoint, inbound):
        docs = [f"<n>{i}</n>".encode() for i in range(12)]
        results = await asyncio.gather(*(sender.send(outgoing(endpoint, d, i)) for i, d in enumerate(docs)))
        assert [r.receipt_xml for r in results] == [receipt_for(d) for d in docs]
        assert sorted(x for x, _ in inbound.received) == sorted(docs)

    async def test_aclose_is_idempotent_and_send_works_after_it(self, sender, endpoint):
        await sender.aclose()
        await sender.aclose()
        assert (await sender.send(outgoing(endpoint))).receipt_xml == receipt_for(XML)
