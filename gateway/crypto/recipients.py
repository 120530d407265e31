"""Whom we encrypt for and what we decrypt with, read once from the configuration.

`Encryption.from_config(config)` loads each partner's `encryption_certificates` (several during
a rollover: the newest valid one is used) and our own decryption keys: the `[[keys.decryption]]`
tables, or `encryption.key.pem`/`encryption.cert.pem` that `gateway keys init` writes beside the
signing key. A partner with `encrypt = true` but no usable certificate refuses the start.
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from cryptography import x509
from lxml import etree

from .. import xml as xmlparse
from ..config import Config, DecryptionKeySpec
from ..errors import ConfigError, DecryptionError, MessageError
from .encryption import DecryptionKey, Decryptor, encrypt, key_kind, newest_valid
from .keys import _read_certs, _read_key_file, read_certificates

DEV_ENC_KEY, DEV_ENC_CERT = "encryption.key.pem", "encryption.cert.pem"


class Encryption:
    """Partners' encryption certificates, which partners require encryption, our decryptor."""

    def __init__(self, recipients: Mapping[str, tuple[x509.Certificate, ...]], required: frozenset[str],
                 decryptor: Decryptor):
        self.recipients = dict(recipients)
        self.required_for = frozenset(required)
        self.decryptor = decryptor

    @classmethod
    def from_config(cls, config: Config) -> "Encryption":
        """Load every partner's encryption certificates and our decryption keys."""
        recipients, required = {}, set()
        for pid, spec in config.partners.items():
            where = f'[partners."{pid}"] encryption_certificates'
            certs = tuple(c for path in spec.encryption_certificates
                          for c in read_certificates(config.path(path)))
            for cert in certs:
                try:
                    key_kind(cert.public_key())
                except ConfigError as exc:
                    raise ConfigError(f"{where}: {cert.subject.rfc4514_string()}: {exc}") from None
            if spec.encrypt:
                if not certs:
                    raise ConfigError(f'[partners."{pid}"]: encrypt = true needs encryption_certificates')
                required.add(pid)
            if certs:
                recipients[pid] = certs
        limits = xmlparse.Limits(config.schemas.max_bytes, config.schemas.max_depth)
        decryptor = Decryptor(decryption_keys(config), allowed=config.keys.decryption_algorithms, limits=limits)
        return cls(recipients, frozenset(required), decryptor)

    def required(self, partner: str) -> bool:
        """True when messages to and from `partner` must be encrypted."""
        return partner in self.required_for

    def certificate(self, partner: str, now: datetime) -> x509.Certificate:
        """The partner's newest encryption certificate valid at `now`; MessageError if none."""
        certs = self.recipients.get(partner)
        if not certs:
            raise MessageError(f"no encryption certificate configured for {partner}")
        return newest_valid(certs, now, partner)

    def encrypt_for(self, partner: str, xml: bytes, *, now: datetime, routing: Mapping[str, str]) -> bytes:
        """`xml` encrypted for the partner's current encryption certificate."""
        return encrypt(xml, self.certificate(partner, now), routing=routing)

    def decrypt(self, xml: bytes | etree._Element) -> bytes:
        """The plaintext of an EncryptedData document for one of our keys; DecryptionError else."""
        return self.decryptor.decrypt(xml)


def decryption_keys(config: Config) -> list[DecryptionKey]:
    """Our configured decryption keys, or the development pair in data_dir/keys (may be none)."""
    specs = config.keys.decryption
    if not specs:
        folder = config.data_dir / "keys"
        if not (folder / DEV_ENC_KEY).exists():
            return []
        specs = (DecryptionKeySpec(file=str(folder / DEV_ENC_KEY), cert=str(folder / DEV_ENC_CERT)),)
    return [load_decryption_key(spec, config) for spec in specs]


def load_decryption_key(spec: DecryptionKeySpec, config: Config) -> DecryptionKey:
    """One decryption key with its certificate (expired keys still decrypt what was sent earlier)."""
    path = config.path(spec.file)
    key, certs = _read_key_file(path, config.secret(spec.password))
    if spec.cert:
        certs += _read_certs(config.path(spec.cert))
    leaf = next((c for c in certs if c.public_key() == key.public_key()), None)
    if leaf is None:
        raise ConfigError(f"{path}: no certificate for this decryption key; set `cert` or use a file that holds it")
    try:
        key_kind(leaf.public_key())
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return DecryptionKey(key, leaf, str(path))


CANARY = b'<Canary xmlns="urn:xoev-gateway:canary"><Text>encryption self-check</Text></Canary>'


def self_check(encryption: Encryption) -> None:
    """Encrypt a small document for each own decryption key and decrypt it again; ConfigError
    if that fails (bootstrap refuses to start instead of failing with the first message)."""
    for key in encryption.decryptor.keys:
        if key.kind not in encryption.decryptor.allowed:
            raise ConfigError(f"{key.source}: its algorithm {key.kind} is not in [keys] decryption_algorithms")
        try:
            if encryption.decrypt(encrypt(CANARY, key.certificate)) != CANARY:
                raise DecryptionError("the round trip changed the content")
        except DecryptionError as exc:
            raise ConfigError(f"encryption self-check failed with {key.source}: {exc.reason}") from None
