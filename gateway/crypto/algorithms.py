"""The signature, digest, canonicalization and key algorithms the gateway signs and accepts.

One place for the algorithm policy: SHA-256 or stronger, RSA (PKCS#1 v1.5 and PSS, 2048 bits
or more) and ECDSA on NIST P-256/P-384; SHA-1, DSA and HMAC are refused. Canonicalization
without comments only, so comments can never carry unsigned content.
"""
from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from ..errors import ConfigError

# Short name (config, CLI, messages) -> XML-DSig signature method. RSA-PSS uses MGF1 with the
# same hash and a salt as long as the digest (RFC 9231 section 2.3.10).
SIGNATURE_METHODS: dict[str, SignatureMethod] = {
    "ecdsa-sha256": SignatureMethod.ECDSA_SHA256,
    "ecdsa-sha384": SignatureMethod.ECDSA_SHA384,
    "ecdsa-sha512": SignatureMethod.ECDSA_SHA512,
    "rsa-sha256": SignatureMethod.RSA_SHA256,
    "rsa-sha384": SignatureMethod.RSA_SHA384,
    "rsa-sha512": SignatureMethod.RSA_SHA512,
    "rsa-pss-sha256": SignatureMethod.SHA256_RSA_MGF1,
    "rsa-pss-sha384": SignatureMethod.SHA384_RSA_MGF1,
    "rsa-pss-sha512": SignatureMethod.SHA512_RSA_MGF1,
}
DIGESTS: dict[str, DigestAlgorithm] = {
    "sha256": DigestAlgorithm.SHA256,
    "sha384": DigestAlgorithm.SHA384,
    "sha512": DigestAlgorithm.SHA512,
}
C14N_METHODS = frozenset({
    CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    CanonicalizationMethod.CANONICAL_XML_1_0,
    CanonicalizationMethod.CANONICAL_XML_1_1,
})
C14N_URIS = frozenset(m.value for m in C14N_METHODS)
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
TRANSFORMS = frozenset({ENVELOPED} | C14N_URIS)
SIGN_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
EC_CURVES = ("secp256r1", "secp384r1")
MIN_RSA_BITS = 2048

_NAMES = {m.value: n for n, m in SIGNATURE_METHODS.items()} | {d.value: n for n, d in DIGESTS.items()}


def name_of(uri: str) -> str:
    """Short name of an algorithm URI for messages ('rsa-sha256'), else the URI itself."""
    return _NAMES.get(uri, uri)


def refusal(uri: str, kind: str, allowed: dict) -> str | None:
    """Why an algorithm URI of `kind` is refused (allowed: name -> algorithm), or None."""
    if _NAMES.get(uri) in allowed:
        return None
    fragment = uri.rsplit("#", 1)[-1].lower()
    if "sha1" in fragment:
        return f"SHA-1 is not allowed ({kind} {uri})"
    return f"{kind} {uri or '(none)'} is not allowed; allowed: {', '.join(allowed)}"


def check_key(key: object, where: str) -> None:
    """Refuse key types and sizes we do not sign with (ConfigError)."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ConfigError(f"{where}: RSA key has {key.key_size} bits, at least {MIN_RSA_BITS} are required")
    elif isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name not in EC_CURVES:
            raise ConfigError(f"{where}: EC curve {key.curve.name} is not allowed; use P-256 or P-384")
    else:
        raise ConfigError(f"{where}: {type(key).__name__} keys are not supported; use ECDSA or RSA")


def method_for(key: object, configured: str, where: str) -> SignatureMethod:
    """The signature method for a private key: 'auto' picks by key type, else the named one."""
    check_key(key, where)
    is_ec = isinstance(key, ec.EllipticCurvePrivateKey)
    if configured == "auto":
        if is_ec:
            return SignatureMethod.ECDSA_SHA384 if key.curve.name == "secp384r1" else SignatureMethod.ECDSA_SHA256
        return SignatureMethod.RSA_SHA256
    if configured not in SIGNATURE_METHODS:
        raise ConfigError(f"{where}: signature_algorithm {configured!r} is not one of "
                          f"auto, {', '.join(SIGNATURE_METHODS)}")
    if configured.startswith("ecdsa") != is_ec:
        kind = "an EC" if is_ec else "an RSA"
        raise ConfigError(f"{where}: signature_algorithm {configured} does not fit {kind} key")
    return SIGNATURE_METHODS[configured]
