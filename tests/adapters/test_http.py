"""The HTTP adapter against the real gateway server (and a raw aiohttp app for statuses)."""
from __future__ import annotations

import pytest
from adapter_contract import SenderContract, outgoing
from aiohttp import web
from peer_double import free_port, start

from adapters.http import HttpSender
from gateway.errors import Refused, RetryLater
from gateway.ports import ClientSettings


@pytest.fixture
async def sender():
    s = HttpSender(ClientSettings(timeout=0.5, connect_timeout=0.5))
    yield s
    await s.aclose()


@pytest.fixture
def endpoint(server):
    return server


@pytest.fixture
def dead_endpoint():
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def bad_endpoint():
    return "http://[not a host"


class TestHttpSender(SenderContract):
    """The contract, over HTTP."""


@pytest.mark.parametrize("status, error", [
    (502, RetryLater), (503, RetryLater), (429, RetryLater), (408, RetryLater),
    (400, Refused), (403, Refused), (404, Refused), (302, Refused),
])
async def test_status_table(sender, status, error):
    async def handler(request):
        return web.Response(status=status, headers={"Location": "/elsewhere"} if status == 302 else None)

    app = web.Application()
    app.router.add_post("/messages", handler)
    runner, url = await start(app)
    try:
        with pytest.raises(error) as info:
            await sender.send(outgoing(url))
        assert info.value.code == f"http-{status}"
    finally:
        await runner.cleanup()


async def test_oversized_answer_is_refused(inbound):
    async def handler(request):
        return web.Response(body=b"x" * 5000)

    app = web.Application()
    app.router.add_post("/messages", handler)
    runner, url = await start(app)
    small = HttpSender(ClientSettings(timeout=2, max_response_bytes=1000))
    try:
        with pytest.raises(Refused, match="over 1000 bytes"):
            await small.send(outgoing(url))
    finally:
        await small.aclose()
        await runner.cleanup()
