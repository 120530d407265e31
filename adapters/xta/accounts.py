"""The "xta" transport as the gateway wires it: one Sender for every XTA partner.

The composition root builds one sender per transport name (`adapters.load("xta")(client
settings)`) and hands each Outgoing the partner's `options`; `XtaTransport` keeps one
XtaAdapter (one loaded WSDL, one HTTP session) per distinct option set. Given the Config it
builds them all at start-up, so a bad option refuses to start instead of failing a send.
`mailboxes(config)` gives the Sources to poll: one adapter per distinct mailbox (provider
endpoint + account), however many partners share it.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Mapping

from gateway.errors import ConfigError, Refused
from gateway.ports import Outgoing, SendResult

from .adapter import XtaAdapter
from .settings import XtaSettings, partner_settings


class XtaTransport:
    """Sender for all partners with transport = "xta"; routes by the partner's options."""

    def __init__(self, client_settings=None, *, config=None):
        self._client_settings = client_settings
        self._config = config
        self._adapters: dict[tuple, XtaAdapter] = {}
        self._lock = threading.Lock()
        if config is not None:                     # check every XTA partner at start-up
            for spec in config.partners.values():
                if spec.transport == "xta":
                    for endpoint in spec.endpoints or ("",):
                        self.adapter_for(spec.id, dict(spec.options), endpoint)

    def adapter_for(self, partner_id: str, options: Mapping[str, str], endpoint: str) -> XtaAdapter:
        """The (cached) adapter for a partner's options."""
        settings = partner_settings(partner_id, options, endpoint, config=self._config,
                                    client_settings=self._client_settings)
        with self._lock:
            adapter = self._adapters.get(_key(settings))
            if adapter is None:
                adapter = self._adapters[_key(settings)] = XtaAdapter(settings, queue_replies=False)
            return adapter

    async def send(self, msg: Outgoing) -> SendResult:
        """Send through the partner's XTA account (see XtaAdapter.send)."""
        try:
            adapter = await asyncio.to_thread(self.adapter_for, msg.partner_id, msg.options, msg.endpoint)
        except ConfigError as exc:
            raise Refused(f"XTA configuration of partner {msg.partner_id}: {exc}",
                          code="xta:config") from None
        return await adapter.send(msg)

    async def aclose(self) -> None:
        """Close every adapter."""
        with self._lock:
            adapters, self._adapters = list(self._adapters.values()), {}
        for adapter in adapters:
            await adapter.aclose()


def mailboxes(config) -> list[XtaAdapter]:
    """One Source per distinct XTA mailbox among the configured partners."""
    found: dict[tuple, XtaAdapter] = {}
    for spec in config.partners.values():
        if spec.transport != "xta":
            continue
        settings = partner_settings(spec.id, dict(spec.options),
                                    spec.endpoints[0] if spec.endpoints else "", config=config)
        if settings.mailbox_key not in found:
            found[settings.mailbox_key] = XtaAdapter(settings)
    return list(found.values())




def _key(settings: XtaSettings) -> tuple:
    return tuple(getattr(settings, name) for name in settings.__slots__)
