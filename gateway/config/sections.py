"""The sections of gateway.toml: one frozen dataclass per section (and per repeated table).
Add a field and it becomes a documented, checked configuration key; add a section to
SECTIONS and `load` reads it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ConfigError
from .tables import _hint, build_dataclass


@dataclass(frozen=True, slots=True)
class GatewaySection:
    """[gateway]: who this gateway is and where it keeps its data."""

    data_dir: str = "data"                 # SQLite file, payload files, dev keys
    authority_id: str = "ags:00000000"     # our own kennung (DVDV style prefix:id)
    authority_name: str = "Development gateway"  # our name as partners see it (message header, partner card)
    directory_service: str = "DVDV"        # verzeichnisdienst of our kennung
    node_id: str = ""                      # defaults to the host name
    partners_file: str = "partners.toml"   # directory entries `gateway partners add` writes; merged with [partners]
    file_group: str = ""                   # group that may read the data files (0640, folders 0750);
                                           # "" = owner only (0600/0700), whatever the umask


@dataclass(frozen=True, slots=True)
class SchemasSection:
    """[schemas]: extra (third-party) XÖV standards validated by configuration only."""

    standards: tuple[str, ...] = ()        # folders, each with a standard.toml
    max_bytes: int = 10 * 1024 * 1024      # hardened-parser size limit
    max_depth: int = 64                    # hardened-parser depth limit
    max_attributes: int = 256              # hardened parser: attributes on one element
    max_attributes_total: int = 500_000    # hardened parser: attributes in one document
    max_namespaces: int = 16               # hardened parser: namespace declarations on one element
    max_namespaces_total: int = 32         # hardened parser: namespace declarations in one document
    clock_skew: int = 300                  # seconds a creation time may lie ahead of our clock

    def parser_limits(self, max_bytes: int | None = None):
        """The hardened parser's limits (gateway.xml.Limits) from this section."""
        from ..xml import Limits
        return Limits(max_bytes=self.max_bytes if max_bytes is None else max_bytes,
                      max_depth=self.max_depth, max_attributes=self.max_attributes,
                      max_attributes_total=self.max_attributes_total,
                      max_namespaces=self.max_namespaces, max_namespaces_total=self.max_namespaces_total)


@dataclass(frozen=True, slots=True)
class TrustSpec:
    """[partners."ID".trust]: whom we believe when a message claims to come from this partner."""

    certificates: tuple[str, ...] = ()     # pinned PEM certificates (several during rollover)
    cas: tuple[str, ...] = ()              # CA certificates (PEM) that issue the partner's certs
    subject: str = ""                      # expected subject (RFC 4514) when trusting via a CA
    crls: tuple[str, ...] = ()             # CRL files (PEM or DER) checked for the CAs


