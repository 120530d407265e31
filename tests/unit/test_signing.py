"""Signing and verification: round trips, and every attack the verifier must refuse with a reason."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import CanonicalizationMethod, SignatureConstructionMethod

from gateway.crypto import devca
from gateway.crypto.keys import KeyRing, own_key
from gateway.crypto.signing import CANARY, Signer, Verifier, canary
from gateway.crypto.trust import PartnerTrust, TrustStore
from gateway.errors import ConfigError, SignatureError, XmlSecurityError

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DS = "{http://www.w3.org/2000/09/xmldsig#}"
PARTNER = "ags:09000009"
DOC = (b'<Nachricht xmlns="urn:xoev:test" Id="msg-1"><Kopf><Absender>ags:09000009</Absender></Kopf>'
       b'<Inhalt><Betrag>100</Betrag><Name>Erika Mustermann</Name></Inhalt></Nachricht>')


@pytest.fixture(scope="session")
def pki():
    """A partner CA with signing identities of several kinds (made once per session)."""
    ca = devca.make_ca("CN=Partner CA,O=Land", now=NOW)
    other_ca = devca.make_ca("CN=Other CA,O=Elsewhere", now=NOW)
    return SimpleNamespace(
        ca=ca,
        ecdsa=devca.make_identity(ca, "CN=Stadt A,O=Land", now=NOW),
        rsa=devca.make_identity(ca, "CN=Stadt A RSA,O=Land", now=NOW, kind="rsa"),
        other=devca.make_identity(ca, "CN=Stadt A (other key),O=Land", now=NOW),
        stranger=devca.make_identity(other_ca, "CN=Stadt A,O=Land", now=NOW),
        expired=devca.make_identity(ca, "CN=Stadt A old,O=Land", now=NOW, days=30,
                                    not_before=NOW - timedelta(days=60)),
    )


def signer_for(identity, **kwargs) -> Signer:
    return Signer(KeyRing([own_key(identity.key, identity.cert, identity.chain, **kwargs)]))


def verifier_for(*identities) -> Verifier:
    return Verifier(TrustStore({PARTNER: PartnerTrust.build(PARTNER, [i.cert for i in identities])}))


@pytest.fixture(scope="session")
def signed(pki) -> bytes:
    return signer_for(pki.ecdsa).sign(DOC, now=NOW)


def reject(verifier: Verifier, xml: bytes, fragment: str) -> str:
    with pytest.raises(SignatureError) as info:
        verifier.verify(xml, partner=PARTNER, now=NOW)
    assert fragment in str(info.value)
    return str(info.value)


def tree(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


# --- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, algorithm, expected", [
    ("ecdsa", "auto", "ecdsa-sha256"),
    ("rsa", "auto", "rsa-sha256"),
    ("rsa", "rsa-pss-sha256", "rsa-pss-sha256"),
    ("rsa", "rsa-sha512", "rsa-sha512"),
])
def test_signed_document_verifies_and_yields_the_content(pki, kind, algorithm, expected):
    identity = getattr(pki, kind)
    xml = signer_for(identity, algorithm=algorithm).sign(DOC, now=NOW)
    result = verifier_for(identity).verify(xml, partner=PARTNER, now=NOW)
    assert result.signature_method == expected
    assert result.signer.subject == identity.cert.subject.rfc4514_string()
    assert result.signer.partner == PARTNER and result.signer.via == "pinned certificate"
    assert result.tree.find(f".//{DS}Signature") is None
    assert etree.tostring(result.tree, method="c14n") == etree.tostring(tree(DOC), method="c14n")
    assert result.xml == etree.tostring(tree(DOC), method="c14n")


def test_signature_uses_exclusive_c14n_sha256_and_sits_at_the_root(signed):
    root = tree(signed)
    signature = root.find(f"{DS}Signature")
    assert signature is not None
    assert signature.find(f"{DS}SignedInfo/{DS}CanonicalizationMethod").get("Algorithm") == \
        CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0.value
    digests = {d.get("Algorithm") for d in root.iter(f"{DS}DigestMethod")}
    assert digests == {"http://www.w3.org/2001/04/xmlenc#sha256"}


def test_xades_bes_carries_signing_time_and_certificate(pki):
    xml = signer_for(pki.ecdsa).sign(DOC, now=NOW, xades=True)
    root = tree(xml)
    xades = "{http://uri.etsi.org/01903/v1.3.2#}"
    assert root.find(f".//{xades}SigningTime").text == NOW.isoformat(timespec="seconds")
    assert root.find(f".//{xades}SigningCertificateV2") is not None
    result = verifier_for(pki.ecdsa).verify(xml, partner=PARTNER, now=NOW)
    assert result.signing_time == NOW
    assert result.xml == etree.tostring(tree(DOC), method="c14n")


def test_xades_for_configured_partners_only(pki):
    identity = pki.ecdsa
    signer = Signer(KeyRing([own_key(identity.key, identity.cert)]), xades_partners=("psw:1",))
    assert b"QualifyingProperties" in signer.sign(DOC, now=NOW, partner="psw:1")
    assert b"QualifyingProperties" not in signer.sign(DOC, now=NOW, partner="ags:2")


def test_xades_signing_time_in_the_future_is_refused(pki):
    xml = signer_for(pki.ecdsa).sign(DOC, now=NOW + timedelta(hours=1), xades=True)
    reject(verifier_for(pki.ecdsa), xml, "lies in the future")


def test_xades_signed_properties_changed_after_signing(pki):
    xml = signer_for(pki.ecdsa).sign(DOC, now=NOW, xades=True)
    earlier = (NOW - timedelta(minutes=1)).isoformat(timespec="seconds")
    forged = xml.replace(NOW.isoformat(timespec="seconds").encode(), earlier.encode())
    reject(verifier_for(pki.ecdsa), forged, "signed properties")


def test_already_signed_documents_are_not_signed_again(pki, signed):
    with pytest.raises(SignatureError, match="already signed"):
        signer_for(pki.ecdsa).sign(signed, now=NOW)


# --- content and key attacks ------------------------------------------------------------------------

def test_tampered_content(pki, signed):
    reject(verifier_for(pki.ecdsa), signed.replace(b"<Betrag>100<", b"<Betrag>900<"),
           "digest mismatch: content was changed after signing")


def test_tampered_signed_info(pki, signed):
    root = tree(signed)
    digest = root.find(f".//{DS}DigestValue")
    digest.text = "A" + digest.text[1:]
    reject(verifier_for(pki.ecdsa), etree.tostring(root), "signature value does not verify")


def test_wrong_key_for_the_certificate(pki):
    """Signed with one key but carrying the (trusted) certificate of another."""
    root = XMLSigner(signature_algorithm="ecdsa-sha256", c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0) \
        .sign(tree(DOC), key=pki.other.key, cert=[pki.ecdsa.cert])
    reject(verifier_for(pki.ecdsa), etree.tostring(root), "signature value does not verify with the certificate of CN=Stadt A")


def test_untrusted_certificate(pki):
    xml = signer_for(pki.stranger).sign(DOC, now=NOW)
    reason = reject(verifier_for(pki.ecdsa), xml, f"not trusted for partner {PARTNER}")
    assert "signed by CN=Stadt A,O=Land" in reason


def test_expired_certificate(pki):
    xml = signer_for(pki.expired).sign(DOC, now=NOW - timedelta(days=40))
    expiry = pki.expired.cert.not_valid_after_utc
    reject(verifier_for(pki.expired), xml, f"expired on {expiry:%Y-%m-%d}")


def test_unknown_partner(pki, signed):
    with pytest.raises(SignatureError, match="unknown partner ags:1"):
        verifier_for(pki.ecdsa).verify(signed, partner="ags:1", now=NOW)


def test_rollover_partner_trusts_old_and_new_certificate(pki, signed):
    verifier = verifier_for(pki.other, pki.ecdsa)
    assert verifier.verify(signed, partner=PARTNER, now=NOW).signer.subject == "CN=Stadt A,O=Land"
    other = signer_for(pki.other).sign(DOC, now=NOW)
    assert verifier.verify(other, partner=PARTNER, now=NOW).signer.subject == "CN=Stadt A (other key),O=Land"


# --- algorithms -----------------------------------------------------------------------------------

class _Sha1Signer(XMLSigner):
    """signxml refuses SHA-1 by default; an attacker's tool would not."""

    def check_deprecated_methods(self):
        return None


