"""The SOAP adapter against the real gateway server's SOAP endpoint."""
from __future__ import annotations

import pytest
from adapter_contract import SenderContract, outgoing
from aiohttp import web
from peer_double import free_port, start

from adapters.soap import SoapSender
from gateway.errors import Refused, RetryLater
from gateway.ports import ClientSettings


@pytest.fixture
async def sender():
    s = SoapSender(ClientSettings(timeout=0.5, connect_timeout=0.5))
    yield s
    await s.aclose()


@pytest.fixture
def endpoint(server):
    return server + "/soap"


@pytest.fixture
def dead_endpoint():
    return f"http://127.0.0.1:{free_port()}/soap"


@pytest.fixture
def bad_endpoint():
    return "http://[not a host/soap"


class TestSoapSender(SenderContract):
    """The contract, over SOAP 1.2."""


async def test_fault_carries_code_and_reason(sender, server, inbound):
    inbound.mode = "reject"
    with pytest.raises(Refused) as info:
        await sender.send(outgoing(server + "/soap"))
    assert info.value.code == "soap-rejected"
    assert "not XML" in info.value.detail


@pytest.mark.parametrize("status, body, error", [
    (200, b"not xml at all", Refused),
    (500, b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", RetryLater),
    (404, b"", Refused),
    (503, b"", RetryLater),
])
async def test_garbage_answers_are_translated(sender, status, body, error):
    async def handler(request):
        return web.Response(status=status, body=body)

    app = web.Application()
    app.router.add_post("/soap", handler)
    runner, url = await start(app)
    try:
        with pytest.raises(error):
            await sender.send(outgoing(url + "/soap"))
    finally:
        await runner.cleanup()


def test_wsdl_is_never_fetched_from_the_network():
    from adapters.soap import local_client

    client = local_client()
    with pytest.raises(Exception, match="local WSDL only"):
        client.transport.load("http://127.0.0.1:1/evil.xsd")
