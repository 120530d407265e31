"""Certificates and their expiry: own keys with their chains, partners' pinned certificates,
CAs and CRLs, each with the date it runs out, flagged within a warning window.

Used by `gateway keys list` and the scheduler's `certificates` job. Reads the key and trust
files named by the configuration when called (it is part of the shell, not the core).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from .keys import DEV_KEY, KeyRing
from .recipients import Encryption, decryption_keys
from .trust import TrustStore


@dataclass(frozen=True, slots=True)
class Expiring:
    """One certificate or CRL: what it is, whose, its subject and when it runs out."""

    role: str                    # own (current), own, own chain, decryption, pinned, ca, crl,
                                 # encryption (current), encryption
    owner: str                   # "self" or the partner id
    subject: str
    expires: datetime | None

    def flag(self, now: datetime, within: int) -> str:
        """'EXPIRED', 'EXPIRES SOON' (within `within` days of `now`) or ''."""
        if self.expires is None:
            return ""
        days = (self.expires - now).total_seconds() / 86400
        return "EXPIRED" if days < 0 else "EXPIRES SOON" if days <= within else ""


def own_certificates(config, now: datetime) -> list[Expiring]:
    """Own signing keys (the one current at `now` marked) and their chains; [] without a key."""
    if not config.keys.own and not (config.data_dir / "keys" / DEV_KEY).exists():
        return []
    ring = KeyRing.from_config(config)
    current = ring.current(now) if any(k.valid_at(now) for k in ring.keys) else None
    rows = []
    for key in ring.keys:
        role = "own (current)" if key is current else "own"
        rows.append(Expiring(role, "self", f"{key.subject} [signs {key.valid_from:%Y-%m-%d}.."
                                           f"{key.valid_until:%Y-%m-%d}]", key.valid_until))
        rows += [Expiring("own chain", "self", _subject(c), c.not_valid_after_utc) for c in key.chain]
    return rows


def partner_certificates(store: TrustStore) -> list[Expiring]:
    """Every partner's pinned certificates, CAs and the CAs' CRLs (next update), by partner id."""
    rows = []
    for pid, trust in sorted(store.partners.items()):
        rows += [Expiring("pinned", pid, _subject(c), c.not_valid_after_utc) for c in trust.pinned]
        for authority in trust.authorities:
            rows.append(Expiring("ca", pid, _subject(authority.cert), authority.cert.not_valid_after_utc))
            rows += [Expiring("crl", pid, f"CRL of {crl.issuer.rfc4514_string()}", crl.next_update_utc)
                     for crl in authority.crls]
    return rows


def encryption_certificates(config, now: datetime) -> list[Expiring]:
    """Own decryption keys' certificates, then partners' encryption certificates (the one used
    at `now` marked current)."""
    rows = [Expiring("decryption", "self", _subject(k.certificate), k.certificate.not_valid_after_utc)
            for k in decryption_keys(config)]
    encryption = Encryption.from_config(config)
    for pid, certs in sorted(encryption.recipients.items()):
        valid = [c for c in certs if c.not_valid_before_utc <= now < c.not_valid_after_utc]
        current = max(valid, key=lambda c: c.not_valid_before_utc) if valid else None
        rows += [Expiring("encryption (current)" if c is current else "encryption", pid, _subject(c),
                          c.not_valid_after_utc) for c in certs]
    return rows


def all_certificates(config, now: datetime) -> list[Expiring]:
    """Own, then partner certificates and CRLs, then encryption certificates of this configuration."""
    return (own_certificates(config, now) + partner_certificates(TrustStore.from_config(config))
            + encryption_certificates(config, now))


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()
