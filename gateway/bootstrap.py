"""The composition root: Config -> a wired Gateway, with the start-up self-checks.

Start-up refuses (ConfigError) when: our own authority_id is not a valid kennung, the
partner directory is incomplete (no endpoint, no trust, unknown transport), a delivery could
outlive its lease (connect + total timeout >= [store] lease_seconds), received messages
could fall to both the webhook and an inbound
folder (`backend_routes`), a TLS file is unusable, or the signing canary (sign and verify a
small message with our own keys) fails. With no `[[keys.own]]` and no key in
data_dir/keys, development keys are made there on first start.
"""
from __future__ import annotations

import inspect
import logging
import secrets
import socket
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import adapters

from .backend.routes import check_inbound_routes
from .config import Config
from .crypto import tls
from .crypto.keys import DEV_KEY, KeyRing
from .crypto.recipients import Encryption, self_check
from .crypto.signing import Signer, Verifier, canary
from .exchange.delivery import check_timeouts, timeouts
from .exchange.directory import Directory
from .exchange.retry import RetryPolicy
from .exchange.service import Gateway, utcnow
from . import files
from .errors import ConfigError
from .files import create_new
from .mapping import Registry
from .ports import ClientSettings
from .server.metrics import Metrics
from .store import Store
from .errors import ConfigError
from .validation import Validator, authority_id_problem

log = logging.getLogger("gateway.bootstrap")


def ensure_dev_keys(config: Config, now: datetime) -> list[Path]:
    """Create development keys in data_dir/keys unless keys are configured or present."""
    folder = config.data_dir / "keys"
    if config.keys.own or (folder / DEV_KEY).exists():
        return []
    from .crypto.devca import write_dev_keys

    files.make_dirs(folder)
    written = write_dev_keys(folder, kind="ecdsa", authority_id=config.gateway.authority_id,
                             authority_name=config.gateway.authority_name, now=now)
    log.warning("created development keys in %s (not for production)", folder)
    return [f.path for f in written]


def check_identity(config: Config) -> None:
    """Refuse an own authority id that no message could carry (at start-up, not at the
    first message)."""
    problem = authority_id_problem(config.gateway.authority_id)
    if problem:
        where = config.origin("gateway", "authority_id")
        raise ConfigError(f"[gateway] authority_id ({where}): {problem}")


def client_settings(config: Config) -> ClientSettings:
    """Adapter settings: timeouts, and one TLS context per partner built now."""
    delivery = config.delivery
    ca = config.path(delivery.ca_file) if delivery.ca_file else None
    default = tls.client_context(ca_file=ca)
    contexts = {}
    for spec in config.partners.values():
        if spec.client_cert:
            contexts[spec.id] = tls.client_context(ca_file=ca, cert=config.path(spec.client_cert),
                                                   key=config.path(spec.client_key))
    return ClientSettings(connect_timeout=delivery.connect_timeout, timeout=delivery.timeout,
                          ssl_for=lambda partner: contexts.get(partner, default),
                          partner_timeouts={spec.id: timeouts(config, spec) for spec in config.partners.values()})


def _sender(cls, settings: ClientSettings, config: Config):
    """One transport's Sender; given the Config when it takes one (e.g. XTA: defaults from
    [gateway] and every XTA partner's options checked now, at start-up)."""
    if "config" in inspect.signature(cls).parameters:
        return cls(settings, config=config)
    return cls(settings)


def server_ssl(config: Config):
    """The server's TLS context, or None for plain HTTP. With `require_client_cert` the
    context still only *asks* for a client certificate (a presented one must chain to
    client_ca); the application refuses requests without one with a clear 403 (see
    `gateway.server._client_cert_required`), because a TLS-level refusal reaches the client
    only as a bare EOF."""
    sec = config.server
    if not sec.tls_cert:
        if sec.client_ca or sec.require_client_cert:
            raise ConfigError("[server] client_ca/require_client_cert need tls_cert and tls_key")
        return None
    if sec.require_client_cert and not sec.client_ca:
        raise ConfigError("[server] require_client_cert needs client_ca")
    return tls.server_context(cert=config.path(sec.tls_cert), key=config.path(sec.tls_key or sec.tls_cert),
                              password=config.secret(sec.tls_key_password),
                              client_ca=config.path(sec.client_ca) if sec.client_ca else None,
                              require_client_cert=False)


