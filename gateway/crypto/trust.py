"""Whom we believe: per-partner pinned certificates and/or CAs with an expected subject.

Built once at start-up from `[partners."ID".trust]` (files parsed here, never per message).
`TrustStore.check(partner, chain, now)` decides whether the certificate a signature carries
may speak for that partner, and says which check failed when it may not. Public web CAs are
never consulted: only what the configuration names is trusted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..config import Config, TrustSpec
from ..errors import ConfigError, SignatureError
from .algorithms import check_key
from .crl import Authority, authorities, read_crl
from .keys import read_certificates

MAX_CHAIN = 4


@dataclass(frozen=True, slots=True)
class SignerIdentity:
    """Who signed a verified message: the partner and the certificate the signature used."""

    partner: str
    subject: str
    issuer: str
    serial: int
    fingerprint: str            # SHA-256 of the DER certificate, hex
    not_after: datetime
    via: str                    # "pinned certificate" or "CA <subject>"

    @classmethod
    def of(cls, partner: str, cert: x509.Certificate, via: str) -> "SignerIdentity":
        """The identity of `cert` speaking for `partner`."""
        f = facts(cert)
        return cls(partner, f.subject, f.issuer, cert.serial_number, f.fingerprint, cert.not_valid_after_utc, via)


@dataclass(frozen=True, slots=True)
class PartnerTrust:
    """The trust anchors of one partner: pinned certificates, CAs (with CRLs), expected subject."""

    partner: str
    pinned: tuple[x509.Certificate, ...] = ()
    authorities: tuple[Authority, ...] = ()
    subject: x509.Name | None = None
    fingerprints: frozenset[str] = frozenset()

    @classmethod
    def build(cls, partner: str, pinned: Sequence[x509.Certificate] = (),
              cas: Sequence[Authority] = (), subject: x509.Name | None = None) -> "PartnerTrust":
        """Trust for `partner` from parsed certificates, CAs and an expected subject."""
        return cls(partner, tuple(pinned), tuple(cas), subject, frozenset(fingerprint(c) for c in pinned))

    def check(self, chain: Sequence[x509.Certificate], now: datetime) -> SignerIdentity:
        """Accept the signing certificate `chain[0]` (intermediates after it) or raise SignatureError."""
        if not self.pinned and not self.authorities:
            raise SignatureError(f"no trust is configured for partner {self.partner} "
                                 f'(set [partners."{self.partner}".trust])', code=SignatureError.UNTRUSTED)
        leaf = chain[0]
        leaf_facts = facts(leaf)
        who = leaf_facts.subject
        _check_validity(leaf, now, "certificate")
        if not leaf_facts.may_sign:
            raise SignatureError(f"certificate {who} may not be used for signatures (key usage)",
                                 code=SignatureError.UNTRUSTED)
        if leaf_facts.fingerprint in self.fingerprints:
            for authority in self.authorities:
                if authority.issued(leaf):
                    authority.check_revocation(leaf, now)
            return SignerIdentity.of(self.partner, leaf, "pinned certificate")
        if not self.authorities:
            raise SignatureError(f"signed by {who} (serial {leaf.serial_number:x}), which is not "
                                 f"trusted for partner {self.partner}", code=SignatureError.UNTRUSTED)
        authority = self._anchor(leaf, chain[1:], now)
        if self.subject is not None and leaf.subject != self.subject:
            raise SignatureError(f"signed by {who}, not by {self.subject.rfc4514_string()} as "
                                 f"required for partner {self.partner}", code=SignatureError.UNTRUSTED)
        return SignerIdentity.of(self.partner, leaf, f"CA {authority.subject}")

    def _anchor(self, leaf: x509.Certificate, extra: Sequence[x509.Certificate], now: datetime) -> Authority:
        """Walk from the leaf through intermediates to a configured CA, checking each link."""
        if facts(leaf).is_ca:
            raise SignatureError(f"signed with the CA certificate {leaf.subject.rfc4514_string()}, "
                                 f"not with an end-entity certificate", code=SignatureError.UNTRUSTED)
        current = leaf
        for _ in range(MAX_CHAIN):
            for authority in self.authorities:
                if authority.issued(current):
                    _check_validity(authority.cert, now, "CA certificate")
                    authority.check_revocation(current, now)
                    return authority
            parent = next((c for c in extra if facts(c).is_ca and Authority(c).issued(current)), None)
            if parent is None:
                break
            _check_validity(parent, now, "intermediate certificate")
            current = parent
        raise SignatureError(f"signed by {leaf.subject.rfc4514_string()}, issued by "
                             f"{current.issuer.rfc4514_string()}, which is not a CA trusted for "
                             f"partner {self.partner}", code=SignatureError.UNTRUSTED)


class TrustStore:
    """Partner id -> PartnerTrust, parsed once; answers whether a certificate speaks for a partner."""

    def __init__(self, partners: Mapping[str, PartnerTrust]):
        self.partners = dict(partners)

    def check(self, partner: str, chain: Sequence[x509.Certificate], now: datetime) -> SignerIdentity:
        """Accept `chain` as signer for `partner` at `now`, or raise SignatureError naming the check."""
        trust = self.partners.get(partner)
        if trust is None:
            raise SignatureError(f"unknown partner {partner}: no trust configured", code=SignatureError.UNTRUSTED)
        return trust.check(chain, now)

    @classmethod
    def pinned(cls, partner: str, certs: Iterable[x509.Certificate]) -> "TrustStore":
        """A store trusting exactly `certs` for `partner` (own keys, `gateway verify --cert`)."""
        return cls({partner: PartnerTrust.build(partner, list(certs))})

    @classmethod
    def from_config(cls, config: Config) -> "TrustStore":
        """Read every partner's trust files once; ConfigError for anything unusable."""
        return cls({pid: _partner_trust(pid, spec.trust, config) for pid, spec in config.partners.items()})


