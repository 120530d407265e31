"""Sign and verify messages around signxml; downstream code only ever sees what was signed.

`Signer.sign(xml, now=...)` adds one enveloped XML-DSig signature (exclusive C14N, SHA-256+)
made with the newest valid own key, optionally with XAdES-BES properties.
`Verifier.verify(xml, partner=..., now=...)` parses with the hardened parser, checks the
signature's shape (gateway.crypto.dsig), the signer against the partner's trust (gateway.crypto.trust),
then the cryptography with signxml pinned to that certificate, and returns a
`VerifiedMessage` holding only the signed content (signature removed) and the signer: there
is no way to get at the unverified document through it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cryptography import x509
from lxml import etree
from signxml import SignatureConfiguration, XMLSigner, XMLVerifier
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
)
from signxml.exceptions import (
    InvalidCertificate,
    InvalidDigest,
    InvalidInput,
    InvalidSignature,
    SignXMLException,
)
from signxml.xades import XAdESVerifier

from .. import xml as xmlparse
from ..config import Config
from ..errors import ConfigError, GatewayError, SignatureError
from .algorithms import DIGESTS, SIGN_C14N, SIGNATURE_METHODS, name_of
from .dsig import DS, SignatureShape, inspect
from .keys import KeyRing
from .trust import SignerIdentity, TrustStore
from .xades import TimedXAdESSigner, signing_time

SELF = "self"
CANARY = b'<Canary xmlns="urn:xoev-gateway:canary"><Text>start-up self-check</Text></Canary>'
_STRICT = SignatureConfiguration(
    require_x509=True,
    location="./",
    expect_references=1,
    signature_methods=frozenset(SIGNATURE_METHODS.values()),
    digest_algorithms=frozenset(DIGESTS.values()),
    default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0,  # XML-DSig 4.4.3.3
)


class _Adopting:
    """signxml copies the document twice before signing; the tree we just parsed is ours, so
    the first copy is skipped and that tree becomes the signed document (the digest input
    remains a separate copy)."""

    adopt = None

    def get_root(self, data):
        if data is not None and data is self.adopt:
            self.adopt = None
            return data
        return super().get_root(data)


class _XMLSigner(_Adopting, XMLSigner):
    """XMLSigner that signs our freshly parsed tree in place."""


class _XAdESSigner(_Adopting, TimedXAdESSigner):
    """TimedXAdESSigner that signs our freshly parsed tree in place."""


class _Inspected:
    """signxml verifies the very tree gateway.crypto.dsig inspected, not a second parse of the bytes.

    signxml's get_root() would re-parse or copy; it never modifies the root it is given
    (signature and references are checked on copies), so handing it our tree is safe.
    """

    def get_root(self, data):
        return data if isinstance(data, etree._Element) else super().get_root(data)


class _XMLVerifier(_Inspected, XMLVerifier):
    """XMLVerifier on the inspected tree."""


class _XAdESVerifier(_Inspected, XAdESVerifier):
    """XAdESVerifier on the inspected tree."""


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """The signed content of a verified message and who signed it: all downstream code reads."""

    xml: bytes                      # the signed content, canonical, signature removed
    tree: etree._Element            # the same content, parsed
    signer: SignerIdentity
    signature_method: str           # short name, e.g. "ecdsa-sha256"
    signing_time: datetime | None   # XAdES SigningTime, when the signature had XAdES properties


class Signer:
    """Signs documents with the newest valid own key: enveloped, exclusive C14N, optional XAdES-BES."""

    def __init__(self, keyring: KeyRing, *, xades: bool = False, xades_partners: tuple[str, ...] = (),
                 limits: xmlparse.Limits = xmlparse.DEFAULT_LIMITS):
        self.keyring = keyring
        self.xades = xades
        self.xades_partners = frozenset(xades_partners)
        self.limits = limits

    @classmethod
    def from_config(cls, config: Config, keyring: KeyRing | None = None) -> "Signer":
        """A signer for the configured [keys] (loaded once here)."""
        keys, schemas = config.keys, config.schemas
        return cls(keyring or KeyRing.from_config(config), xades=keys.xades, xades_partners=keys.xades_partners,
                   limits=schemas.parser_limits())

    def wants_xades(self, partner: str) -> bool:
        """Whether messages for `partner` carry XAdES-BES properties."""
        return self.xades or partner in self.xades_partners

    def sign(self, xml: bytes, *, now: datetime, partner: str = "", xades: bool | None = None) -> bytes:
        """The document with one enveloped signature by the key valid at `now`."""
        root = xmlparse.parse(xml, self.limits).getroot()
        if root.find(f".//{DS}Signature") is not None or root.tag == f"{DS}Signature":
            raise SignatureError("the document is already signed; sign unsigned documents only",
                                 code=SignatureError.SIGNING_FAILED)
        key = self.keyring.current(now)
        args = dict(method=SignatureConstructionMethod.enveloped, signature_algorithm=key.method,
                    digest_algorithm=DigestAlgorithm.SHA256, c14n_algorithm=SIGN_C14N)
        use_xades = self.wants_xades(partner) if xades is None else xades
        signer = _XAdESSigner(now, **args) if use_xades else _XMLSigner(**args)
        signer.adopt = root
        try:
            signed = signer.sign(root, key=key.private_key, cert=[key.certificate, *key.chain],
                                 always_add_key_value=False)
        except (SignXMLException, ValueError, TypeError) as exc:
            raise SignatureError(f"signing failed with {key.source}: {exc}",
                                 code=SignatureError.SIGNING_FAILED) from None
        return xmlparse.tostring(signed)


class Verifier:
    """Verifies one enveloped signature against the trust store; returns only the signed content."""

    def __init__(self, trust: TrustStore, *, limits: xmlparse.Limits = xmlparse.DEFAULT_LIMITS,
                 max_clock_skew: timedelta = timedelta(minutes=5)):
        self.trust = trust
        self.limits = limits
        self.skew = max_clock_skew
        XMLVerifier.schemas(), XAdESVerifier.schemas()  # load signxml's XSDs now, not with the first message

    @classmethod
    def from_config(cls, config: Config, trust: TrustStore | None = None) -> "Verifier":
        """A verifier with every partner's trust read once, now."""
        schemas = config.schemas
        return cls(trust or TrustStore.from_config(config),
                   limits=schemas.parser_limits())

    def verify(self, xml: bytes, *, partner: str, now: datetime) -> VerifiedMessage:
        """Verify `xml` as signed by `partner` at `now`; raises SignatureError naming the failed check."""
        root = xmlparse.parse(xml, self.limits).getroot()
        shape = inspect(root)
        signer = self.trust.check(partner, shape.certificates, now)
        results = self._signxml(root, shape, now)
        signed = results[shape.document_reference]
        if signed.signed_xml is None:
            raise SignatureError("the signed content is not XML", code=SignatureError.INVALID)
        when = None
        if shape.xades:
            props = next(r for r in results if hasattr(r, "signed_properties")).signed_properties
            when = signing_time(props, shape.certificates[0], now, self.skew)
        return VerifiedMessage(signed.signed_data, signed.signed_xml, signer, name_of(shape.method), when)

    def _signxml(self, root: etree._Element, shape: SignatureShape, now: datetime) -> list:
        """Run signxml pinned to the signing certificate already accepted by the trust store."""
        config = replace(_STRICT, verification_time=now, expect_references=shape.references)
        verifier = _XAdESVerifier() if shape.xades else _XMLVerifier()
        try:
            result = verifier.verify(root, x509_cert=shape.certificates[0], expect_config=config)
        except InvalidDigest as exc:
            raise SignatureError(_digest_reason(str(exc), shape), code=SignatureError.INVALID) from None
        except InvalidSignature:
            raise SignatureError(f"signature value does not verify with the certificate of "
                                 f"{_subject(shape.certificates[0])}: signed with another key, or the "
                                 f"signed information was changed", code=SignatureError.INVALID) from None
        except InvalidCertificate as exc:
            raise SignatureError(f"certificate check failed: {exc}", code=SignatureError.UNTRUSTED) from None
        except (InvalidInput, SignXMLException, etree.DocumentInvalid, etree.XMLSyntaxError, ValueError) as exc:
            raise SignatureError(f"malformed signature: {exc}", code=SignatureError.MALFORMED) from None
        except Exception as exc:  # fail closed: whatever else breaks inside signxml is a refusal
            raise SignatureError(f"signature could not be verified ({type(exc).__name__}: {exc})",
                                 code=SignatureError.INVALID) from None
        return result if isinstance(result, list) else [result]