@dataclass(frozen=True, slots=True)
class PartnerSpec:
    """[partners."ID"]: one entry of the partner directory (DVDV style)."""

    id: str                                # kennung, e.g. "ags:09000009" or "psw:01234567"
    name: str = ""                         # the partner's name (shown in lists and logs)
    endpoints: tuple[str, ...] = ()        # URLs, tried in order
    transport: str = "http"                # adapter name (http, soap, xta, folder, memory)
    accepts: tuple[str, ...] = ()          # message types (root names) it accepts: "*" = any, patterns like "Aussonderung.*", "STANDARD:TYPE" where ambiguous
    trust: TrustSpec = TrustSpec()
    client_cert: str = ""                  # mutual TLS: certificate (PEM) presented to the partner
    client_key: str = ""                   # its key (PEM)
    options: tuple[tuple[str, str], ...] = ()  # transport-specific settings, e.g. XTA provider
    max_in_flight: int | None = None       # deliveries at once to this partner per node (default: [delivery])
    breaker_threshold: int | None = None   # transport failures in a row that open its breaker (0 = never)
    connect_timeout: float | None = None   # seconds to connect to this partner (default: [delivery])
    timeout: float | None = None           # seconds for one whole exchange with it (default: [delivery])
    encrypt: bool = False                  # encrypt messages for this partner; refuse its messages in clear
    encryption_certificates: tuple[str, ...] = ()  # its encryption certificates (PEM; newest valid used)

    @classmethod
    def from_table(cls, pid: str, data: Mapping[str, Any], where: str) -> "PartnerSpec":
        """Build from the TOML table of one partner."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: must be a table")
        data = dict(data)
        trust = build_dataclass(TrustSpec, data.pop("trust", {}), f"{where}.trust")
        options = data.pop("options", {})
        if not isinstance(options, Mapping):
            raise ConfigError(f"{where}.options: must be a table")
        if "id" in data:
            raise ConfigError(f"{where}: the id is the table name, do not repeat it as a key")
        spec = build_dataclass(cls, {"id": pid, **data}, where)
        return dataclasses.replace(spec, trust=trust,
                                   options=tuple((str(k), str(v)) for k, v in options.items()))


class PartnersSection(dict):
    """[partners]: partner id -> PartnerSpec."""

    @classmethod
    def from_config(cls, data: Any, where: str) -> "PartnersSection":
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table of partners")
        return cls({pid: PartnerSpec.from_table(pid, table, f'{where[:-1]}."{pid}"]')
                    for pid, table in data.items()})


@dataclass(frozen=True, slots=True)
class ServerSection:
    """[server]: the inbound HTTP/SOAP server, its TLS and the backend API."""

    host: str = "127.0.0.1"                # listen address (loopback unless told otherwise)
    port: int = 8480                       # 0 = any free port (written to data_dir/server.url)
    public_url: str = ""                   # how partners reach us (WSDL address); default from host/port
    max_body_bytes: int = 10 * 1024 * 1024  # larger requests are refused with 413
    tls_cert: str = ""                     # server certificate chain (PEM); enables HTTPS
    tls_key: str = ""                      # its private key (PEM)
    tls_key_password: str = ""             # secret reference: env:NAME or file:PATH
    client_ca: str = ""                    # mutual TLS: CA (PEM) that issues partners' client certs
    require_client_cert: bool = False      # refuse TLS clients without a certificate from client_ca
    api_token: str = ""                    # secret reference for the backend API (default: data_dir/api-token)
    shutdown_timeout: float = 10.0         # seconds to finish requests in flight on shutdown
    verify_concurrency: int = 0            # signature verifications at once (0 = CPU count)
    verify_per_sender: int = 16            # places (running or waiting) one partner id or one
                                           # address may hold in verification; more: 429


@dataclass(frozen=True, slots=True)
class DeliverySection:
    """[delivery]: sending to partners: timeouts, TLS trust, retries with backoff."""

    connect_timeout: float = 10.0          # seconds to open a connection
    timeout: float = 60.0                  # seconds for the whole exchange incl. the receipt
    ca_file: str = ""                      # CA bundle (PEM) for partners' HTTPS servers (default: system)
    max_attempts: int = 12                 # then the message is dead
    backoff_initial: float = 5.0           # seconds before the first retry
    backoff_factor: float = 2.0            # growth per attempt
    backoff_max: float = 3600.0            # ceiling of one wait
    drain_interval: float = 2.0            # seconds between safety-net outbox scans (submits are handed over at once)
    batch: int = 20                        # messages claimed per claim
    concurrency: int = 32                  # deliveries at once on one node, all partners together
    max_in_flight: int = 4                 # deliveries at once to one partner on one node
    breaker_threshold: int = 5             # transport failures in a row that open a partner's breaker (0 = never)
    breaker_cooldown: float = 30.0         # seconds a breaker stays open before one probe message is sent
    breaker_cooldown_factor: float = 2.0   # growth of the cool-down per failed probe
    breaker_cooldown_max: float = 1800.0   # ceiling of one cool-down
    receipt_timeout: float = 14400.0       # seconds a `sent` message waits for its partner's receipt
                                           # (asynchronous transports); then sent again; 0 = for ever

    @classmethod
    def from_config(cls, data: Any, where: str) -> "DeliverySection":
        """Build from the [delivery] table, checking the receipt deadline."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table")
        section = build_dataclass(cls, data, where)
        if section.receipt_timeout < 0:
            raise ConfigError(f"{where} receipt_timeout: must be >= 0 seconds (0 = wait for ever)")
        for key in ("batch", "concurrency", "max_in_flight"):
            if getattr(section, key) < 1:
                raise ConfigError(f"{where} {key}: must be >= 1")
        if section.breaker_threshold < 0 or section.breaker_cooldown <= 0 or section.breaker_cooldown_factor < 1:
            raise ConfigError(f"{where}: breaker_threshold must be >= 0, breaker_cooldown > 0 and "
                              "breaker_cooldown_factor >= 1")
        return section


