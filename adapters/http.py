"""The native HTTP transport: POST the signed message to the partner's `/messages`
endpoint; the answer is the partner's signed receipt.

All aiohttp/OSError exceptions are translated here, in one table (`post` below), into
RetryLater (timeouts, connection and TLS errors, 408/425/429/5xx) or Refused (other 4xx,
redirects, a bad endpoint URL). The SOAP adapter reuses `post` for its transport.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import aiohttp

from gateway.errors import Refused, RetryLater
from gateway.ports import ClientSettings, Outgoing, SendResult

RETRY_STATUS = frozenset({408, 425, 429})

# Library exception -> (our error, code). Checked in order: the first match wins.
EXCEPTIONS: tuple[tuple[type[BaseException], type, str], ...] = (
    (asyncio.TimeoutError, RetryLater, "timeout"),
    (aiohttp.ClientConnectorCertificateError, RetryLater, "tls-certificate"),
    (aiohttp.ClientSSLError, RetryLater, "tls"),
    (aiohttp.InvalidURL, Refused, "bad-endpoint"),
    (aiohttp.ClientConnectionError, RetryLater, "connection"),
    (aiohttp.ClientPayloadError, RetryLater, "payload"),
    (aiohttp.ClientError, RetryLater, "client"),
    (OSError, RetryLater, "os"),
    (ValueError, Refused, "bad-request"),
)


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer that passed the status table: status, headers, body."""

    status: int
    headers: dict
    body: bytes


class HttpClient:
    """One aiohttp session shared by all partners; opened on first use, closed by aclose()."""

    def __init__(self, settings: ClientSettings):
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    async def post(self, partner_id: str, url: str, body: bytes, headers: dict,
                   ok: frozenset[int] = frozenset({200})) -> Reply:
        """POST and read the answer; statuses outside `ok` and every failure become
        RetryLater or Refused. Never lets a library exception escape."""
        try:
            session = self._session or self._open()
            connect, total = self.settings.timeouts(partner_id)
            timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect)
            ctx = self.settings.ssl_for(partner_id)
            async with session.post(url, data=body, headers=headers, timeout=timeout,
                                    ssl=ctx if ctx is not None else True,
                                    allow_redirects=False) as resp:
                data = await _read(resp, self.settings.max_response_bytes)
                reply = Reply(resp.status, dict(resp.headers), data)
        except (RetryLater, Refused):
            raise
        except BaseException as exc:  # noqa: BLE001 - translated by the table, or re-raised
            for cls, error, code in EXCEPTIONS:
                if isinstance(exc, cls):
                    raise error(f"{url}: {_describe(exc)}", code=code) from None
            raise
        if reply.status not in ok:
            raise status_error(url, reply)
        return reply

    def _open(self) -> aiohttp.ClientSession:
        self._session = aiohttp.ClientSession(auto_decompress=False, trust_env=False)
        return self._session

    async def aclose(self) -> None:
        """Close the session (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def status_error(url: str, reply: Reply) -> RetryLater | Refused:
    """The error for an unwanted HTTP status: 408/425/429/5xx retry, the rest refused."""
    reason = _problem_reason(reply.body)
    text = f"{url}: HTTP {reply.status}" + (f": {reason}" if reason else "")
    if reply.status in RETRY_STATUS or reply.status >= 500:
        return RetryLater(text, code=f"http-{reply.status}",
                          retry_after=reply.headers.get("Retry-After", ""))
    return Refused(text, code=f"http-{reply.status}", detail=reason)


class HttpSender:
    """Sender over the gateway's native HTTP protocol (POST {endpoint}/messages)."""

    def __init__(self, settings: ClientSettings | None = None):
        self.client = HttpClient(settings or ClientSettings())

    async def send(self, msg: Outgoing) -> SendResult:
        """Deliver the signed bytes; the 200 answer's body is the partner's receipt."""
        url = msg.endpoint.rstrip("/") + "/messages"
        reply = await self.client.post(msg.partner_id, url, msg.xml, {
            "Content-Type": "application/xml", "X-Message-UUID": msg.message_uuid})
        if not reply.body:
            raise RetryLater(f"{url}: HTTP 200 without a receipt", code="no-receipt")
        return SendResult(receipt_xml=reply.body,
                          transport_id=reply.headers.get("X-Message-UUID", msg.message_uuid))

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self.client.aclose()


async def _read(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise Refused(f"{resp.url}: answer is over {limit} bytes", code="answer-too-large")
        chunks.append(chunk)
    return b"".join(chunks)


def _problem_reason(body: bytes) -> str:
    try:
        data = json.loads(body[:65536])
        return str(data.get("reason", ""))[:500] if isinstance(data, dict) else ""
    except ValueError:
        return ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
