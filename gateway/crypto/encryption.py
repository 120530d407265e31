"""Content encryption for the recipient: W3C XML Encryption 1.1, sign then encrypt.

`encrypt(xml, certificate, routing=...)` wraps a whole (signed) message in one
`xenc:EncryptedData` element (Type Element): the content is encrypted with a fresh AES-256-GCM
key, that key is transported to the recipient's certificate with RSA-OAEP (SHA-256 digest) or
agreed with ECDH-ES on P-256 (ConcatKDF SHA-256, AES-256 key wrap). The message's routing facts
(root, id, type, author and reader authority, creation time, standard: no personal data) ride
along unencrypted in an
`xenc:EncryptionProperty`, so the recipient can answer with a receipt even when it cannot
decrypt; after decryption the signed header must say the same.

`Decryptor.decrypt(xml)` accepts only the configured algorithms (never AES-CBC, never RSA
PKCS#1 v1.5 key transport), tries the key the sender named (its certificate) or every own
key, and fails with one `DecryptionError` whose text is "cannot decrypt" whatever went wrong.

The primitives are those of `cryptography` (OpenSSL); the XML around them is written and read
here. `encrypt_stream`/`decrypt_stream` do the same AES-256-GCM (IV || ciphertext || tag, the
XML Encryption 1.1 octet layout) over files in bounded memory, for detached attachments.
"""
from __future__ import annotations

import base64
import functools
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterable, Mapping, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from lxml import etree

from .. import xml as xmlparse
from ..errors import ConfigError, DecryptionError, MessageError, XmlSecurityError

XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
DS = "http://www.w3.org/2000/09/xmldsig#"
DS11 = "http://www.w3.org/2009/xmldsig11#"
ROUTING_NS = "urn:xoev-gateway:encryption"

ELEMENT = XENC + "Element"
AES256_GCM = XENC11 + "aes256-gcm"
RSA_OAEP_MGF1P = XENC + "rsa-oaep-mgf1p"     # MGF1 with SHA-1 by definition; digest named inside
RSA_OAEP = XENC11 + "rsa-oaep"               # digest and MGF named inside
MGF1_SHA1, MGF1_SHA256 = XENC11 + "mgf1sha1", XENC11 + "mgf1sha256"
KW_AES256 = XENC + "kw-aes256"
ECDH_ES = XENC11 + "ECDH-ES"
CONCAT_KDF = XENC11 + "ConcatKDF"
SHA256 = XENC + "sha256"
P256 = "urn:oid:1.2.840.10045.3.1.7"

#: the names `[keys] decryption_algorithms` may list, and what each admits
ALGORITHMS = {
    "aes256-gcm": "content encryption AES-256-GCM",
    "rsa-oaep": "key transport RSA-OAEP with SHA-256 (rsa-oaep-mgf1p or xmlenc11 rsa-oaep)",
    "ecdh-es": "key agreement ECDH-ES on P-256, ConcatKDF SHA-256, AES-256 key wrap",
}
_NS = {"xenc": XENC, "xenc11": XENC11, "ds": DS, "dsig11": DS11, "r": ROUTING_NS}
_GCM_IV = 12
_ROUTING = ("root", "uuid", "type", "author", "reader", "created", "standard")
CHUNK = 1024 * 1024


def check_algorithms(names: Iterable[str], where: str) -> frozenset[str]:
    """The configured algorithm names, refusing unknown ones (AES-CBC and RSA PKCS#1 v1.5 are
    not among them: padding oracles)."""
    names = frozenset(names)
    unknown = sorted(names - set(ALGORITHMS))
    if unknown:
        raise ConfigError(f"{where}: unknown encryption algorithm {unknown[0]!r}; allowed: "
                          f"{', '.join(ALGORITHMS)} (AES-CBC and RSA PKCS#1 v1.5 are never accepted)")
    if "aes256-gcm" not in names or not names & {"rsa-oaep", "ecdh-es"}:
        raise ConfigError(f"{where}: needs aes256-gcm and at least one of rsa-oaep, ecdh-es")
    return names


