"""Partner cards: what a partner needs to know about this gateway, in one signed file.

A card is a small XML document (namespace `urn:xoev-gateway:partner-card:1`) with our
authority id and name, our endpoints with their transports, the message types we accept
and our certificates, each with its use (`signing`, `tls`; `encryption` once that exists),
signed (enveloped XML-DSig) with our current signing key. Readers take what they know and
ignore other elements and certificate uses, so the format can grow without a new version.

The signature proves that the card was made by whoever holds the key of the signing
certificate inside it and was not changed since; it cannot prove *who* that is. That is
the out-of-band step: the receiving operator compares the fingerprints `gateway partners
add` shows with the partner (by phone, letter) before trusting the card.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from .. import xml as xmlparse
from ..crypto.signing import Signer, Verifier
from ..crypto.trust import TrustStore
from ..errors import MessageError, SignatureError

NS = "urn:xoev-gateway:partner-card:1"
Q = f"{{{NS}}}"
KNOWN_USES = ("signing", "tls", "encryption")


@dataclass(frozen=True)
class Card:
    """The verified content of a partner card."""

    authority_id: str
    name: str
    directory_service: str
    endpoints: tuple[tuple[str, str], ...]          # (transport, URL), in the partner's order
    accepts: tuple[str, ...]
    certificates: tuple[tuple[str, x509.Certificate], ...]   # (use, certificate)
    created: str

    def certs(self, use: str) -> list[x509.Certificate]:
        """The certificates of one use ("signing", "tls", "encryption")."""
        return [c for u, c in self.certificates if u == use]


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate as colon-separated upper-case hex pairs (read aloud)."""
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def make_card(signer: Signer, *, authority_id: str, name: str, directory_service: str,
              endpoints: list[tuple[str, str]], accepts: list[str],
              certificates: list[tuple[str, x509.Certificate]], now: datetime) -> bytes:
    """The signed card XML."""
    root = etree.Element(f"{Q}partnerCard", nsmap={None: NS})
    root.set("version", "1")
    etree.SubElement(root, f"{Q}created").text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    authority = etree.SubElement(root, f"{Q}authority", id=authority_id, directoryService=directory_service)
    authority.text = name
    for transport, url in endpoints:
        etree.SubElement(root, f"{Q}endpoint", transport=transport).text = url
    for type_id in accepts:
        etree.SubElement(root, f"{Q}accepts").text = type_id
    for use, cert in certificates:
        etree.SubElement(root, f"{Q}certificate", use=use).text = base64.b64encode(
            cert.public_bytes(Encoding.DER)).decode()
    return signer.sign(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), now=now)


def read_card(data: bytes, *, now: datetime, source: str = "card") -> Card:
    """Check a card's signature against the signing certificate it carries and return its
    verified content. MessageError/SignatureError say what is wrong."""
    tree = xmlparse.parse(data)
    root = tree.getroot()
    if root.tag != f"{Q}partnerCard":
        raise MessageError(f"{source}: not a partner card (root element {root.tag}, expected "
                           f"partnerCard in {NS})")
    unverified = _content(root, source)
    signing = unverified.certs("signing")
    if not signing:
        raise MessageError(f"{source}: the card carries no signing certificate")
    try:
        verified = Verifier(TrustStore.pinned(unverified.authority_id, signing)).verify(
            data, partner=unverified.authority_id, now=now)
    except SignatureError as exc:
        raise SignatureError(f"{source}: the card's signature does not hold: {exc}", code=exc.code) from None
    return _content(verified.tree, source)     # only what the signature covers


def _content(root: etree._Element, source: str) -> Card:
    authority = root.find(f"{Q}authority")
    if authority is None or not authority.get("id"):
        raise MessageError(f"{source}: line {root.sourceline}: the card names no authority id")
    certs = []
    for el in root.findall(f"{Q}certificate"):
        use = el.get("use", "")
        if use not in KNOWN_USES:
            continue                     # a newer card's certificate: not ours to read
        try:
            certs.append((use, x509.load_der_x509_certificate(base64.b64decode(el.text or "", validate=True))))
        except ValueError as exc:
            raise MessageError(f"{source}: line {el.sourceline}: {use} certificate unreadable: {exc}") from None
    return Card(authority_id=authority.get("id"), name=(authority.text or "").strip(),
                directory_service=authority.get("directoryService", "DVDV"),
                endpoints=tuple((el.get("transport", "http"), (el.text or "").strip())
                                for el in root.findall(f"{Q}endpoint")),
                accepts=tuple((el.text or "").strip() for el in root.findall(f"{Q}accepts")),
                certificates=tuple(certs), created=(root.findtext(f"{Q}created") or "").strip())
