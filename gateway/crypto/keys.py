"""Our own signing keys: loaded once from PEM or PKCS#12, each with a validity window.

A `KeyRing` holds several keys during a rollover; `current(now)` picks the newest key whose
window contains `now`. Passwords come from `Config.secret` ('env:NAME' or 'file:PATH').
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from signxml.algorithms import SignatureMethod

from ..config import Config, OwnKeySpec
from ..errors import ConfigError
from .algorithms import method_for

DEV_KEY, DEV_CERT = "signing.key.pem", "signing.cert.pem"


@dataclass(frozen=True, slots=True)
class OwnKey:
    """One own signing key with its certificate, intermediates and the window we sign in."""

    private_key: object
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    method: SignatureMethod
    valid_from: datetime
    valid_until: datetime
    source: str

    def valid_at(self, now: datetime) -> bool:
        """True when `now` lies inside this key's signing window."""
        return self.valid_from <= now < self.valid_until

    @property
    def subject(self) -> str:
        """The certificate's subject in RFC 4514 form."""
        return self.certificate.subject.rfc4514_string()


class KeyRing:
    """Our signing keys; signs with the newest one valid at the given time."""

    def __init__(self, keys: Sequence[OwnKey]):
        if not keys:
            raise ConfigError("no own signing key configured")
        self.keys = tuple(sorted(keys, key=lambda k: k.valid_from))

    def current(self, now: datetime) -> OwnKey:
        """The newest key valid at `now`; ConfigError when none is."""
        valid = [k for k in self.keys if k.valid_at(now)]
        if not valid:
            windows = "; ".join(f"{k.source}: {k.valid_from:%Y-%m-%d %H:%M} to {k.valid_until:%Y-%m-%d %H:%M}"
                                for k in self.keys)
            raise ConfigError(f"no own signing key is valid at {now:%Y-%m-%d %H:%M} UTC ({windows})")
        return valid[-1]

    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The certificates of every key on the ring (partners trust them during a rollover)."""
        return tuple(k.certificate for k in self.keys)

    @classmethod
    def from_config(cls, config: Config) -> "KeyRing":
        """Load every [[keys.own]] key, or the `gateway keys init` key in data_dir/keys."""
        section = config.keys
        specs = section.own
        if not specs:
            folder = config.data_dir / "keys"
            if not (folder / DEV_KEY).exists():
                raise ConfigError(f"no signing key: configure [[keys.own]] or run `gateway keys init` "
                                  f"(looked for {folder / DEV_KEY})")
            specs = (OwnKeySpec(file=str(folder / DEV_KEY), cert=str(folder / DEV_CERT)),)
        return cls([load_key(spec, config, section.signature_algorithm) for spec in specs])


def own_key(private_key, cert: x509.Certificate, chain: Sequence[x509.Certificate] = (), *,
            algorithm: str = "auto", valid_from: datetime | None = None, valid_until: datetime | None = None,
            source: str = "<memory>") -> OwnKey:
    """An OwnKey from objects in memory; the window is clipped to the certificate's validity."""
    if cert.public_key() != private_key.public_key():
        raise ConfigError(f"{source}: the certificate {cert.subject.rfc4514_string()} belongs to another key")
    method = method_for(private_key, algorithm, source)
    start = max(valid_from or cert.not_valid_before_utc, cert.not_valid_before_utc)
    end = min(valid_until or cert.not_valid_after_utc, cert.not_valid_after_utc)
    if start >= end:
        raise ConfigError(f"{source}: signing window {start:%Y-%m-%d} to {end:%Y-%m-%d} is empty "
                          f"(certificate valid {cert.not_valid_before_utc:%Y-%m-%d} to "
                          f"{cert.not_valid_after_utc:%Y-%m-%d})")
    return OwnKey(private_key, cert, tuple(chain), method, start, end, source)


def load_key(spec: OwnKeySpec, config: Config, algorithm: str = "auto") -> OwnKey:
    """Load one configured key (PEM or PKCS#12) with its certificate and window."""
    path = config.path(spec.file)
    password = config.secret(spec.password)
    where = str(path)
    key, certs = _read_key_file(path, password)
    if spec.cert:
        certs += _read_certs(config.path(spec.cert))
    leaf = next((c for c in certs if c.public_key() == key.public_key()), None)
    if leaf is None:
        raise ConfigError(f"{where}: no certificate for this private key"
                          + (" (the certificates given belong to other keys)" if certs else
                             "; set `cert` or use a file that holds it"))
    return own_key(key, leaf, [c for c in certs if c is not leaf], algorithm=algorithm,
                   valid_from=_when(spec.valid_from, where), valid_until=_when(spec.valid_until, where),
                   source=where)


def _read_key_file(path: Path, password: bytes | None) -> tuple[object, list[x509.Certificate]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    try:
        if path.suffix.lower() in (".p12", ".pfx"):
            key, cert, extra = pkcs12.load_key_and_certificates(data, password)
            if key is None:
                raise ConfigError(f"{path}: the PKCS#12 file holds no private key")
            return key, [c for c in (cert, *extra) if c is not None]
        key = serialization.load_pem_private_key(data, password)
    except (ValueError, TypeError) as exc:
        hint = "no password configured" if password is None else "wrong password or damaged file"
        raise ConfigError(f"{path}: cannot load the private key ({hint}: {exc})") from None
    certs = _pem_certs(data, path) if b"-----BEGIN CERTIFICATE" in data else []
    return key, certs


def _read_certs(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    return _pem_certs(data, path) if b"-----BEGIN" in data else [_der_cert(data, path)]


def _pem_certs(data: bytes, path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a PEM certificate file ({exc})") from None


def _der_cert(data: bytes, path: Path) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a certificate (PEM or DER) ({exc})") from None


def read_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM (one or more) or DER file; ConfigError when there is none."""
    return _read_certs(path)


def _when(value: str, where: str) -> datetime | None:
    """Parse an ISO 8601 date or date-time (naive means UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not an ISO 8601 date or date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
