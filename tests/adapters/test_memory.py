"""The in-memory adapter against the same scripted pipeline."""
from __future__ import annotations

import pytest
from adapter_contract import SenderContract

from adapters.memory import MemoryNetwork, MemorySender
from gateway.ports import ClientSettings, Peer


@pytest.fixture
def network(inbound):
    net = MemoryNetwork()

    async def handler(xml: bytes) -> bytes:
        return (await inbound.receive(xml, Peer("memory"))).receipt_xml

    net.listen("peer", handler)
    return net


@pytest.fixture
async def sender(network):
    s = MemorySender(ClientSettings(timeout=0.5), network=network)
    yield s
    await s.aclose()


@pytest.fixture
def endpoint():
    return "memory://peer"


@pytest.fixture
def dead_endpoint():
    return "memory://nobody"


@pytest.fixture
def bad_endpoint():
    return "http://127.0.0.1:1/"


class TestMemorySender(SenderContract):
    """The contract, in memory."""