@dataclass(frozen=True, slots=True)
class OwnKeySpec:
    """[[keys.own]]: one own signing key, its certificate and the window in which we sign with it."""

    file: str                              # private key: PEM (may also hold the certificates) or PKCS#12 (.p12/.pfx)
    cert: str = ""                         # certificate PEM (+ intermediates) when not inside `file`
    password: str = ""                     # secret reference: env:NAME or file:PATH ('' = unencrypted)
    valid_from: str = ""                   # ISO 8601 date/time; default: the certificate's notBefore
    valid_until: str = ""                  # ISO 8601 date/time; default: the certificate's notAfter


@dataclass(frozen=True, slots=True)
class DecryptionKeySpec:
    """[[keys.decryption]]: one own decryption key (partners encrypt for its certificate)."""

    file: str                              # private key: PEM (may also hold the certificate) or PKCS#12
    cert: str = ""                         # certificate PEM when not inside `file`
    password: str = ""                     # secret reference: env:NAME or file:PATH ('' = unencrypted)


@dataclass(frozen=True, slots=True)
class KeysSection:
    """[keys]: our own signing keys and how we sign (see docs/signing.md)."""

    own: tuple[OwnKeySpec, ...] = ()       # empty: data_dir/keys/signing.{key,cert}.pem from `gateway keys init`
    signature_algorithm: str = "auto"      # auto (by key type) | ecdsa-sha256 | rsa-sha256 | rsa-pss-sha256 | ...
    xades: bool = False                    # add XAdES-BES properties to every signature
    xades_partners: tuple[str, ...] = ()   # ... or only to messages for these partner ids
    expiry_warning_days: int = 30          # `gateway keys list` flags certificates expiring within this window
    decryption: tuple[DecryptionKeySpec, ...] = ()  # empty: data_dir/keys/encryption.{key,cert}.pem if present
    decryption_algorithms: tuple[str, ...] = ("aes256-gcm", "rsa-oaep", "ecdh-es")  # accepted on receipt

    @classmethod
    def from_config(cls, data: Any, where: str) -> "KeysSection":
        """Build from the [keys] table, with its [[keys.own]] array of tables."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table")
        data = dict(data)
        arrays = {}
        for name, spec_cls in (("own", OwnKeySpec), ("decryption", DecryptionKeySpec)):
            tables = data.pop(name, [])
            if not isinstance(tables, list):
                raise ConfigError(f"{where} {name}: write one [[keys.{name}]] table per key")
            specs = []
            for i, table in enumerate(tables):
                if not isinstance(table, Mapping):
                    raise ConfigError(f"{where} {name}[{i}]: must be a table")
                table = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in table.items()}
                specs.append(build_dataclass(spec_cls, table, f"{where[:-1]}.{name}[{i}]]"))
            arrays[name] = tuple(specs)
        return dataclasses.replace(build_dataclass(cls, data, where), **arrays)


@dataclass(frozen=True, slots=True)
class StoreSection:
    """[store]: where messages, their history and the audit log are kept (docs/store.md)."""

    url: str = ""                          # "" = SQLite file gateway.db in data_dir; postgresql://host/db
    payload_inline_max: int = 64 * 1024    # bytes; larger payloads become files under data_dir/payloads
    auto_upgrade: bool = True              # `gateway serve` migrates the schema on start
    lease_seconds: float = 300.0           # a claimed message belongs to one node this long
    archive_dir: str = ""                  # zip exports before purging; "" = data_dir/archive
    orphan_grace: float = 3600.0           # seconds before an unreferenced payload file is quarantined
    retention: tuple[tuple[str, int], ...] = ()  # [store.retention] final state = days (absent: keep)
    min_free_mb: int = 64                  # /ready answers 503 when data_dir has less free space (MiB)

    @classmethod
    def from_config(cls, data: Any, where: str) -> "StoreSection":
        """Build from the [store] table; [store.retention] maps final states to days."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table")
        data = dict(data)
        table = data.pop("retention", {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where[:-1]}.retention]: must be a table of state = days")
        from ..model import FINAL
        finals = sorted(set().union(*FINAL.values()))
        for state, days in table.items():
            if state not in finals:
                raise ConfigError(f"{where[:-1]}.retention]: {state!r} is not a final state"
                                  f"{_hint(state, finals)}; final states: {', '.join(finals)}")
            if not isinstance(days, int) or isinstance(days, bool) or days < 1:
                raise ConfigError(f"{where[:-1]}.retention] {state}: expected whole days >= 1")
        section = build_dataclass(cls, data, where)
        if section.payload_inline_max < 0 or section.lease_seconds <= 0:
            raise ConfigError(f"{where}: payload_inline_max must be >= 0 and lease_seconds > 0")
        if section.orphan_grace < 60:
            raise ConfigError(f"{where} orphan_grace: must be >= 60 seconds (a payload file is written "
                              "before its row commits; a younger file may still be on its way)")
        return dataclasses.replace(section, retention=tuple(sorted(table.items())))

    def retention_days(self, state: str) -> int | None:
        """Days a final message in `state` is kept, or None: kept for ever."""
        return dict(self.retention).get(str(state))


