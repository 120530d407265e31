"""The in-memory transport (kombu's `memory` beside the real ones): gateways in one process
deliver to each other through a `MemoryNetwork`, for tests and demos.

An endpoint `memory://NAME` names a handler registered on the network: an async function
taking the signed bytes and returning the receipt bytes. Like the real transports, it raises
only RetryLater (nobody listening, the handler is busy) or Refused (the handler refused).
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from gateway.errors import (
    DeliveryError,
    GatewayError,
    MessageError,
    Refused,
    RetryLater,
)
from gateway.ports import ClientSettings, Outgoing, SendResult

Handler = Callable[[bytes], Awaitable[bytes]]


class MemoryNetwork:
    """Endpoint name -> handler; one per test, or the process-wide DEFAULT."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def listen(self, name: str, handler: Handler) -> str:
        """Register a handler; returns its endpoint URL `memory://NAME`."""
        self.handlers[name] = handler
        return f"memory://{name}"

    def close(self, name: str) -> None:
        """Stop listening on NAME (later sends get RetryLater)."""
        self.handlers.pop(name, None)


DEFAULT = MemoryNetwork()


class MemorySender:
    """Sender that calls a handler on a MemoryNetwork, with the configured timeout."""

    def __init__(self, settings: ClientSettings | None = None, network: MemoryNetwork | None = None):
        self.settings = settings or ClientSettings()
        self.network = network or DEFAULT

    async def send(self, msg: Outgoing) -> SendResult:
        """Hand the bytes (a copy) to the endpoint's handler and return its receipt."""
        name = msg.endpoint.removeprefix("memory://")
        if not msg.endpoint.startswith("memory://") or not name:
            raise Refused(f"{msg.endpoint}: not a memory:// endpoint", code="bad-endpoint")
        handler = self.network.handlers.get(name)
        if handler is None:
            raise RetryLater(f"{msg.endpoint}: nobody is listening", code="connection")
        try:
            receipt = await asyncio.wait_for(handler(bytes(msg.xml)), self.settings.timeouts(msg.partner_id)[1])
        except DeliveryError:
            raise
        except asyncio.TimeoutError:
            raise RetryLater(f"{msg.endpoint}: timed out", code="timeout") from None
        except MessageError as exc:
            raise Refused(f"{msg.endpoint}: {exc}", code="rejected") from None
        except GatewayError as exc:
            raise RetryLater(f"{msg.endpoint}: {exc}", code="unavailable") from None
        except Exception as exc:  # noqa: BLE001 - like a server's 500: the peer may recover
            raise RetryLater(f"{msg.endpoint}: internal error: {exc}", code="internal") from None
        if not receipt:
            raise RetryLater(f"{msg.endpoint}: answered without a receipt", code="no-receipt")
        return SendResult(receipt_xml=bytes(receipt), transport_id=msg.message_uuid)

    async def aclose(self) -> None:
        """Nothing to close."""