@pytest.mark.parametrize("signature_algorithm, digest_algorithm, fragment", [
    ("rsa-sha1", "sha256", "SHA-1 is not allowed (signature method http://www.w3.org/2000/09/xmldsig#rsa-sha1)"),
    ("rsa-sha256", "sha1", "SHA-1 is not allowed (digest method http://www.w3.org/2000/09/xmldsig#sha1)"),
    ("rsa-sha224", "sha256", "signature method http://www.w3.org/2001/04/xmldsig-more#rsa-sha224 is not allowed"),
])
def test_weak_algorithms_are_refused(pki, signature_algorithm, digest_algorithm, fragment):
    root = _Sha1Signer(signature_algorithm=signature_algorithm, digest_algorithm=digest_algorithm,
                       c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0) \
        .sign(tree(DOC), key=pki.rsa.key, cert=[pki.rsa.cert])
    reject(verifier_for(pki.rsa), etree.tostring(root), fragment)


def test_canonicalization_with_comments_is_refused(pki):
    root = XMLSigner(signature_algorithm="rsa-sha256",
                     c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0_WITH_COMMENTS) \
        .sign(tree(DOC), key=pki.rsa.key, cert=[pki.rsa.cert])
    reject(verifier_for(pki.rsa), etree.tostring(root), "canonicalization")


