"""XTA provider settings: the `options` table of an XTA partner, checked into a frozen value.

PartnerSpec.options arrive as strings (TOML values are stringified by the config loader), so
booleans ("true"/"True"), numbers and lists ("a,b" or "['a', 'b']") are parsed here, and
every problem is a ConfigError that names the partner and the key.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from gateway.errors import ConfigError

VERSIONS = ("3", "5")
MODES = ("async", "sync")
TYPE_CODES = ("root-element", "type-id")
SERVICE_PREFIX = "service."          # "service.<message type>" = per-type service URI


@dataclass(frozen=True, slots=True)
class XtaSettings:
    """One XTA provider account as configured for a partner (see docs/xta.md)."""

    version: str
    wsdl: Path
    endpoint: str
    account: str                                 # our identifier (kennung) at the provider
    business_scenario: str
    service: str = ""                            # Dienste-URI (required for version 3)
    services: tuple[tuple[str, str], ...] = ()   # message type -> service URI overrides
    send_endpoint: str = ""
    mailbox_endpoint: str = ""
    management_endpoint: str = ""
    account_name: str = ""
    identifier_type: str = "xoev"                # v3 Identifier/@type
    directory: str = ""                          # v5 Party/Directory code, e.g. "DVDV"
    directory_list_version: str = "1.0"
    business_scenario_list_uri: str = "urn:de:xta:codeliste:business.scenario"
    business_scenario_list_version: str = "1"
    message_type_list_uri: str = "urn:de:payloadSchema:elementName"
    message_type_list_version: str = "1.0"
    message_type_code: str = "root-element"
    service_quality: str = "standard"            # v5; a URI becomes Defined, text Undefined
    mode: str = "async"
    sync_types: tuple[str, ...] = ()
    create_message_id: bool = True
    lookup_before_send: bool = True
    lookup_cache_seconds: int = 3600
    report_after_send: bool = True
    test_messages: bool = False
    client_cert: str = ""
    client_key: str = ""
    ca_bundle: str = ""
    proxy: str = ""
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_response_bytes: int = 64 * 1024 * 1024

    def endpoint_for(self, role: str) -> str:
        """The URL of a port role: "send", "mailbox" or "management"."""
        return getattr(self, f"{role}_endpoint") or self.endpoint

    @property
    def endpoints(self) -> frozenset[str]:
        """Every URL this account may talk to (the transport refuses all others)."""
        return frozenset(self.endpoint_for(r) for r in ("send", "mailbox", "management"))

    def service_for(self, message_type: str) -> str:
        """The service URI for a message type (a per-type override or `service`)."""
        return dict(self.services).get(message_type, self.service)

    def is_sync(self, message_type: str) -> bool:
        """True when messages of this type go through sendMessageSync."""
        return self.mode == "sync" or message_type in self.sync_types

    @property
    def mailbox_key(self) -> tuple[str, str, str]:
        """Identifies one mailbox: partners sharing it should share one poller."""
        return (self.version, self.endpoint_for("mailbox"), self.account)

    @classmethod
    def from_options(cls, options: Mapping[str, str], *, where: str, base_dir: Path,
                     defaults: Mapping[str, str] | None = None) -> "XtaSettings":
        """Parse and check a partner's options; `defaults` fill keys the options leave out."""
        return _parse({**(defaults or {}), **dict(options)}, where, base_dir)


_FIELDS = {f.name: f for f in dataclasses.fields(XtaSettings)}


