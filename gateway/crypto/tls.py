"""TLS contexts for the server (optionally demanding client certificates: mutual TLS) and
for the adapters (trusting the configured CA bundle, presenting a per-partner client cert).

Contexts are built once at start-up; a missing or unreadable file is a ConfigError.
"""
from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

from ..errors import ConfigError


def server_context(*, cert: Path, key: Path, password: bytes | None = None,
                   client_ca: Path | None = None, require_client_cert: bool = False) -> ssl.SSLContext:
    """Server-side context (TLS 1.2+); with client_ca, clients may (or must) present a cert."""
    if require_client_cert and client_ca is None:
        raise ConfigError("[server] require_client_cert needs client_ca")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(ctx, cert, key, password)
    if client_ca is not None:
        _load_ca(ctx, client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def client_context(*, ca_file: Path | None = None, cert: Path | None = None,
                   key: Path | None = None, password: bytes | None = None) -> ssl.SSLContext:
    """Client-side context: verifies the server against ca_file (else the system store)
    and presents cert/key when given (mutual TLS)."""
    try:  # with a cafile, only that file is trusted (no system store)
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                         cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS CA file {ca_file}: {_reason(exc)}") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        if key is None:
            raise ConfigError(f"client certificate {cert} given without its key")
        _load_chain(ctx, cert, key, password)
    return ctx


def fingerprint(cert_der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate as lowercase hex (as in `options.client_cert_sha256`)."""
    return hashlib.sha256(cert_der).hexdigest()



def _load_chain(ctx: ssl.SSLContext, cert: Path, key: Path, password: bytes | None) -> None:
    try:
        ctx.load_cert_chain(str(cert), str(key), password=password)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS certificate {cert} / key {key}: {_reason(exc)}") from None


def _load_ca(ctx: ssl.SSLContext, ca: Path) -> None:
    try:
        ctx.load_verify_locations(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS CA file {ca}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
