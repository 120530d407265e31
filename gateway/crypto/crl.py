"""Trusted CAs with their revocation lists, read once at start-up.

A CRL belongs to the configured CA that issued it (same name, valid signature); a CRL that
no configured CA signed is a configuration error. Checks fail closed: a CRL past its
nextUpdate is treated as unusable and the certificates of that CA are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from ..errors import ConfigError, SignatureError


@dataclass(frozen=True, slots=True)
class Authority:
    """A trusted CA certificate and the CRLs it issued."""

    cert: x509.Certificate
    crls: tuple[x509.CertificateRevocationList, ...] = ()

    @property
    def subject(self) -> str:
        """The CA's subject in RFC 4514 form."""
        return self.cert.subject.rfc4514_string()

    def issued(self, cert: x509.Certificate) -> bool:
        """True when this CA's key signed `cert`."""
        if cert.issuer != self.cert.subject:
            return False
        try:
            cert.verify_directly_issued_by(self.cert)
        except (InvalidSignature, ValueError, TypeError):  # bad signature or unsupported algorithm
            return False
        return True

    def check_revocation(self, cert: x509.Certificate, now: datetime) -> None:
        """Refuse `cert` when a CRL of this CA lists it or the CRL is out of date."""
        for crl in self.crls:
            next_update = crl.next_update_utc
            if next_update is not None and now > next_update:
                raise SignatureError(f"revocation list of {self.subject} is out of date since "
                                     f"{next_update:%Y-%m-%d %H:%M} UTC; refusing its certificates "
                                     f"until a current CRL is installed", code=SignatureError.REVOCATION_UNKNOWN)
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None:
                raise SignatureError(f"certificate {cert.subject.rfc4514_string()} (serial "
                                     f"{cert.serial_number:x}) was revoked on "
                                     f"{entry.revocation_date_utc:%Y-%m-%d}", code=SignatureError.REVOKED)


def read_crl(path: Path) -> x509.CertificateRevocationList:
    """A CRL from a PEM or DER file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a CRL (PEM or DER) ({exc})") from None


def authorities(cas: Sequence[x509.Certificate], crls: Sequence[tuple[str, x509.CertificateRevocationList]],
                where: str) -> tuple[Authority, ...]:
    """Attach each CRL to the CA that signed it; ConfigError for a CRL no given CA issued."""
    for cert in cas:
        constraints = _basic_constraints(cert)
        if constraints is None or not constraints.ca:
            raise ConfigError(f"{where}: {cert.subject.rfc4514_string()} is not a CA certificate "
                              f"(list it under `certificates` to pin it instead)")
    owned: dict[int, list] = {i: [] for i in range(len(cas))}
    for source, crl in crls:
        index = next((i for i, ca in enumerate(cas)
                      if crl.issuer == ca.subject and crl.is_signature_valid(ca.public_key())), None)
        if index is None:
            raise ConfigError(f"{where}: CRL {source} ({crl.issuer.rfc4514_string()}) is not signed by any "
                              f"CA configured for this partner")
        owned[index].append(crl)
    return tuple(Authority(ca, tuple(owned[i])) for i, ca in enumerate(cas))


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None
