"""Structural checks on a signed document before any cryptography runs.

XML-DSig lets a signature point anywhere; the gateway allows exactly one shape (W3C
"XML Signature Best Practices", sections 2.1-2.3): one enveloped `ds:Signature`, a direct
child of the root, whose single document reference covers the whole document (URI "" or
the root's Id), allowed algorithms and transforms only, ids unique in the document when
any reference goes by id. XAdES adds references to its SignedProperties and KeyInfo,
which must lie inside that signature.
Every refusal names the check that failed and where.
"""
from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from lxml import etree

from ..errors import SignatureError
from .algorithms import C14N_URIS, DIGESTS, SIGNATURE_METHODS, TRANSFORMS, refusal

DS = "{http://www.w3.org/2000/09/xmldsig#}"
XADES = "{http://uri.etsi.org/01903/v1.3.2#}"
ID_ATTRIBUTES = "//@*[local-name()='Id' or local-name()='ID' or local-name()='id']"
_ids = etree.XPath(ID_ATTRIBUTES)


@dataclass(frozen=True, slots=True)
class SignatureShape:
    """The one signature of a document, after the structural checks passed."""

    signature: etree._Element
    method: str                                 # SignatureMethod URI
    certificates: tuple[x509.Certificate, ...]  # signing certificate first, then intermediates
    document_reference: int                     # index of the reference covering the document
    references: int
    xades: bool


def inspect(root: etree._Element) -> SignatureShape:
    """Check the signature's place, algorithms, references and ids; raise SignatureError if off."""
    signature = _the_signature(root)
    signed_info = _one(signature, "SignedInfo")
    c14n = _one(signed_info, "CanonicalizationMethod").get("Algorithm", "")
    if c14n not in C14N_URIS:
        raise SignatureError(f"canonicalization {c14n or '(none)'} is not allowed (comments are never signed)",
                             code=SignatureError.UNSAFE_ALGORITHM)
    method = _one(signed_info, "SignatureMethod").get("Algorithm", "")
    reason = refusal(method, "signature method", SIGNATURE_METHODS)
    if reason:
        raise SignatureError(reason, code=SignatureError.UNSAFE_ALGORITHM)
    xades = signature.find(f"{DS}Object/{XADES}QualifyingProperties") is not None
    references = signed_info.findall(f"{DS}Reference")
    if any((ref.get("URI") or "").startswith("#") for ref in references):
        _unique_ids(root)   # id references must resolve to exactly one element (URI="" uses none)
    document = [i for i, ref in enumerate(references) if _check_reference(ref, root, signature, xades)]
    if not document:
        raise SignatureError("the signature does not cover the document (no reference to the root element)",
                             code=SignatureError.MALFORMED)
    if len(document) > 1:
        raise SignatureError(f"the signature references the document {len(document)} times; exactly once is "
                             "allowed", code=SignatureError.MALFORMED)
    return SignatureShape(signature, method, _certificates(signature), document[0], len(references), xades)


def _the_signature(root: etree._Element) -> etree._Element:
    if root.tag == f"{DS}Signature":
        raise SignatureError("the root element is a ds:Signature (enveloping); only enveloped signatures are "
                             "accepted", code=SignatureError.MALFORMED)
    found = list(root.iter(f"{DS}Signature"))
    if not found:
        raise SignatureError("no signature: the document carries no ds:Signature", code=SignatureError.NOT_SIGNED)
    if len(found) > 1:
        where = ", ".join(path_of(s) for s in found)
        raise SignatureError(f"{len(found)} signatures found ({where}); exactly one is allowed",
                             code=SignatureError.MALFORMED)
    signature = found[0]
    if signature.getparent() is not root:
        raise SignatureError(f"signature is at {path_of(signature)}, not directly under the root element",
                             code=SignatureError.MALFORMED)
    return signature


def _unique_ids(root: etree._Element) -> None:
    values = [str(v) for v in _ids(root)]
    if len(values) != len(set(values)):
        value, count = Counter(values).most_common(1)[0]
        raise SignatureError(f"duplicate id {value!r} ({count} elements): "
                             f"ids must be unique (signature wrapping attempt?)", code=SignatureError.MALFORMED)


