"""Helpers for the adapter tests: a real gateway server app on 127.0.0.1 port 0 whose
inbound pipeline is a scripted double (`ScriptedInbound`)."""
from __future__ import annotations

import asyncio
import hashlib
import socket

from aiohttp import web

from gateway.errors import MessageError, RetryLater
from gateway.ports import InboundResult, Peer, StatusInfo


class ScriptedInbound:
    """An Inbound double: records what arrives and behaves as `mode` says."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.received: list[tuple[bytes, Peer]] = []

    async def receive(self, xml: bytes, peer: Peer) -> InboundResult:
        self.received.append((xml, peer))
        if self.mode == "busy":
            raise RetryLater("the store is busy")
        if self.mode == "overloaded":
            raise RetryLater("too many messages in flight", code="overloaded")
        if self.mode == "reject":
            raise MessageError("the message is not XML")
        if self.mode == "crash":
            raise RuntimeError("boom")
        if self.mode == "slow":
            await asyncio.sleep(5)
        return InboundResult("uuid-1", True, receipt_for(xml))

    async def status(self, message_uuid: str, peer: Peer) -> StatusInfo | None:
        if message_uuid == "uuid-1":
            return StatusInfo("uuid-1", "received", b"<quittung/>")
        return None


def receipt_for(xml: bytes) -> bytes:
    """The double's receipt: proves which bytes arrived."""
    return b"<quittung>" + hashlib.sha256(xml).hexdigest().encode() + b"</quittung>"


async def start(app: web.Application, ssl_context=None) -> tuple[web.AppRunner, str]:
    """Run an app on 127.0.0.1, any free port; returns the runner and the base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"


def free_port() -> int:
    """A port nobody listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


