"""A small development PKI: CA, signing certificates and CRLs made with `cryptography`.

Used by `gateway keys init` (embedded default and demo) and by the tests, which make their
keys per session instead of committing certificates that expire. Not a production CA.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..errors import ConfigError
from ..files import create_new, make_dirs

KEY_KINDS = ("ecdsa", "rsa")
ENCRYPTION_KINDS = ("rsa", "ec")        # rsa: RSA-OAEP key transport (default); ec: ECDH-ES on P-256


def new_key(kind: str = "ecdsa", bits: int = 3072):
    """A fresh private key: ECDSA P-256 (default) or RSA with `bits` bits."""
    if kind == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    raise ValueError(f"key kind {kind!r} is not one of {', '.join(KEY_KINDS)}")


def name(subject: str) -> x509.Name:
    """An X.509 name from its RFC 4514 form ('CN=Gateway,O=Stadt')."""
    return x509.Name.from_rfc4514_string(subject)


def issue(issuer_key, subject: str, public_key, *, now: datetime, days: int = 365,
          issuer: x509.Certificate | None = None, ca: bool = False, serial: int | None = None,
          not_before: datetime | None = None, encryption: bool = False) -> x509.Certificate:
    """A certificate for `public_key`, signed by `issuer_key` (self-signed when issuer is None);
    with `encryption`, one for key transport (RSA) or key agreement (EC) instead of signing."""
    start = not_before or now - timedelta(minutes=5)
    subject_name = name(subject)
    issuer_name = issuer.subject if issuer is not None else subject_name
    signer_public = issuer.public_key() if issuer is not None else public_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_public), critical=False)
    )
    if ca:
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False, content_commitment=False)
    elif encryption:
        rsa_key = isinstance(public_key, rsa.RSAPublicKey)
        builder = builder.add_extension(x509.KeyUsage(
            key_encipherment=rsa_key, key_agreement=not rsa_key, data_encipherment=False, encipher_only=False,
            decipher_only=False, key_cert_sign=False, crl_sign=False, digital_signature=False,
            content_commitment=False), critical=True)
        return builder.sign(issuer_key, hashes.SHA256())
    else:
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True, content_commitment=True)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False)
    builder = builder.add_extension(x509.KeyUsage(key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, encipher_only=False,
                                                  decipher_only=False, **usage), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True, slots=True)
class Identity:
    """A private key with its certificate and the chain above it, as made by this PKI."""

    key: object
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


def make_ca(subject: str, *, now: datetime, kind: str = "ecdsa", days: int = 730) -> Identity:
    """A self-signed development CA."""
    key = new_key(kind)
    return Identity(key, issue(key, subject, key.public_key(), now=now, days=days, ca=True))


def make_identity(ca: Identity, subject: str, *, now: datetime, kind: str = "ecdsa", days: int = 365,
                  not_before: datetime | None = None, intermediate: bool = False,
                  encryption: bool = False) -> Identity:
    """A signing (or, with intermediate=True, sub-CA; with encryption=True, encryption) key and
    certificate issued by `ca`."""
    key = new_key("ecdsa" if kind == "ec" else kind)
    cert = issue(ca.key, subject, key.public_key(), now=now, days=days, issuer=ca.cert,
                 not_before=not_before, ca=intermediate, encryption=encryption)
    return Identity(key, cert, (ca.cert, *ca.chain))


def make_crl(ca_key, ca_cert: x509.Certificate, revoked: dict[int, datetime], *, now: datetime,
             next_update: datetime | None = None) -> x509.CertificateRevocationList:
    """A CRL of `ca_cert` listing the serial numbers in `revoked` (serial -> revocation date)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(next_update or now + timedelta(days=7))
    )
    for serial, when in revoked.items():
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    return builder.sign(ca_key, hashes.SHA256())


def key_pem(key, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM of a private key, encrypted when a password is given."""
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def cert_pem(*certs: x509.Certificate) -> bytes:
    """PEM of one or more certificates, concatenated."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass(frozen=True, slots=True)
class DevFile:
    """One file written by `write_dev_keys`, with what it holds."""

    path: Path
    what: str


DEV_FILES = ("ca.key.pem", "ca.cert.pem", "signing.key.pem", "signing.cert.pem",
             "encryption.key.pem", "encryption.cert.pem")


def write_dev_keys(folder: Path, *, kind: str, authority_id: str, authority_name: str,
                   now: datetime, days: int = 365, encryption: str = "rsa") -> list[DevFile]:
    """Make a development CA, a gateway signing key/certificate and an encryption key/certificate
    (`encryption`: rsa or ec) in `folder`; never overwrite."""
    existing = [folder / f for f in DEV_FILES if (folder / f).exists()]
    if existing:
        raise ConfigError(f"refusing to overwrite existing key material: {', '.join(map(str, existing))}")
    ca = make_ca(f"CN=Development CA of {_escape(authority_name)},O=xoev-gateway development",
                 now=now, kind=kind, days=days * 2)
    own = make_identity(ca, f"CN={_escape(authority_name)},OU={_escape(authority_id)},O=xoev-gateway development",
                        now=now, kind=kind, days=days)
    enc = make_identity(ca, f"CN={_escape(authority_name)} encryption,OU={_escape(authority_id)},"
                            "O=xoev-gateway development", now=now, kind=encryption, days=days, encryption=True)
    make_dirs(folder)
    written = [
        (DEV_FILES[0], key_pem(ca.key), f"development CA private key ({_describe(ca.key)})"),
        (DEV_FILES[1], cert_pem(ca.cert), f"development CA certificate {ca.cert.subject.rfc4514_string()}"
                                          f", valid until {ca.cert.not_valid_after_utc:%Y-%m-%d}"),
        (DEV_FILES[2], key_pem(own.key), f"gateway signing private key ({_describe(own.key)})"),
        (DEV_FILES[3], cert_pem(own.cert, ca.cert), f"gateway signing certificate "
                                                    f"{own.cert.subject.rfc4514_string()} + CA, valid until "
                                                    f"{own.cert.not_valid_after_utc:%Y-%m-%d}"),
        (DEV_FILES[4], key_pem(enc.key), f"gateway decryption private key ({_describe(enc.key)})"),
        (DEV_FILES[5], cert_pem(enc.cert, ca.cert), f"gateway encryption certificate (give it to partners) "
                                                    f"{enc.cert.subject.rfc4514_string()} + CA, valid until "
                                                    f"{enc.cert.not_valid_after_utc:%Y-%m-%d}"),
    ]
    result = []
    for filename, data, what in written:
        path = folder / filename
        create_new(path, data, mode=0o600 if filename.endswith("key.pem") else None)
        result.append(DevFile(path, what))
    return result


def _describe(key) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"ECDSA {key.curve.name}"
    return f"RSA {key.key_size} bits"


def _escape(value: str) -> str:
    """Escape RFC 4514 special characters in an attribute value."""
    out = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
    return ("\\" + out) if out[:1] in ("#", " ") else out
