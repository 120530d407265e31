"""Signature refusals carry a machine-readable `code`, set where they are raised (dsig, signing,
trust, crl, xades); one table (gateway.exchange.receipts.SIGNATURE_FEEDBACK) turns it into the
receipt feedback code. Each code is produced here by the real verifier, not by hand."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway.crypto import devca
from gateway.crypto.crl import authorities
from gateway.crypto.keys import KeyRing, own_key
from gateway.crypto.signing import Signer, Verifier
from gateway.crypto.trust import PartnerTrust, TrustStore
from gateway.errors import SignatureError
from gateway.exchange import receipts as rc

NOW = datetime.now(timezone.utc).replace(microsecond=0)
PARTNER = "ags:09000009"
SUBJECT = "CN=Stadt A,O=Land"
DOC = b'<Nachricht xmlns="urn:xoev:test"><Kopf>ags:09000009</Kopf><Inhalt>100</Inhalt></Nachricht>'
CODELIST = Path(__file__).resolve().parents[2] / "xsd" / "codelists" / "rueckmeldung.gc"
SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"


@pytest.fixture(scope="session")
def pki():
    """A partner CA and signing certificates in every state that matters for a code."""
    ca = devca.make_ca("CN=Partner CA,O=Land", now=NOW)
    revoked = devca.make_identity(ca, SUBJECT, now=NOW)
    return SimpleNamespace(
        ca=ca, revoked=revoked,
        good=devca.make_identity(ca, SUBJECT, now=NOW),
        stranger=devca.make_identity(devca.make_ca("CN=Other CA,O=Land", now=NOW), SUBJECT, now=NOW),
        expired=devca.make_identity(ca, SUBJECT, now=NOW, days=10, not_before=NOW - timedelta(days=20)),
        future=devca.make_identity(ca, SUBJECT, now=NOW, not_before=NOW + timedelta(days=3)),
        crl=devca.make_crl(ca.key, ca.cert, {revoked.cert.serial_number: NOW - timedelta(days=1)}, now=NOW),
        stale_crl=devca.make_crl(ca.key, ca.cert, {}, now=NOW - timedelta(days=30),
                                 next_update=NOW - timedelta(days=1)),
    )


def sign(identity, at: datetime = NOW, xml: bytes = DOC) -> bytes:
    return Signer(KeyRing([own_key(identity.key, identity.cert, identity.chain)])).sign(xml, now=at)


def via_ca(pki, crl=None) -> Verifier:
    cas = authorities([pki.ca.cert], [("crl", crl)] if crl is not None else [], "test")
    trust = PartnerTrust.build(PARTNER, cas=cas, subject=devca.name(SUBJECT))
    return Verifier(TrustStore({PARTNER: trust}))


def refusal(verifier: Verifier, xml: bytes) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        verifier.verify(xml, partner=PARTNER, now=NOW)
    return info.value


def test_every_code_maps_to_a_feedback_code_of_the_code_list():
    listed = set(re.findall(r"<SimpleValue>(\d{4})</SimpleValue>", CODELIST.read_text(encoding="utf-8")))
    assert set(rc.SIGNATURE_FEEDBACK) == SignatureError.CODES
    assert set(rc.SIGNATURE_FEEDBACK.values()) <= listed


def test_an_unknown_code_is_refused_when_raised():
    with pytest.raises(ValueError, match="unknown SignatureError code"):
        SignatureError("x", code="bad-signature-ish")
    assert SignatureError("x").code == SignatureError.INVALID


@pytest.mark.parametrize("case, code, feedback", [
    ("unsigned", SignatureError.NOT_SIGNED, rc.NOT_SIGNED),
    ("two signatures", SignatureError.MALFORMED, rc.SIGNATURE_INVALID),
    ("sha1", SignatureError.UNSAFE_ALGORITHM, rc.SIGNATURE_INVALID),
    ("tampered", SignatureError.INVALID, rc.SIGNATURE_INVALID),
    ("stranger", SignatureError.UNTRUSTED, rc.SIGNER_UNTRUSTED),
    ("expired", SignatureError.EXPIRED, rc.SIGNER_UNTRUSTED),
    ("not yet valid", SignatureError.NOT_YET_VALID, rc.SIGNER_UNTRUSTED),
    ("revoked", SignatureError.REVOKED, rc.SIGNER_UNTRUSTED),
    ("stale crl", SignatureError.REVOCATION_UNKNOWN, rc.SIGNER_UNTRUSTED),
])
def test_each_refusal_carries_its_code_and_maps_to_one_feedback_code(pki, case, code, feedback):
    good = sign(pki.good)
    xml, verifier = {
        "unsigned": (DOC, via_ca(pki)),
        "two signatures": (sign(pki.good, xml=DOC.replace(b"</Nachricht>", b"<Sig/></Nachricht>"))
                           .replace(b"<Sig/>", good[good.index(b"<ds:Signature"):good.index(b"</ds:Signature>") + 15]),
                           via_ca(pki)),
        "sha1": (re.sub(rb'(SignatureMethod Algorithm=")[^"]+', rb"\g<1>" + SHA1.encode(), good), via_ca(pki)),
        "tampered": (good.replace(b">100<", b">900<"), via_ca(pki)),
        "stranger": (sign(pki.stranger), via_ca(pki)),
        "expired": (sign(pki.expired, NOW - timedelta(days=15)), via_ca(pki)),
        "not yet valid": (sign(pki.future, NOW + timedelta(days=5)), via_ca(pki)),
        "revoked": (sign(pki.revoked), via_ca(pki, pki.crl)),
        "stale crl": (good, via_ca(pki, pki.stale_crl)),
    }[case]
    error = refusal(verifier, xml)
    assert error.code == code, str(error)
    assert rc.signature_feedback(error) == feedback


def test_our_own_signing_failure_is_not_a_partner_problem(pki):
    with pytest.raises(SignatureError) as info:
        Signer(KeyRing([own_key(pki.good.key, pki.good.cert, pki.good.chain)])).sign(sign(pki.good), now=NOW)
    assert info.value.code == SignatureError.SIGNING_FAILED
    assert rc.signature_feedback(info.value) == rc.TECHNICAL