def _partner_trust(pid: str, spec: TrustSpec, config: Config) -> PartnerTrust:
    where = f'[partners."{pid}".trust]'
    pinned = [c for f in spec.certificates for c in read_certificates(config.path(f))]
    cas = [c for f in spec.cas for c in read_certificates(config.path(f))]
    crls = [(f, read_crl(config.path(f))) for f in spec.crls]
    for cert in pinned + cas:
        check_key(cert.public_key(), f"{where} {cert.subject.rfc4514_string()}")
    if crls and not cas:
        raise ConfigError(f"{where}: crls need the CAs that issued them in `cas`")
    subject = None
    if spec.subject:
        try:
            subject = x509.Name.from_rfc4514_string(spec.subject)
        except ValueError as exc:
            raise ConfigError(f"{where} subject: {spec.subject!r} is not an RFC 4514 name ({exc})") from None
    if cas and subject is None:
        raise ConfigError(f"{where}: trusting via `cas` needs the partner's expected `subject`, otherwise "
                          f"anyone with a certificate from that CA could speak for {pid}")
    return PartnerTrust.build(pid, pinned, authorities(cas, crls, where), subject)


@dataclass(frozen=True, slots=True)
class CertFacts:
    """What the trust checks read from a certificate, computed once per certificate."""

    subject: str                # RFC 4514
    issuer: str
    fingerprint: str            # SHA-256 of the DER, hex
    may_sign: bool              # key usage absent, or allows digitalSignature / nonRepudiation
    is_ca: bool                 # basicConstraints CA=true


@lru_cache(maxsize=512)
def facts(cert: x509.Certificate) -> CertFacts:
    """The CertFacts of a certificate (cached: certificates are immutable, partners repeat)."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        may_sign = bool(usage.digital_signature or usage.content_commitment)
    except x509.ExtensionNotFound:
        may_sign = True
    try:
        is_ca = bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        is_ca = False
    return CertFacts(cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(),
                     cert.fingerprint(hashes.SHA256()).hex(), may_sign, is_ca)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint of a certificate, lower-case hex."""
    return facts(cert).fingerprint


def _check_validity(cert: x509.Certificate, now: datetime, role: str) -> None:
    if now < cert.not_valid_before_utc:
        raise SignatureError(f"{role} {facts(cert).subject} is not valid before "
                             f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC", code=SignatureError.NOT_YET_VALID)
    if now > cert.not_valid_after_utc:
        raise SignatureError(f"{role} {facts(cert).subject} expired on {cert.not_valid_after_utc:%Y-%m-%d}",
                             code=SignatureError.EXPIRED)