def _digest_reason(text: str, shape: SignatureShape) -> str:
    if "certificate digest" in text:
        return "XAdES SigningCertificateV2 does not match the signing certificate"
    if f"reference {shape.document_reference} " in text:
        return "digest mismatch: content was changed after signing"
    return f"digest mismatch in the signature's own signed properties: they were changed after signing ({text})"


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def own_verifier(keyring: KeyRing, limits: xmlparse.Limits = xmlparse.DEFAULT_LIMITS) -> Verifier:
    """A verifier that trusts exactly our own certificates (partner id 'self')."""
    return Verifier(TrustStore.pinned(SELF, keyring.certificates()), limits=limits)


def canary(signer: Signer, *, now: datetime) -> VerifiedMessage:
    """Sign and verify a small message with the configured keys; ConfigError if that fails.

    Bootstrap calls this once and refuses to start on failure (a bad key, certificate or
    algorithm setting shows up here instead of with the first real message).
    """
    verifier = own_verifier(signer.keyring)
    try:
        for xades in sorted({False, signer.xades or bool(signer.xades_partners)}):
            result = verifier.verify(signer.sign(CANARY, now=now, xades=xades), partner=SELF, now=now)
    except GatewayError as exc:
        raise ConfigError(f"signing self-check failed: {exc}") from None
    if etree.tostring(result.tree, method="c14n") != etree.tostring(etree.fromstring(CANARY), method="c14n"):
        raise ConfigError("signing self-check failed: the verified content differs from what was signed")
    return result