def key_kind(public_key) -> str:
    """'rsa-oaep' or 'ecdh-es' for a recipient's public key; ConfigError for anything else."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise ConfigError(f"RSA key of {public_key.key_size} bits is too small for encryption (>= 2048)")
        return "rsa-oaep"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return "ecdh-es"
    raise ConfigError("an encryption certificate must hold an RSA (>= 2048 bits) or EC P-256 key")


def newest_valid(certificates: Sequence[x509.Certificate], now: datetime, who: str) -> x509.Certificate:
    """The newest (latest notBefore) certificate valid at `now`; MessageError when none is."""
    valid = [c for c in certificates if c.not_valid_before_utc <= now < c.not_valid_after_utc]
    if not valid:
        raise MessageError(f"no encryption certificate of {who} is valid at {now:%Y-%m-%d %H:%M} UTC "
                           f"({len(certificates)} configured)")
    return max(valid, key=lambda c: c.not_valid_before_utc)


# -- encrypt ------------------------------------------------------------------------------------

def _el(parent, ns: str, tag: str, text: str | None = None, **attrib) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", attrib)
    if text is not None:
        el.text = text
    return el


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encrypt(xml: bytes, certificate: x509.Certificate, *, routing: Mapping[str, str] | None = None) -> bytes:
    """`xml` (a whole document) as one EncryptedData document for `certificate`'s key."""
    public_key = certificate.public_key()
    kind = key_kind(public_key)
    cek, iv = AESGCM.generate_key(256), os.urandom(_GCM_IV)
    body = xml.split(b"?>", 1)[1].lstrip() if xml.startswith(b"<?xml") else xml
    cipher = iv + AESGCM(cek).encrypt(iv, body, None)
    root = etree.Element(f"{{{XENC}}}EncryptedData", {"Type": ELEMENT},
                         nsmap={"xenc": XENC, "ds": DS, **({"xenc11": XENC11, "dsig11": DS11} if kind == "ecdh-es" else {})})
    _el(root, XENC, "EncryptionMethod", Algorithm=AES256_GCM)
    key = _el(_el(root, DS, "KeyInfo"), XENC, "EncryptedKey")
    if kind == "rsa-oaep":
        method = _el(key, XENC, "EncryptionMethod", Algorithm=RSA_OAEP_MGF1P)
        _el(method, DS, "DigestMethod", Algorithm=SHA256)
        _x509(_el(key, DS, "KeyInfo"), certificate)
        wrapped = public_key.encrypt(cek, _oaep(hashes.SHA1()))
    else:
        _el(key, XENC, "EncryptionMethod", Algorithm=KW_AES256)
        agreement = _el(_el(key, DS, "KeyInfo"), XENC, "AgreementMethod", Algorithm=ECDH_ES)
        kdf = _el(agreement, XENC11, "KeyDerivationMethod", Algorithm=CONCAT_KDF)
        params = _el(kdf, XENC11, "ConcatKDFParams", AlgorithmID="00" + KW_AES256.encode().hex(),
                     PartyUInfo="00", PartyVInfo="00")
        _el(params, DS, "DigestMethod", Algorithm=SHA256)
        ephemeral = ec.generate_private_key(ec.SECP256R1())
        value = _el(_el(_el(agreement, XENC, "OriginatorKeyInfo"), DS, "KeyValue"), DS11, "ECKeyValue")
        _el(value, DS11, "NamedCurve", URI=P256)
        _el(value, DS11, "PublicKey", _b64(ephemeral.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)))
        _x509(_el(agreement, XENC, "RecipientKeyInfo"), certificate)
        kek = _concat_kdf(ephemeral.exchange(ec.ECDH(), public_key), KW_AES256.encode(), b"", b"")
        wrapped = aes_key_wrap(kek, cek)
    _el(_el(key, XENC, "CipherData"), XENC, "CipherValue", _b64(wrapped))
    _el(_el(root, XENC, "CipherData"), XENC, "CipherValue", _b64(cipher))
    if routing:
        prop = _el(_el(root, XENC, "EncryptionProperties"), XENC, "EncryptionProperty")
        etree.SubElement(prop, f"{{{ROUTING_NS}}}routing", {k: routing[k] for k in _ROUTING if k in routing},
                         nsmap={"r": ROUTING_NS})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _x509(key_info: etree._Element, certificate: x509.Certificate) -> None:
    _el(_el(key_info, DS, "X509Data"), DS, "X509Certificate", _certificate_b64(certificate))


@functools.lru_cache(maxsize=64)
def _certificate_b64(certificate: x509.Certificate) -> str:
    return _b64(certificate.public_bytes(serialization.Encoding.DER))


def _oaep(mgf_hash: hashes.HashAlgorithm) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(mgf_hash), algorithm=hashes.SHA256(), label=None)


def _concat_kdf(shared: bytes, algorithm_id: bytes, party_u: bytes, party_v: bytes) -> bytes:
    return ConcatKDFHash(hashes.SHA256(), 32, algorithm_id + party_u + party_v).derive(shared)


# -- decrypt ------------------------------------------------------------------------------------

def is_encrypted(root: etree._Element) -> bool:
    """True when the document is an XML Encryption EncryptedData (of any algorithm)."""
    return root.tag == f"{{{XENC}}}EncryptedData"


def routing(root: etree._Element) -> dict[str, str]:
    """The unencrypted routing facts of an EncryptedData document (empty when it has none)."""
    found = root.find("xenc:EncryptionProperties/xenc:EncryptionProperty/r:routing", _NS)
    return {} if found is None else {k: found.get(k) for k in _ROUTING if found.get(k) is not None}


