"""The SOAP 1.2 transport (the WSDL's SOAP 1.2 port; the 1.1 port is for other clients): a zeep client built from our local WSDL (`xsd/soap/gateway.wsdl`,
never fetched over the network) builds and reads the envelopes; the bytes travel through
the HTTP adapter's aiohttp client, so timeouts and exception translation are the same.

Faults are translated here: `env:Receiver` or `gatewayFault/retry = true` -> RetryLater,
any other fault -> Refused, carrying the fault's gw code and reason.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from lxml import etree

from gateway import xml as hardened
from gateway.errors import Refused, RetryLater
from gateway.ports import ClientSettings, Outgoing, SendResult
from gateway.resources import xsd_dir

from .http import HttpClient

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
GW = "urn:xoev-gateway:exchange:1"


def local_client():
    """A zeep Client from the shipped WSDL; any attempt to load a remote document fails."""
    import zeep
    from zeep.transports import Transport

    class _LocalOnly(Transport):
        def load(self, url):
            if "://" in url and not url.startswith("file://"):
                raise zeep.exceptions.TransportError(f"refusing to fetch {url}: local WSDL only")
            return super().load(url)

    settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True,
                             forbid_external=True, xml_huge_tree=False)
    return zeep.Client(str(xsd_dir() / "soap" / "gateway.wsdl"), transport=_LocalOnly(), settings=settings)


@dataclass(slots=True)
class _Response:
    """The subset of a requests.Response that zeep's binding reads."""

    status_code: int
    content: bytes
    headers: dict = field(default_factory=dict)
    encoding: str = "utf-8"


class SoapSender:
    """Sender over our SOAP 1.2 service (operation deliverMessage)."""

    def __init__(self, settings: ClientSettings | None = None):
        self.client = HttpClient(settings or ClientSettings())
        self._zeep = local_client()
        self._service = self._zeep.bind("GatewayExchangeService", "GatewayExchangeSoap12Port")
        self._binding = self._service._binding
        self._action = self._binding.get("deliverMessage").soapaction

    async def send(self, msg: Outgoing) -> SendResult:
        """Call deliverMessage; the response's receipt is the partner's signed receipt."""
        body = await asyncio.to_thread(self._request, msg.xml)
        headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{self._action}"'}
        reply = await self.client.post(msg.partner_id, msg.endpoint, body, headers,
                                       ok=frozenset({200, 400, 500}))
        result = await asyncio.to_thread(self._reply, msg.endpoint, reply.status, reply.body, reply.headers)
        return SendResult(receipt_xml=result.receipt, transport_id=result.messageUUID)

    def _request(self, xml: bytes) -> bytes:
        envelope = self._zeep.create_message(self._service, "deliverMessage", message=xml)
        return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")

    def _reply(self, url: str, status: int, body: bytes, headers: dict):
        import zeep.exceptions as zx

        try:
            hardened.parse(body, hardened.Limits(max_bytes=max(len(body), 1)))
        except Exception as exc:  # noqa: BLE001 - XmlSecurityError: the peer answered garbage
            error = RetryLater if status >= 500 else Refused
            raise error(f"{url}: HTTP {status} with an answer that is not safe XML: {exc}",
                        code="bad-answer") from None
        try:
            return self._binding.process_reply(self._zeep, self._binding.get("deliverMessage"),
                                               _Response(status, body, headers))
        except zx.Fault as fault:
            raise fault_error(url, fault) from None
        except (zx.Error, ValueError, etree.LxmlError) as exc:
            raise Refused(f"{url}: unreadable SOAP answer: {exc}", code="bad-answer") from None

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self.client.aclose()


def fault_error(url: str, fault) -> RetryLater | Refused:
    """Translate a zeep Fault: Receiver side or retry=true -> RetryLater, else Refused."""
    code, retry = "", None
    detail = fault.detail
    if detail is not None:
        node = detail.find(f"{{{GW}}}gatewayFault")
        if node is not None:
            code = (node.findtext(f"{{{GW}}}code") or "").strip()
            retry = (node.findtext(f"{{{GW}}}retry") or "").strip() == "true"
    if retry is None:
        retry = "Receiver" in str(fault.code or "")
    text = f"{url}: SOAP fault {code or fault.code}: {fault.message}"
    error = RetryLater if retry else Refused
    return error(text, code=f"soap-{code}" if code else "soap-fault", detail=str(fault.message or ""))