def _parse(raw: Mapping[str, str], where: str, base_dir: Path) -> XtaSettings:
    values: dict = {}
    services = []
    for key, text in raw.items():
        text = str(text)
        if key.startswith(SERVICE_PREFIX) and len(key) > len(SERVICE_PREFIX):
            services.append((key[len(SERVICE_PREFIX):], _uri(text, where, key)))
            continue
        field = _FIELDS.get(key)
        if field is None or key == "services":
            close = difflib.get_close_matches(key, list(_FIELDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown XTA option {key!r}{hint}")
        values[key] = _value(text, field.type, where, key)
    values["services"] = tuple(sorted(services))
    for key in ("version", "wsdl", "endpoint", "account", "business_scenario"):
        if not values.get(key):
            raise ConfigError(f"{where}: XTA option {key!r} is required")
    _check_choice(values, "version", VERSIONS, where)
    _check_choice(values, "mode", MODES, where)
    _check_choice(values, "message_type_code", TYPE_CODES, where)
    if values["version"] == "3" and not values.get("service") and not services:
        raise ConfigError(f"{where}: XTA version 3 needs option 'service' (the Dienste-URI)")
    values["wsdl"] = _file(values["wsdl"], base_dir, where, "wsdl")
    for key in ("client_cert", "client_key", "ca_bundle"):
        if values.get(key):
            values[key] = str(_file(values[key], base_dir, where, key))
    if bool(values.get("client_cert")) != bool(values.get("client_key")):
        raise ConfigError(f"{where}: XTA options client_cert and client_key go together")
    for key in ("endpoint", "send_endpoint", "mailbox_endpoint", "management_endpoint"):
        if values.get(key):
            _endpoint(values[key], where, key)
    for key in ("connect_timeout", "read_timeout", "max_response_bytes"):
        if key in values and values[key] <= 0:
            raise ConfigError(f"{where}: XTA option {key!r} must be positive")
    return XtaSettings(**values)


def _value(text: str, kind: str, where: str, key: str):
    if kind == "bool":
        low = text.strip().lower()
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
        raise ConfigError(f"{where}: XTA option {key!r} must be true or false, got {text!r}")
    if kind in ("int", "float"):
        try:
            return int(text) if kind == "int" else float(text)
        except ValueError:
            raise ConfigError(f"{where}: XTA option {key!r} must be a number, got {text!r}") from None
    if kind.startswith("tuple"):
        return _list(text, where, key)
    return text.strip()


def _list(text: str, where: str, key: str) -> tuple[str, ...]:
    text = text.strip()
    if text.startswith("["):          # a TOML list, stringified by the config loader
        try:
            items = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ConfigError(f"{where}: XTA option {key!r} is not a list of strings") from None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{where}: XTA option {key!r} is not a list of strings")
        return tuple(i.strip() for i in items if i.strip())
    return tuple(i.strip() for i in text.split(",") if i.strip())


def _check_choice(values: dict, key: str, allowed: tuple[str, ...], where: str) -> None:
    if key in values and values[key] not in allowed:
        raise ConfigError(f"{where}: XTA option {key!r} must be one of "
                          f"{', '.join(allowed)}, got {values[key]!r}")


def _file(value: str, base_dir: Path, where: str, key: str) -> Path:
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise ConfigError(f"{where}: XTA option {key!r}: no such file {path}")
    return path


def _uri(text: str, where: str, key: str) -> str:
    text = text.strip()
    if ":" not in text:
        raise ConfigError(f"{where}: XTA option {key!r} must be a URI, got {text!r}")
    return text


def _endpoint(url: str, where: str, key: str) -> None:
    """https only, except plain http to a loopback address (tests, local relays)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: XTA option {key!r} must be an https URL, got {url!r}")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(f"{where}: XTA option {key!r}: plain http is only allowed to a "
                          f"loopback address, use https ({url!r})")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def partner_settings(partner_id: str, options: Mapping[str, str], endpoint: str, *,
                     config=None, client_settings=None) -> XtaSettings:
    """The checked settings of one partner; defaults from the endpoint, the client settings
    (timeouts) and the Config (our kennung as account, the partner's client certificate)."""
    defaults: dict[str, str] = {}
    if endpoint:
        defaults["endpoint"] = endpoint
    if client_settings is not None:
        defaults.update(connect_timeout=str(client_settings.connect_timeout),
                        read_timeout=str(client_settings.timeout))
    base_dir = Path.cwd()
    if config is not None:
        gateway = config.gateway
        defaults.update(account=gateway.authority_id, account_name=gateway.authority_name)
        base_dir = config.base_dir
        spec = config.partners.get(partner_id)
        if spec is not None and spec.client_cert:
            defaults.update(client_cert=spec.client_cert, client_key=spec.client_key)
    return XtaSettings.from_options(options, where=f'[partners."{partner_id}"].options',
                                    base_dir=base_dir, defaults=defaults)