# --- structure and wrapping ---------------------------------------------------------------------

def test_missing_signature(pki):
    reject(verifier_for(pki.ecdsa), DOC, "no signature")


def test_two_signatures(pki, signed):
    root = tree(signed)
    root.append(copy.deepcopy(root.find(f"{DS}Signature")))
    reject(verifier_for(pki.ecdsa), etree.tostring(root),
           "2 signatures found (/Nachricht/ds:Signature[1], /Nachricht/ds:Signature[2]); exactly one")


def test_signature_not_at_the_root(pki, signed):
    root = tree(signed)
    root.find("{urn:xoev:test}Inhalt").append(root.find(f"{DS}Signature"))
    reject(verifier_for(pki.ecdsa), etree.tostring(root), "signature is at /Nachricht/Inhalt/ds:Signature, not directly under the root")


def test_moved_signed_element_inside_a_new_root(pki, signed):
    """Classic wrapping: the signed message becomes a child of an attacker's root."""
    wrapper = etree.Element("{urn:xoev:test}Nachricht")
    etree.SubElement(wrapper, "{urn:xoev:test}Inhalt").text = "forged"
    wrapper.append(tree(signed))
    reject(verifier_for(pki.ecdsa), etree.tostring(wrapper), "not directly under the root")


def test_duplicate_ids_forged_root_with_the_signed_original_hidden_in_the_signature(pki, signed):
    original = tree(signed)
    forged = tree(DOC.replace(b"<Betrag>100<", b"<Betrag>900<"))
    signature = original.find(f"{DS}Signature")
    forged.append(signature)
    obj = etree.SubElement(signature, f"{DS}Object")
    obj.append(original)                      # the genuine signed element, same Id="msg-1"
    reject(verifier_for(pki.ecdsa), etree.tostring(forged), "duplicate id 'msg-1'")


def test_injected_unsigned_sibling(pki, signed):
    root = tree(signed)
    injected = etree.Element("{urn:xoev:test}Inhalt")
    etree.SubElement(injected, "{urn:xoev:test}Betrag").text = "900"
    root.insert(1, injected)
    reject(verifier_for(pki.ecdsa), etree.tostring(root), "digest mismatch")


def test_injected_copy_of_the_payload_inside_the_signature_is_never_read(pki, signed):
    """Unsigned content inside ds:Signature passes the enveloped transform untouched; the
    gateway must read the signed payload, not the injected copy."""
    root = tree(signed)
    evil = etree.SubElement(root.find(f"{DS}Signature"), f"{DS}Object")
    copy_ = etree.SubElement(evil, "{urn:xoev:test}Inhalt")
    etree.SubElement(copy_, "{urn:xoev:test}Betrag").text = "900"
    root.append(etree.Comment(" <Betrag>900</Betrag> "))   # comments are never signed either
    result = verifier_for(pki.ecdsa).verify(etree.tostring(root), partner=PARTNER, now=NOW)
    amounts = [e.text for e in result.tree.iter("{urn:xoev:test}Betrag")]
    assert amounts == ["100"]
    assert b"<Betrag>900" not in result.xml
    assert not any(isinstance(n, etree._Comment) for n in result.tree.iter())


def test_reference_to_a_part_of_the_document_is_refused(pki):
    doc = tree(DOC.replace(b"<Inhalt>", b'<Inhalt Id="part">'))
    root = XMLSigner(signature_algorithm="ecdsa-sha256",
                     c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0) \
        .sign(doc, key=pki.ecdsa.key, cert=[pki.ecdsa.cert], reference_uri="#part")
    reject(verifier_for(pki.ecdsa), etree.tostring(root), "reference #part points at /Nachricht/Inhalt, not at the whole document")


def test_enveloping_signature_is_refused(pki):
    root = XMLSigner(method=SignatureConstructionMethod.enveloping, signature_algorithm="ecdsa-sha256") \
        .sign(tree(DOC), key=pki.ecdsa.key, cert=[pki.ecdsa.cert])
    reject(verifier_for(pki.ecdsa), etree.tostring(root), "only enveloped signatures")