@dataclass(frozen=True, slots=True)
class ApiSection:
    """[api]: the backend REST API under /api (docs/backend-api.md)."""

    operator_token: bool = True            # also accept [server] api_token / data_dir/api-token (all scopes)
    max_page: int = 200                    # largest page a list call returns


@dataclass(frozen=True, slots=True)
class WebhooksSection:
    """[webhooks]: push inbound messages and status changes to a backend URL (docs/backend-api.md)."""

    url: str = ""                          # "" = no webhooks; https:// (http:// only to loopback)
    secret: str = ""                       # secret reference env:NAME or file:PATH (HMAC-SHA256 key)
    inbound: bool = True                   # push verified inbound messages (-> delivered on 2xx)
    types: tuple[str, ...] = ("*",)        # ... of these message types ("*" = any)
    partners: tuple[str, ...] = ("*",)     # ... from these partners ("*" = any)
    states: tuple[str, ...] = ("acknowledged", "rejected", "dead", "failed", "cancelled")  # outbound states pushed
    ca_file: str = ""                      # CA bundle (PEM) for the backend's HTTPS server (default: system)
    timeout: float = 10.0                  # seconds for one push
    interval: float = 2.0                  # seconds between scans for due pushes
    batch: int = 20                        # pushes per scan
    backoff_initial: float = 5.0           # seconds before the first retry
    backoff_factor: float = 2.0            # growth per failed attempt
    backoff_max: float = 600.0             # ceiling of one wait (retried until the backend answers 2xx)


@dataclass(frozen=True, slots=True)
class OutboundFolderSpec:
    """[folders.outbound."NAME"]: a drop folder a backend writes records or unsigned XML into."""

    name: str
    path: str                              # the folder watched (done/ and failed/ are made inside)
    backend: str = ""                      # client name stored with each message (default: folder:NAME)
    type: str = ""                         # default message type of bare records
    partner: str = ""                      # default partner of bare records and XML without leser
    types: tuple[str, ...] = ()            # types this folder may send ("*" = any; default: `type`)
    partners: tuple[str, ...] = ()         # partners it may send to ("*" = any; default: `partner`)
    completion: str = "rename"             # rename (temp name, then rename) | done-file (NAME.done beside it)
    ignore: tuple[str, ...] = (".*", "*.tmp", "*.part")  # name patterns never picked up
    min_age: float = 0.0                   # seconds since the last change before a file is taken
    max_bytes: int = 10 * 1024 * 1024      # larger files go to failed/
    batch: int = 100                       # files handled per scan
    done_dir: str = "done"                 # relative to `path`, or absolute
    failed_dir: str = "failed"             # relative to `path`, or absolute

    @property
    def client(self) -> str:
        """The client name messages from this folder are stored under."""
        return self.backend or f"folder:{self.name}"

    def allows(self, message_type: str, partner: str) -> str:
        """'' when this folder may send `message_type` to `partner`, else the reason why not."""
        types = self.types or ((self.type,) if self.type else ())
        partners = self.partners or ((self.partner,) if self.partner else ())
        if "*" not in types and message_type not in types:
            return f"folder {self.name} may not send {message_type} (allowed: {', '.join(types) or 'none'})"
        if "*" not in partners and partner not in partners:
            return f"folder {self.name} may not send to {partner} (allowed: {', '.join(partners) or 'none'})"
        return ""


