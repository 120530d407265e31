"""Transports: one module per protocol, loaded lazily by name.

`load(name)` returns the adapter class registered under `name` in ALIASES ("module:Class",
imported on first use, as kombu's TRANSPORT_ALIASES); an unknown name is a ConfigError that
names the closest known one. `sources(config)` lists every pull-style Source to poll.

Imports: adapters import only the ground floor of `gateway` (ports, errors, config, xml, files,
resources): never mapping, validation, crypto, the store, exchange or anything above.
"""
from __future__ import annotations

import difflib
import importlib

from gateway.errors import ConfigError
from gateway.ports import NamedSource

ALIASES: dict[str, str] = {
    "http": "adapters.http:HttpSender",
    "soap": "adapters.soap:SoapSender",
    "memory": "adapters.memory:MemorySender",
    "xta": "adapters.xta:XtaTransport",
}


def load(name: str) -> type:
    """The adapter class for a transport name, imported on first use."""
    try:
        target = ALIASES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(ALIASES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(ALIASES))})"
        raise ConfigError(f"unknown transport {name!r}{hint}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def sources(config) -> list[NamedSource]:
    """Every Source to poll: one per XTA mailbox, one per [folders.source] folder."""
    found = []
    if any(p.transport == "xta" for p in config.partners.values()):
        from adapters.xta import mailboxes

        for box in mailboxes(config):
            found.append(NamedSource(f"xta:{box.settings.account}", "xta", box, receipts_back=True))
    if config.folders.source:
        from adapters.folder import FolderSource

        for spec in config.folders.source:
            found.append(NamedSource(f"folder:{spec.name}", "folder", FolderSource(spec, base=config.base_dir)))
    return found
