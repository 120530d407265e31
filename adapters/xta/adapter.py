"""XtaAdapter: the gateway's Sender and Source over one XTA 2 account (version 3 or 5).

Send: lookupService (cached) -> createMessageId -> sendMessage, or sendMessageSync whose
reply becomes an Incoming -> getTransportReport, all as TransportEvents for the routing slip.
Receive: getStatusList -> getMessage per message -> Incoming with the XTA message id as its
handle; `settle` closes the message only after the caller has stored it. Until then the
provider keeps offering it, so a crash between fetch and settle loses nothing, and a message
fetched twice comes back with the same handle for the store to recognise.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Sequence

from lxml import etree

from gateway import xml as gxml
from gateway.errors import DeliveryError, MessageError, Refused, RetryLater
from gateway.ports import Incoming, Outgoing, SendResult, TransportEvent

from .client import XtaClient
from .order import Attachment, Fetched, Party, TransportOrder
from .settings import XtaSettings, partner_settings

log = logging.getLogger(__name__)
SYNC_PREFIX = "sync-reply:"


class XtaAdapter:
    """Sender + Source over one XTA account; health() and accepts() for the directory."""

    def __init__(self, settings: XtaSettings, *, account: Party | None = None,
                 queue_replies: bool = True):
        self.settings = settings
        self.queue_replies = queue_replies     # False: the caller takes the sync-reply event
        self.account = account or Party(settings.account, settings.account_name)
        self._client = XtaClient(settings, self.account)       # loads the WSDL once
        self._request_ids: dict[str, str] = {}                 # v3: handle -> MsgBoxRequestID
        self._lookups: dict[tuple[str, str], tuple[float, bool | None]] = {}
        self._replies: deque[Incoming] = deque()               # sync replies not yet fetched
        self._lock = threading.Lock()

    @classmethod
    def from_partner(cls, spec, config) -> "XtaAdapter":
        """Build from a `[partners."ID"]` entry with transport = "xta" (see docs/xta.md)."""
        endpoint = spec.endpoints[0] if spec.endpoints else ""
        return cls(partner_settings(spec.id, dict(spec.options), endpoint, config=config))

    # -- Sender ---------------------------------------------------------------------------
    async def send(self, msg: Outgoing, attachments: Sequence[Attachment] = ()) -> SendResult:
        """Hand one message to the provider; RetryLater/Refused when that fails."""
        return await asyncio.to_thread(self._send, msg, tuple(attachments))

    def _send(self, msg: Outgoing, attachments: tuple[Attachment, ...]) -> SendResult:
        s = self.settings
        reader = Party(msg.partner_id)
        service = s.service_for(msg.message_type)
        if s.lookup_before_send and self._lookup(reader, service) is False:
            raise Refused(f"XTA lookupService: {reader.identifier} does not offer {service}",
                          code="lookupService:not-available", detail=msg.message_type)
        root = _root(msg.xml)
        message_id = (self._client.create_message_id() if s.create_message_id
                      else f"urn:uuid:{msg.message_uuid}")
        order = TransportOrder(
            message_id=message_id, author=self.account, reader=reader, service=service,
            business_scenario=s.business_scenario,
            business_scenario_list_uri=s.business_scenario_list_uri,
            business_scenario_list_version=s.business_scenario_list_version,
            message_type=root.localname if s.message_type_code == "root-element" else msg.message_type,
            message_type_list_uri=s.message_type_list_uri,
            message_type_list_version=s.message_type_list_version,
            payload_schema=root.namespace or "urn:xoev-gateway:no-namespace",
            size=len(msg.xml) + sum(len(a.data) for a in attachments),
            origin=datetime.now(timezone.utc), message_uuid=msg.message_uuid,
            service_quality=s.service_quality, test=s.test_messages)
        sync = s.is_sync(msg.message_type) or msg.options.get("xta.mode") == "sync"
        reply = self._client.send(order, msg.xml, attachments, sync=sync)
        operation = "sendMessageSync" if sync else "sendMessage"
        events = [TransportEvent("provider-accepted", detail=(
            f"XTA {s.version} {operation}: {message_id} to {reader.identifier} accepted by "
            f"{s.endpoint_for('send')}"))]
        if reply is not None:
            incoming = self._incoming(reply, handle=f"{SYNC_PREFIX}{reply.message_id or message_id}")
            events.append(TransportEvent("sync-reply", detail=f"reply to {message_id} from "
                                         f"{reply.author or reader.identifier}", data=reply.content))
            if self.queue_replies:
                self._replies.append(incoming)
        if s.report_after_send:
            events.append(self._report_event(message_id))
        return SendResult(transport_id=message_id, events=tuple(events), receipt_later=True)

    async def report(self, transport_id: str) -> TransportEvent:
        """The current transport report of a sent message, as a routing-slip event."""
        return await asyncio.to_thread(self._report_event, transport_id)

    def _report_event(self, message_id: str) -> TransportEvent:
        # The message is already with the provider: a failing report must not fail the send.
        try:
            report = self._client.report(message_id)
        except DeliveryError as exc:
            return TransportEvent("transport-report-unavailable",
                                  detail=f"{message_id}: {exc} [{exc.code}] {exc.detail}".strip())
        return TransportEvent("transport-report", detail=f"{message_id}: {report.summary}",
                              data=report.xml, positive=report.status != 3)

    # -- Source ---------------------------------------------------------------------------
    async def fetch(self, limit: int) -> Sequence[Incoming]:
        """Up to `limit` messages from the mailbox (and sync replies), none closed yet."""
        return await asyncio.to_thread(self._fetch, limit)

    def _fetch(self, limit: int) -> list[Incoming]:
        items: list[Incoming] = []
        while self._replies and len(items) < limit:
            items.append(self._replies.popleft())
        if len(items) >= limit:
            return items
        try:
            page = self._client.status_list(limit - len(items))
        except DeliveryError:
            if items:
                return items
            raise
        for message_id in page.message_ids:
            try:
                fetched = self._client.get_message(message_id)
            except RetryLater:
                if items:
                    break
                raise
            except Refused as exc:          # stays in the mailbox; logged, not handed over
                log.warning("XTA getMessage %s refused: %s [%s] %s", message_id, exc, exc.code, exc.detail)
                continue
            if fetched.encrypted:
                log.warning("XTA message %s is end-to-end encrypted (EncryptedData); left in "
                            "the mailbox", message_id)
                continue
            with self._lock:
                self._request_ids[message_id] = fetched.request_id
            items.append(self._incoming(fetched, handle=message_id))
        return items

    async def settle(self, item: Incoming, accepted: bool, note: str = "") -> None:
        """Close the message at the provider; call only after it is durably stored (the
        provider keeps no note: a refusal's reason is in our quarantine or routing slip)."""
        if item.handle.startswith(SYNC_PREFIX):
            return                          # a sync reply was never in the mailbox
        await asyncio.to_thread(self._settle, item.handle, accepted)

    def _settle(self, handle: str, accepted: bool) -> None:
        with self._lock:
            request_id = self._request_ids.pop(handle, "")
        try:
            if not request_id and self.settings.version == "3":      # e.g. a retried settle
                request_id = self._client.get_message(handle).request_id
            self._client.close_message(handle, request_id)
        except Refused as exc:
            if exc.code.startswith("InvalidMessageIDException"):
                log.info("XTA close %s: provider no longer knows it (closed before)", handle)
                return
            raise
        log.info("XTA message %s closed (%s)", handle, "accepted" if accepted else "rejected")

    # -- probes ---------------------------------------------------------------------------
    async def health(self) -> None:
        """checkAccountActive: returns when the account is active, else RetryLater/Refused."""
        await asyncio.to_thread(self._client.check_account)

    async def accepts(self, reader: str, message_type: str) -> bool:
        """lookupService: False only when the provider says the reader lacks the service."""
        service = self.settings.service_for(message_type)
        return await asyncio.to_thread(self._lookup, Party(reader), service) is not False

    def _lookup(self, reader: Party, service: str) -> bool | None:
        key, now = (reader.identifier, service), time.monotonic()
        with self._lock:
            cached = self._lookups.get(key)
        if cached and now - cached[0] < self.settings.lookup_cache_seconds:
            return cached[1]
        answer = self._client.lookup(reader, service)
        with self._lock:
            self._lookups[key] = (now, answer)
        return answer

    async def aclose(self) -> None:
        """Release the HTTP session."""
        await asyncio.to_thread(self._client.close)

    # -- helpers --------------------------------------------------------------------------
    def _incoming(self, fetched: Fetched, handle: str) -> Incoming:
        events = [TransportEvent("xta-fetched", detail=(
            f"XTA {self.settings.version} message {fetched.message_id} from "
            f"{fetched.author or 'unknown author'}"), data=fetched.metadata_xml)]
        events += [TransportEvent("xta-attachment", detail=f"{a.filename} ({a.content_type}, "
                                  f"{len(a.data)} bytes)", data=a.data) for a in fetched.attachments]
        return Incoming(xml=fetched.content, handle=handle, sender_hint=fetched.author,
                        events=tuple(events))


def _root(xml: bytes) -> etree.QName:
    """Root element name of our own outgoing document (namespace = payloadSchema)."""
    try:
        return etree.QName(gxml.parse(xml).getroot())
    except MessageError as exc:
        raise Refused(f"XTA send: the message is not usable XML: {exc}",
                      code="xta:payload-unparsable") from None