def _check_reference(ref: etree._Element, root: etree._Element, signature: etree._Element, xades: bool) -> bool:
    """Check one Reference; True when it is the reference covering the whole document."""
    uri = ref.get("URI")
    digest = _one(ref, "DigestMethod").get("Algorithm", "")
    reason = refusal(digest, "digest method", DIGESTS)
    if reason:
        raise SignatureError(reason, code=SignatureError.UNSAFE_ALGORITHM)
    for transform in ref.iterfind(f"{DS}Transforms/{DS}Transform"):
        algorithm = transform.get("Algorithm", "")
        if algorithm not in TRANSFORMS:
            raise SignatureError(f"transform {algorithm or '(none)'} is not allowed in reference {uri!r}",
                                 code=SignatureError.UNSAFE_ALGORITHM)
    if uri is None or (uri and not uri.startswith("#")):
        raise SignatureError(f"reference URI {uri!r} is not allowed; only same-document references are",
                             code=SignatureError.MALFORMED)
    if uri == "" or _root_id(root) == uri[1:]:
        return True
    target = _by_id(root, uri[1:])
    if target is None:
        raise SignatureError(f"reference {uri} points at no element", code=SignatureError.MALFORMED)
    inside = any(a is signature for a in target.iterancestors())
    if xades and inside and target.tag in (f"{XADES}SignedProperties", f"{DS}KeyInfo"):
        return False
    raise SignatureError(f"reference {uri} points at {path_of(target)}, not at the whole document "
                         f"(only the root element may be signed)", code=SignatureError.MALFORMED)


def _root_id(root: etree._Element) -> str | None:
    for name in ("Id", "ID", "id", "{http://www.w3.org/XML/1998/namespace}id"):
        if root.get(name) is not None:
            return root.get(name)
    return None


def _by_id(root: etree._Element, value: str) -> etree._Element | None:
    hits = root.xpath("//*[@*[local-name()='Id' or local-name()='ID' or local-name()='id']=$v]", v=value)
    return hits[0] if hits else None


def _certificates(signature: etree._Element) -> tuple[x509.Certificate, ...]:
    nodes = signature.findall(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
    if not nodes:
        raise SignatureError("the signature carries no certificate (KeyInfo/X509Data/X509Certificate)",
                             code=SignatureError.MALFORMED)
    certs = []
    for node in nodes:
        try:
            certs.append(_load("".join((node.text or "").split())))
        except (ValueError, binascii.Error) as exc:
            raise SignatureError(f"X509Certificate in the signature is not a certificate ({exc})",
                                 code=SignatureError.MALFORMED) from None
    if len(certs) == 1:
        return (certs[0],)
    issuers = {c.issuer for c in certs}
    leaves = [c for c in certs if c.subject not in issuers]  # issues no other certificate given
    leaf = leaves[0] if leaves else certs[0]
    return (leaf, *(c for c in certs if c is not leaf))


@lru_cache(maxsize=256)
def _load(text: str) -> x509.Certificate:
    """Parse a base64 certificate; partners send the same few again and again (immutable objects)."""
    return x509.load_der_x509_certificate(base64.b64decode(text, validate=True))


def _one(parent: etree._Element, local: str) -> etree._Element:
    found = parent.findall(f"{DS}{local}")
    if len(found) != 1:
        raise SignatureError(f"malformed signature: expected one ds:{local} in {path_of(parent)}, found "
                             f"{len(found)}", code=SignatureError.MALFORMED)
    return found[0]


def path_of(element: etree._Element) -> str:
    """A readable path of an element: /Root/Child/ds:Signature (local names, 'ds:' for XML-DSig)."""
    parts = []
    for el in (element, *element.iterancestors()):
        part = ("ds:" if el.tag.startswith(DS) else "") + etree.QName(el).localname
        parent = el.getparent()
        same = parent.findall(el.tag) if parent is not None else [el]
        parts.append(f"{part}[{same.index(el) + 1}]" if len(same) > 1 else part)
    return "/" + "/".join(reversed(parts))