@dataclass(frozen=True, slots=True)
class InboundFolderSpec:
    """[folders.inbound."NAME"]: a folder received messages are written into for a backend."""

    name: str
    path: str                              # target folder (created if missing)
    types: tuple[str, ...] = ("*",)        # message types written here ("*" = any)
    partners: tuple[str, ...] = ("*",)     # from these partners ("*" = any)
    record_json: bool = False              # also write TYPE_UUID.json with the message as a record
    batch: int = 50                        # messages written per run
    allow_webhook_overlap: bool = False    # may share messages with [webhooks] (else refused at start-up)

    def matches(self, message_type: str, partner: str) -> bool:
        """True when a message of this type from this partner belongs in this folder."""
        return (("*" in self.types or message_type in self.types)
                and ("*" in self.partners or partner in self.partners))


@dataclass(frozen=True, slots=True)
class SourceFolderSpec:
    """[folders.source."NAME"]: a shared folder partners leave signed messages in (a transport)."""

    name: str
    path: str                              # the shared folder read (done/ and failed/ are made inside)
    completion: str = "rename"             # as for outbound folders
    ignore: tuple[str, ...] = (".*", "*.tmp", "*.part")  # name patterns never picked up
    min_age: float = 0.0                   # seconds since the last change before a file is taken
    max_bytes: int = 10 * 1024 * 1024      # larger files go to failed/
    done_dir: str = "done"                 # messages stored as verified or rejected
    failed_dir: str = "failed"             # messages refused without storing (audited), with NAME.error.txt