def test_signature_without_certificate(pki, signed):
    root = tree(signed)
    key_info = root.find(f".//{DS}KeyInfo")
    key_info.getparent().remove(key_info)
    reject(verifier_for(pki.ecdsa), etree.tostring(root), "carries no certificate")


@pytest.mark.parametrize("prefix", [
    b'<!DOCTYPE Nachricht [<!ENTITY x "900">]>',
    b'<!DOCTYPE Nachricht SYSTEM "http://127.0.0.1:1/evil.dtd">',
])
def test_dtd_and_entity_payloads_are_refused_by_the_parser(pki, signed, prefix):
    xml = signed.replace(b"<?xml version='1.0' encoding='UTF-8'?>\n", b"") 
    with pytest.raises(XmlSecurityError):
        verifier_for(pki.ecdsa).verify(prefix + xml, partner=PARTNER, now=NOW)
    with pytest.raises(XmlSecurityError):
        signer_for(pki.ecdsa).sign(prefix + DOC.replace(b"100", b"&x;"), now=NOW)


# --- own keys and the start-up canary ---------------------------------------------------------------

def test_signs_with_the_newest_valid_key(pki):
    old = own_key(pki.other.key, pki.other.cert)
    new = own_key(pki.ecdsa.key, pki.ecdsa.cert, valid_from=NOW + timedelta(days=10))
    signer = Signer(KeyRing([new, old]))
    verifier = verifier_for(pki.other, pki.ecdsa)
    before = verifier.verify(signer.sign(DOC, now=NOW), partner=PARTNER, now=NOW)
    after = verifier.verify(signer.sign(DOC, now=NOW + timedelta(days=11)), partner=PARTNER,
                            now=NOW + timedelta(days=11))
    assert before.signer.subject == "CN=Stadt A (other key),O=Land"
    assert after.signer.subject == "CN=Stadt A,O=Land"


def test_canary_signs_and_verifies(pki):
    result = canary(Signer(KeyRing([own_key(pki.rsa.key, pki.rsa.cert)]), xades=True), now=NOW)
    assert result.signer.subject == "CN=Stadt A RSA,O=Land"
    assert etree.tostring(result.tree, method="c14n") == etree.tostring(tree(CANARY), method="c14n")


def test_canary_fails_without_a_valid_key(pki):
    signer = signer_for(pki.expired)
    with pytest.raises(ConfigError, match="no own signing key is valid"):
        canary(signer, now=NOW)


@pytest.mark.parametrize("old, new, fragment", [
    (b'Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>',
     b'Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/></ds:Transforms>',
     "transform http://www.w3.org/TR/1999/REC-xslt-19991116 is not allowed"),
    (b'URI="#msg-1"', b'URI="http://127.0.0.1:1/payload.xml"', "only same-document references"),
    (b'URI="#msg-1"', b'URI="#nowhere"', "reference #nowhere points at no element"),
])
def test_foreign_transforms_and_references_are_refused(pki, signed, old, new, fragment):
    assert old in signed
    reject(verifier_for(pki.ecdsa), signed.replace(old, new, 1), fragment)


@pytest.mark.parametrize("mangle", [
    lambda sig: setattr(sig.find(f"{DS}SignatureValue"), "text", None),
    lambda sig: setattr(sig.find(f"{DS}SignatureValue"), "text", "not base64!"),
    lambda sig: sig.find(f".//{DS}DigestValue").getparent().remove(sig.find(f".//{DS}DigestValue")),
    lambda sig: sig.find(f"{DS}SignedInfo/{DS}SignatureMethod").attrib.pop("Algorithm"),
])
def test_malformed_signatures_are_refused_not_crashed_on(pki, signed, mangle):
    root = tree(signed)
    mangle(root.find(f"{DS}Signature"))
    with pytest.raises(SignatureError):
        verifier_for(pki.ecdsa).verify(etree.tostring(root), partner=PARTNER, now=NOW)


def test_signxml_never_builds_its_own_chain_or_consults_system_cas(pki, signed, monkeypatch):
    """Trust is decided by the TrustStore; signxml only checks the math with that certificate."""
    import signxml.verifier

    def forbidden(*args, **kwargs):
        raise AssertionError("signxml tried to build a certificate chain (certifi / system CAs)")

    monkeypatch.setattr(signxml.verifier.XMLVerifier, "get_cert_chain_verifier", forbidden)
    result = verifier_for(pki.ecdsa).verify(signed, partner=PARTNER, now=NOW)
    assert result.signer.fingerprint == pki.ecdsa.cert.fingerprint(devca.hashes.SHA256()).hex()
