"""XAdES-BES on top of signxml: SigningTime from the caller's clock, SigningCertificateV2.

signxml's XAdESSigner reads the wall clock for SigningTime and digests its extra references
(SignedProperties, KeyInfo) with the signer's canonicalization without naming it in the
Reference; a verifier then falls back to inclusive C14N (XML-DSig 1.1 section 4.4.3.3). We
pass the time in and write the exclusive C14N transform into those references, so other
implementations compute the same digests.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from lxml.etree import SubElement
from signxml.util import ds_tag
from signxml.xades import XAdESSigner

from ..errors import SignatureError

XADES_NS = "http://uri.etsi.org/01903/v1.3.2#"
SIGNING_TIME = f".//{{{XADES_NS}}}SigningTime"


class TimedXAdESSigner(XAdESSigner):
    """An XAdESSigner whose SigningTime is the `now` given to it, with explicit C14N transforms."""

    def __init__(self, signing_time: datetime, **signer_args):
        super().__init__(**signer_args)
        self.signing_time = signing_time

    def add_signing_time(self, signed_signature_properties, sig_root, signing_settings):
        """Write the caller's time (UTC, seconds) as xades:SigningTime."""
        node = SubElement(signed_signature_properties, f"{{{XADES_NS}}}SigningTime", nsmap=self.namespaces)
        node.text = self.signing_time.isoformat(timespec="seconds")

    def _add_reference_to_signed_info(self, sig_root, node_to_reference, **attrs):
        super()._add_reference_to_signed_info(sig_root, node_to_reference, **attrs)
        reference = self._find(sig_root, "SignedInfo").findall(ds_tag("Reference"))[-1]
        transforms = reference.makeelement(ds_tag("Transforms"), nsmap=self.namespaces)
        SubElement(transforms, ds_tag("Transform"), Algorithm=self.c14n_alg.value)
        reference.insert(0, transforms)


def signing_time(signed_properties, cert, now: datetime, skew: timedelta) -> datetime:
    """The verified SigningTime; refuses one in the future or outside the certificate's validity."""
    node = signed_properties.find(SIGNING_TIME)
    if node is None or not (node.text or "").strip():
        raise SignatureError("XAdES SignedProperties lack SigningTime", code=SignatureError.MALFORMED)
    text = node.text.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SignatureError(f"XAdES SigningTime {text!r} is not an xs:dateTime", code=SignatureError.MALFORMED) from None
    if when.tzinfo is None:
        raise SignatureError(f"XAdES SigningTime {text!r} has no time zone", code=SignatureError.MALFORMED)
    if when > now + skew:
        raise SignatureError(f"XAdES SigningTime {text} lies in the future (now {now:%Y-%m-%d %H:%M:%S} UTC)",
                             code=SignatureError.INVALID)
    if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        raise SignatureError(f"XAdES SigningTime {text} is outside the validity of the signing certificate "
                             f"({cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})",
                             code=SignatureError.EXPIRED)
    return when