@dataclass(frozen=True, slots=True)
class DecryptionKey:
    """One own decryption key with its certificate (the one partners encrypt for)."""

    private_key: object
    certificate: x509.Certificate
    source: str

    @property
    def kind(self) -> str:
        """'rsa-oaep' or 'ecdh-es'."""
        return key_kind(self.certificate.public_key())


class Decryptor:
    """Decrypts EncryptedData documents for our own keys, with the configured algorithms only."""

    def __init__(self, keys: Sequence[DecryptionKey], *, allowed: Iterable[str] = tuple(ALGORITHMS),
                 limits: xmlparse.Limits = xmlparse.DEFAULT_LIMITS):
        self.keys = tuple(keys)
        self._ders = tuple((k, k.certificate.public_bytes(serialization.Encoding.DER)) for k in self.keys)
        self.allowed = check_algorithms(allowed, "[keys] decryption_algorithms")
        self.limits = limits

    def decrypt(self, xml: bytes | etree._Element) -> bytes:
        """The plaintext bytes, authenticated by the GCM tag and within the size limit; the
        caller parses them with the hardened parser before use (the verifier does). Any
        failure is a DecryptionError ("cannot decrypt", the step in `reason`)."""
        try:
            root = xml if isinstance(xml, etree._Element) else xmlparse.parse(xml, self.limits).getroot()
        except XmlSecurityError as exc:
            raise DecryptionError(f"not parseable: {exc}") from None
        if not is_encrypted(root) or root.get("Type") != ELEMENT:
            raise DecryptionError("not an EncryptedData of Type Element")
        self._need(_algorithm(root), {AES256_GCM: "aes256-gcm"}, "content encryption")
        cipher = _cipher_value(root)
        cek = self._content_key(root)
        if len(cipher) < _GCM_IV + 16:
            raise DecryptionError("ciphertext too short")
        if len(cipher) - _GCM_IV - 16 > self.limits.max_bytes:
            raise DecryptionError("decrypted content would exceed the size limit")
        try:
            return AESGCM(cek).decrypt(cipher[:_GCM_IV], cipher[_GCM_IV:], None)
        except (InvalidTag, ValueError):
            raise DecryptionError("content does not authenticate (GCM tag)") from None

    def _need(self, algorithm: str, known: Mapping[str, str], what: str) -> str:
        name = known.get(algorithm)
        if name is None or name not in self.allowed:
            raise DecryptionError(f"{what} algorithm {algorithm or '(none)'} is not allowed")
        return name

    def _content_key(self, root: etree._Element) -> bytes:
        encrypted_keys = root.findall("ds:KeyInfo/xenc:EncryptedKey", _NS)
        if not encrypted_keys:
            raise DecryptionError("no EncryptedKey")
        if not self.keys:
            raise DecryptionError("no own decryption key configured")
        reasons = []
        for encrypted_key in encrypted_keys:
            kind = self._need(_algorithm(encrypted_key), {RSA_OAEP_MGF1P: "rsa-oaep", RSA_OAEP: "rsa-oaep",
                                                          KW_AES256: "ecdh-es"}, "key transport")
            named = encrypted_key.find(".//ds:X509Certificate", _NS) if kind == "rsa-oaep" else \
                encrypted_key.find("ds:KeyInfo/xenc:AgreementMethod/xenc:RecipientKeyInfo//ds:X509Certificate", _NS)
            candidates = [k for k, _ in self._ders if k.kind == kind]
            if named is not None:
                der = _b64decode(named.text, "recipient certificate")
                candidates = [k for k, own in self._ders if k.kind == kind and own == der]
            wrapped = _cipher_value(encrypted_key)
            for key in candidates:
                try:
                    cek = (self._rsa(encrypted_key, key, wrapped) if kind == "rsa-oaep"
                           else self._ecdh(encrypted_key, key, wrapped))
                except DecryptionError as exc:
                    reasons.append(exc.reason)
                    continue
                if len(cek) != 32:
                    raise DecryptionError("content key is not 256 bits")
                return cek
            if not candidates:
                reasons.append("encrypted for a key that is not ours")
        raise DecryptionError("; ".join(dict.fromkeys(reasons)))

    def _rsa(self, encrypted_key: etree._Element, key: DecryptionKey, wrapped: bytes) -> bytes:
        method = encrypted_key.find("xenc:EncryptionMethod", _NS)
        digest = method.find("ds:DigestMethod", _NS)
        if digest is None or digest.get("Algorithm") != SHA256:
            raise DecryptionError("RSA-OAEP digest is not SHA-256")
        mgf = MGF1_SHA1
        if method.get("Algorithm") == RSA_OAEP:
            mgf_el = method.find("xenc11:MGF", _NS)
            mgf = MGF1_SHA1 if mgf_el is None else mgf_el.get("Algorithm")
        if method.find("xenc:OAEPparams", _NS) is not None:
            raise DecryptionError("RSA-OAEP with a label is not supported")
        mgf_hash = {MGF1_SHA1: hashes.SHA1(), MGF1_SHA256: hashes.SHA256()}.get(mgf)
        if mgf_hash is None:
            raise DecryptionError("RSA-OAEP mask generation function not supported")
        try:
            return key.private_key.decrypt(wrapped, _oaep(mgf_hash))
        except ValueError:
            raise DecryptionError("key transport failed") from None

    def _ecdh(self, encrypted_key: etree._Element, key: DecryptionKey, wrapped: bytes) -> bytes:
        agreement = encrypted_key.find("ds:KeyInfo/xenc:AgreementMethod", _NS)
        if agreement is None or agreement.get("Algorithm") != ECDH_ES:
            raise DecryptionError("key agreement is not ECDH-ES")
        kdf = agreement.find("xenc11:KeyDerivationMethod", _NS)
        params = None if kdf is None or kdf.get("Algorithm") != CONCAT_KDF else kdf.find("xenc11:ConcatKDFParams", _NS)
        if params is None or params.find("ds:DigestMethod", _NS) is None \
                or params.find("ds:DigestMethod", _NS).get("Algorithm") != SHA256:
            raise DecryptionError("key derivation is not ConcatKDF with SHA-256")
        value = agreement.find("xenc:OriginatorKeyInfo/ds:KeyValue/dsig11:ECKeyValue", _NS)
        curve = None if value is None else value.find("dsig11:NamedCurve", _NS)
        point = None if value is None else value.find("dsig11:PublicKey", _NS)
        if curve is None or curve.get("URI") != P256 or point is None:
            raise DecryptionError("originator key is not a P-256 key value")
        try:
            ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), _b64decode(point.text, "originator key"))
            shared = key.private_key.exchange(ec.ECDH(), ephemeral)
            kek = _concat_kdf(shared, *(_bitstring(params.get(a, "")) for a in
                                        ("AlgorithmID", "PartyUInfo", "PartyVInfo")))
            return aes_key_unwrap(kek, wrapped)
        except (ValueError, InvalidUnwrap):
            raise DecryptionError("key agreement failed") from None