@dataclass(frozen=True, slots=True)
class FoldersSection:
    """[folders]: drop folders for legacy backends and shared folders (docs/drop-folders.md)."""

    outbound: tuple[OutboundFolderSpec, ...] = ()
    inbound: tuple[InboundFolderSpec, ...] = ()
    source: tuple[SourceFolderSpec, ...] = ()

    @classmethod
    def from_config(cls, data: Any, where: str) -> "FoldersSection":
        """Build from [folders.outbound.NAME], [folders.inbound.NAME], [folders.source.NAME]."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table")
        kinds = {"outbound": OutboundFolderSpec, "inbound": InboundFolderSpec,
                 "source": SourceFolderSpec}
        unknown = set(data) - set(kinds)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(f"{where}: unknown key {key!r}{_hint(key, kinds)}; write "
                              "[folders.outbound.NAME], [folders.inbound.NAME] or [folders.source.NAME]")
        built: dict[str, tuple] = {}
        for kind, spec_cls in kinds.items():
            tables = data.get(kind, {})
            if not isinstance(tables, Mapping):
                raise ConfigError(f"{where[:-1]}.{kind}]: must be a table of named folders")
            specs = []
            for name, table in tables.items():
                at = f'{where[:-1]}.{kind}."{name}"]'
                if not isinstance(table, Mapping) or "path" not in table:
                    raise ConfigError(f"{at}: must be a table with a path")
                if "name" in table:
                    raise ConfigError(f"{at}: the name is the table name, do not repeat it as a key")
                specs.append(_check_folder(build_dataclass(spec_cls, {"name": name, **table}, at), at))
            built[kind] = tuple(specs)
        paths = [s.path for specs in built.values() for s in specs]
        if len(set(paths)) != len(paths):
            raise ConfigError(f"{where}: two folders share one path")
        return cls(**built)


def _check_folder(spec: Any, where: str) -> Any:
    """Refuse a folder table that cannot work (bad completion mode, nothing it may send)."""
    completion = getattr(spec, "completion", "rename")
    if completion not in ("rename", "done-file"):
        raise ConfigError(f"{where} completion: {completion!r} is not 'rename' or 'done-file'")
    if isinstance(spec, OutboundFolderSpec) and not (spec.types or spec.type):
        raise ConfigError(f"{where}: set `type` or `types`, else the folder may send nothing")
    if isinstance(spec, OutboundFolderSpec) and not (spec.partners or spec.partner):
        raise ConfigError(f"{where}: set `partner` or `partners`, else the folder may send to nobody")
    if getattr(spec, "batch", 1) < 1 or getattr(spec, "max_bytes", 1) < 1:
        raise ConfigError(f"{where}: batch and max_bytes must be >= 1")
    return spec


@dataclass(frozen=True, slots=True)
class SchedulerSection:
    """[scheduler]: the background jobs of `gateway serve` (docs/scheduler.md)."""

    enabled: bool = True                   # false: this node serves requests only and runs no jobs
    folders_interval: float = 5.0          # seconds between outbound drop-folder scans
    inbound_interval: float = 5.0          # seconds between writes of received messages to folders
    poll_interval: float = 30.0            # seconds between polls of sources (XTA mailboxes, source folders)
    poll_batch: int = 20                   # messages fetched per source and poll
    retention_time: str = "03:30"          # daily retention purge at HH:MM UTC ([store.retention]); "" = off
    certificates_time: str = "06:00"       # daily certificate-expiry check at HH:MM UTC; "" = off
    audit_time: str = "04:30"              # daily audit-chain verification at HH:MM UTC; "" = off
    shutdown_timeout: float = 30.0         # seconds running jobs may take to finish on shutdown
    receipts_interval: float = 60.0        # seconds between checks for overdue receipts ([delivery] receipt_timeout)
    heartbeat_interval: float = 10.0       # seconds between a node's heartbeats in the store (docs/operations.md)
    node_timeout: float = 30.0             # a node without heartbeat this long is gone: its one-node job slots are taken over

    @classmethod
    def from_config(cls, data: Any, where: str) -> "SchedulerSection":
        """Build from the [scheduler] table, checking intervals and times of day."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table")
        section = build_dataclass(cls, data, where)
        for key in ("folders_interval", "inbound_interval", "poll_interval", "receipts_interval",
                    "heartbeat_interval"):
            if getattr(section, key) <= 0:
                raise ConfigError(f"{where} {key}: must be > 0 seconds")
        if section.node_timeout < 2 * section.heartbeat_interval:
            raise ConfigError(f"{where} node_timeout: must be at least twice heartbeat_interval "
                              f"({section.heartbeat_interval:g}s), or a live node looks gone")
        if section.poll_batch < 1:
            raise ConfigError(f"{where} poll_batch: must be >= 1")
        for key in ("retention_time", "certificates_time", "audit_time"):
            value = getattr(section, key)
            hour, _, minute = value.partition(":")
            if value and not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
                raise ConfigError(f'{where} {key}: {value!r} is not HH:MM (UTC) or ""')
        return section


@dataclass(frozen=True, slots=True)
class ConsoleUnitSpec:
    """[console.units."NAME"]: one clerks' mailbox unit (docs/console.md)."""

    name: str                              # the unit's id (the table name), given to clerks with --unit
    title: str = ""                        # shown in the mailbox; default: the name
    types: tuple[str, ...] = ()            # message type ids or patterns (personenstand.*) it receives
    readers: tuple[str, ...] = ()          # reader ids (leser kennung) or patterns it receives