def api_token(config: Config) -> bytes:
    """The backend API token: [server] api_token, else data_dir/api-token (made on first start)."""
    token = config.secret(config.server.api_token)
    if token:
        return token
    path = config.data_dir / "api-token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        create_new(path, secrets.token_urlsafe(32).encode(), mode=0o600)
    return path.read_text().strip().encode()


async def build(config: Config, *, senders: Mapping[str, Any] | None = None,
                clock=utcnow, metrics: Metrics | None = None) -> Gateway:
    """Wire a Gateway from the configuration, running every start-up check."""
    now = clock()
    check_identity(config)
    try:
        files.set_group(config.gateway.file_group)
    except KeyError:
        raise ConfigError(f"[gateway] file_group {config.gateway.file_group!r}: no such group") from None
    files.make_dirs(config.data_dir)
    files.secure(config.data_dir, folder=True)
    directory = Directory.from_config(config)
    directory.check(adapters.ALIASES)
    check_timeouts(config)
    for allowed in check_inbound_routes(config):
        log.info("%s (allowed: allow_webhook_overlap)", allowed.describe())
    if senders is None:
        settings = client_settings(config)
        used = {p.transport for p in config.partners.values()}
        senders = {name: _sender(adapters.load(name), settings, config) for name in sorted(used)}
    ensure_dev_keys(config, now)
    signer = Signer.from_config(config, KeyRing.from_config(config))
    canary(signer, now=now)
    verifier = Verifier.from_config(config)
    encryption = Encryption.from_config(config)
    self_check(encryption)
    registry = Registry.load()
    validator = Validator.from_config(config)
    store = await Store.from_config(config)
    return Gateway(config=config, store=store, registry=registry, validator=validator, signer=signer,
                   verifier=verifier, directory=directory, senders=senders,
                   policy=RetryPolicy.from_config(config.delivery), metrics=metrics, clock=clock,
                   node=config.gateway.node_id or socket.gethostname(), encryption=encryption)


def create_app(gateway: Gateway, metrics: Metrics | None = None, jobs=None, ready=None):
    """The aiohttp application of a wired gateway (inbound, API, health, metrics, and the
    console at /console/ unless [console] enabled = false); `jobs()`, when given, lists the
    scheduler's jobs in /health; `ready()` answers /ready."""
    from .backend.api import create_api
    from .backend.webhooks import Webhooks
    from .server import create_app as make

    config = gateway.config

    async def health() -> dict:
        counts = await gateway.store.counts()
        due = sum(n for (d, s), n in counts.items() if d.value == "out" and s.value in ("ready", "retry_wait"))
        answer = {"status": "ok", "node": gateway.node, "authority": gateway.authority.kennung,
                  "partners": len(gateway.directory), "outbox_due": due}
        if jobs is not None:
            answer["jobs"] = jobs()
        return answer

    app = make(gateway.inbound, max_body_bytes=config.server.max_body_bytes,
                public_url=config.server.public_url, metrics=metrics or gateway.metrics,
                health=health, ready=ready, require_client_cert=config.server.require_client_cert, api=create_api(
                    gateway, api_token(config) if config.api.operator_token else None,
                    max_page=config.api.max_page, webhooks=Webhooks.from_config(gateway, config)))
    if config.console.enabled:
        from .console.web import create_console
        app.add_subapp("/console/", create_console(gateway))
        app.router.add_get("/console", _to_console)
    return app


async def _to_console(request):
    """GET /console: to /console/ (the console lives below the slash)."""
    from aiohttp import web
    raise web.HTTPSeeOther("/console/")
