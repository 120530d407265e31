"""The zeep client of one XTA account: WSDL loaded once, one call path, errors translated.

`XtaClient` is synchronous (zeep on requests); the adapter runs it in a worker thread.
Every operation goes through `call`, which sends with zeep (strict parsing, no DTDs, no
entities, no external resources), lets zeep check the answer against the contract and raise
SOAP faults, then parses the raw answer once more with the gateway's hardened parser for
the values and the evidence (MessageMetaData, TransportReport) kept in the routing slip.
"""
from __future__ import annotations

import logging

import zeep
from lxml import etree
from requests_toolbelt.multipart.decoder import MultipartDecoder
from zeep.utils import get_media_type
from zeep.wsdl.attachments import MessagePack
from zeep.wsdl.messages.xop import process_xop

from gateway import xml as gxml
from gateway.errors import ConfigError, Refused

from . import faults, v3, v5
from .order import Fetched, Party, Report, StatusPage, TransportOrder
from .settings import XtaSettings
from .transport import PinnedTransport

log = logging.getLogger(__name__)


def profile_for(settings: XtaSettings):
    """The version profile (v3 or v5) configured for an account."""
    if settings.version == "3":
        return v3.V3(identifier_type=settings.identifier_type)
    return v5.V5(directory=settings.directory, directory_list_version=settings.directory_list_version)


class XtaClient:
    """Synchronous XTA operations for one account at one provider."""

    def __init__(self, settings: XtaSettings, account: Party):
        self.settings = settings
        self.account = account
        self.profile = profile_for(settings)
        self._transport = PinnedTransport(settings)
        zeep_settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True,
                                      forbid_external=True, xml_huge_tree=False)
        try:
            self._zeep = zeep.Client(str(settings.wsdl), transport=self._transport,
                                     settings=zeep_settings)
        except Exception as exc:  # noqa: BLE001 - any failure here is a bad contract file
            raise ConfigError(f"XTA WSDL {settings.wsdl}: cannot load: {exc}") from None
        self._services = {}
        for role, binding in self.profile.bindings.items():
            try:
                self._services[role] = self._zeep.create_service(binding, settings.endpoint_for(role))
            except (ValueError, KeyError, zeep.exceptions.Error) as exc:
                raise ConfigError(f"XTA WSDL {settings.wsdl} is not a version {settings.version} "
                                  f"contract: binding {binding} missing ({exc})") from None
        self._limits = gxml.Limits(max_bytes=settings.max_response_bytes, max_depth=64)

    def close(self) -> None:
        """Release the HTTP session."""
        self._transport.session.close()

    # -- the one call path ---------------------------------------------------------------
    def call(self, name: str, *args, headers=(), **kwargs) -> etree._ElementTree:
        """Run operation `name` (see profile.operations); the answer's hardened parse tree."""
        role, operation = self.profile.operations[name]
        try:
            with self._zeep.settings(raw_response=True):
                response = getattr(self._services[role], operation)(
                    *args, _soapheaders=list(headers) or None, **kwargs)
            binding = self._services[role]._binding
            binding.process_reply(self._zeep, binding.get(operation), response)
            return self._tree(response)
        except Exception as exc:  # noqa: BLE001 - translated in one place, bugs re-raised
            raise faults.translate(exc, operation) from exc

    def _tree(self, response) -> etree._ElementTree:
        content = response.content
        pack = None
        content_type = response.headers.get("Content-Type", "")
        if get_media_type(content_type) == "multipart/related":      # MTOM answer
            parts = MultipartDecoder(content, content_type, response.encoding or "utf-8").parts
            content, pack = parts[0].content, MessagePack(parts=parts[1:])
        tree = gxml.parse(content, self._limits)
        if pack is not None:
            process_xop(tree.getroot(), pack)
        return tree

    # -- operations ---------------------------------------------------------------------
    def create_message_id(self) -> str:
        """createMessageId: an id assigned by the provider."""
        tree = self.call("create_id", headers=self.profile.account_headers(self.account))
        ident = self.profile.created_id(tree)
        if not ident:
            raise Refused("XTA createMessageId answered no id", code="xta:malformed-response")
        return ident

    def send(self, order: TransportOrder, xml: bytes, attachments=(), *, sync: bool = False
             ) -> Fetched | None:
        """sendMessage, or sendMessageSync returning the reply."""
        tree = self.call("send_sync" if sync else "send",
                         headers=self.profile.send_headers(order),
                         **self.profile.content_args(xml, tuple(attachments)))
        return self.profile.fetched(tree, "") if sync else None

    def report(self, message_id: str) -> Report:
        """getTransportReport for a message we sent."""
        args, kwargs = self.profile.report_args(message_id)
        tree = self.call("report", *args, headers=self.profile.account_headers(self.account), **kwargs)
        return self.profile.report(tree, message_id)

    def check_account(self) -> None:
        """checkAccountActive: returns when the account is active, raises otherwise."""
        self.call("check", headers=self.profile.account_headers(self.account))

    def lookup(self, reader: Party, service: str) -> bool | None:
        """lookupService: does the reader offer the service (None: the provider cannot say)."""
        tree = self.call("lookup", headers=self.profile.account_headers(self.account),
                         **self.profile.lookup_args(reader, service))
        return self.profile.available(tree)

    def status_list(self, limit: int) -> StatusPage:
        """getStatusList (plus getNextStatusList in version 3) up to `limit` message ids."""
        headers = self.profile.account_headers(self.account)
        page = self.profile.status_page(self.call("status_list", headers=headers,
                                                  **self.profile.status_list_args(limit)))
        ids = list(page.message_ids)
        while ("next_status_list" in self.profile.operations and len(ids) < limit
               and page.pending > 0 and page.request_id):
            page = self.profile.status_page(self.call(
                "next_status_list", headers=headers,
                **self.profile.next_status_list_args(page.request_id, page.message_ids)))
            fresh = [i for i in page.message_ids if i not in ids]
            if not fresh:
                break
            ids += fresh
        return StatusPage(tuple(ids[:limit]), page.pending, page.request_id)

    def get_message(self, message_id: str) -> Fetched:
        """getMessage: the message, still in the mailbox until `close`."""
        tree = self.call("get", headers=self.profile.account_headers(self.account),
                         **self.profile.get_args(message_id))
        return self.profile.fetched(tree, message_id)

    def close_message(self, message_id: str, request_id: str = "") -> None:
        """close: tell the provider the message is safely with us."""
        self.call("close", headers=self.profile.account_headers(self.account),
                  **self.profile.close_args(message_id, request_id))