def _algorithm(el: etree._Element) -> str:
    method = el.find("xenc:EncryptionMethod", _NS)
    return "" if method is None else method.get("Algorithm", "")


def _cipher_value(el: etree._Element) -> bytes:
    value = el.find("xenc:CipherData/xenc:CipherValue", _NS)
    if value is None:
        raise DecryptionError("no CipherValue (CipherReference is not accepted in a message)")
    return _b64decode(value.text, "CipherValue")


def _b64decode(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except ValueError:
        raise DecryptionError(f"{what} is not base64") from None


def _bitstring(value: str) -> bytes:
    """A ConcatKDF parameter: hexBinary whose first octet counts the padding bits (must be 0)."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise DecryptionError("ConcatKDF parameter is not hexBinary") from None
    if raw[:1] not in (b"", b"\x00"):
        raise DecryptionError("ConcatKDF parameter with padding bits is not supported")
    return raw[1:]


# -- streams (detached attachments) ---------------------------------------------------------------

def encrypt_stream(source: BinaryIO, target: BinaryIO, key: bytes) -> int:
    """AES-256-GCM over a stream in CHUNK pieces: writes IV || ciphertext || tag; returns bytes read."""
    iv = os.urandom(_GCM_IV)
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    target.write(iv)
    total = 0
    while chunk := source.read(CHUNK):
        total += len(chunk)
        target.write(encryptor.update(chunk))
    target.write(encryptor.finalize() + encryptor.tag)
    return total


def decrypt_stream(source: Path, target: BinaryIO, key: bytes) -> int:
    """Decrypt a file written by `encrypt_stream` into `target` in CHUNK pieces; DecryptionError
    when the tag does not verify (then `target` holds unauthenticated bytes: the caller writes
    to a temporary file and publishes it only on success). Returns the plaintext size."""
    size = source.stat().st_size
    if size < _GCM_IV + 16:
        raise DecryptionError("ciphertext too short")
    with open(source, "rb") as f:
        iv = f.read(_GCM_IV)
        f.seek(size - 16)
        tag = f.read(16)
        f.seek(_GCM_IV)
        decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, tag)).decryptor()
        left = size - _GCM_IV - 16
        while left:
            chunk = f.read(min(CHUNK, left))
            left -= len(chunk)
            target.write(decryptor.update(chunk))
        try:
            target.write(decryptor.finalize())
        except InvalidTag:
            raise DecryptionError("content does not authenticate (GCM tag)") from None
    return size - _GCM_IV - 16