@dataclass(frozen=True, slots=True)
class ConsoleSection:
    """[console]: the operators' console and the clerks' mailbox in the browser (docs/console.md)."""

    enabled: bool = True                   # serve /console/ from `gateway serve`
    session_minutes: int = 480             # a login lasts this long (then log in again)
    secure_cookie: bool = False            # Secure cookies without TLS here (TLS ends at a proxy);
                                           # with [server] tls_cert they are always Secure
    login_failures: int = 5                # failed logins per account, and per address, before a lock
    login_lock_seconds: int = 300          # how long such a lock lasts
    page_size: int = 50                    # rows per page of message lists
    units: tuple[ConsoleUnitSpec, ...] = ()  # [console.units."NAME"] tables: the mailbox units

    @classmethod
    def from_config(cls, data: Any, where: str) -> "ConsoleSection":
        """Build from the [console] table and its [console.units.NAME] tables."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table")
        data = dict(data)
        tables = data.pop("units", {})
        if not isinstance(tables, Mapping):
            raise ConfigError(f"{where[:-1]}.units]: must be a table of named units")
        units = []
        for name, table in tables.items():
            at = f'{where[:-1]}.units."{name}"]'
            if not isinstance(table, Mapping) or "name" in table:
                raise ConfigError(f"{at}: must be a table; the name is the table name")
            unit = build_dataclass(ConsoleUnitSpec, {"name": name, **table}, at)
            if not (unit.types or unit.readers):
                raise ConfigError(f"{at}: set `types` and/or `readers`, else the unit receives nothing")
            units.append(unit)
        section = build_dataclass(cls, data, where)
        if section.session_minutes < 1 or section.login_failures < 1 or section.page_size < 1:
            raise ConfigError(f"{where}: session_minutes, login_failures and page_size must be >= 1")
        return dataclasses.replace(section, units=tuple(units))


@dataclass(frozen=True, slots=True)
class LoggingSection:
    """[logging]: what `gateway serve` writes to stderr (docs/operations.md)."""

    format: str = "text"                   # "text" (one readable line) or "json" (one object per line, for Loki/journald)
    level: str = "INFO"                    # DEBUG, INFO, WARNING or ERROR

    @classmethod
    def from_config(cls, data: Any, where: str) -> "LoggingSection":
        """Build from the [logging] table, checking format and level."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table")
        section = build_dataclass(cls, data, where)
        if section.format not in ("text", "json"):
            raise ConfigError(f'{where} format: {section.format!r} is not "text" or "json"')
        if section.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"{where} level: {section.level!r} is not DEBUG, INFO, WARNING or ERROR")
        return dataclasses.replace(section, level=section.level.upper())


@dataclass(frozen=True, slots=True)
class SanitizerSection:
    """[sanitizer]: the stuck-message job: expired leases back to the queue, messages in a
    non-final state longer than their state's threshold flagged (docs/scheduler.md)."""

    interval: float = 300.0                # seconds between runs; 0 = no sanitizer job
    accepted: float = 3600.0               # outbound, stored but never signed (seconds; 0 = not checked)
    ready: float = 3600.0                  # outbound, signed but not claimed
    sending: float = 900.0                 # outbound, claimed and still not sent
    retry_wait: float = 3600.0             # outbound, retry due this long ago but not claimed
    sent: float = 0.0                      # outbound, waiting for an asynchronous receipt ([delivery] receipt_timeout acts)
    received: float = 600.0                # inbound, stored but not verified
    verified: float = 86400.0              # inbound, not yet handed to the backend
    delivered: float = 86400.0             # inbound, handed over but not acknowledged by the backend

    @classmethod
    def from_config(cls, data: Any, where: str) -> "SanitizerSection":
        """Build from the [sanitizer] table; every value is seconds >= 0."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table")
        section = build_dataclass(cls, data, where)
        for f in dataclasses.fields(cls):
            if getattr(section, f.name) < 0:
                raise ConfigError(f"{where} {f.name}: must be >= 0 seconds")
        return section

    def thresholds(self) -> dict[str, float]:
        """State -> seconds, for the states checked (threshold > 0)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "interval" and getattr(self, f.name) > 0}


SECTIONS: dict[str, type] = {
    "gateway": GatewaySection,
    "schemas": SchemasSection,
    "partners": PartnersSection,
    "server": ServerSection,
    "delivery": DeliverySection,
    "keys": KeysSection,
    "store": StoreSection,
    "folders": FoldersSection,
    "scheduler": SchedulerSection,
    "api": ApiSection,
    "webhooks": WebhooksSection,
    "console": ConsoleSection,
    "logging": LoggingSection,
    "sanitizer": SanitizerSection,
}
