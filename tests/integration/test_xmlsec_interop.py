"""Interop with xmlsec1, an independent XML-DSig implementation (RSA and ECDSA, both ways)."""
from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from lxml import etree

from gateway.crypto import devca
from gateway.crypto.crl import Authority
from gateway.crypto.keys import KeyRing, own_key
from gateway.crypto.signing import Signer, Verifier
from gateway.crypto.trust import PartnerTrust, TrustStore
from gateway.errors import SignatureError

NOW = datetime.now(timezone.utc).replace(microsecond=0)
PID = "ags:09000009"
DOC = (b'<Nachricht xmlns="urn:xoev:test"><Kopf><Absender>ags:09000009</Absender></Kopf>'
       b'<Inhalt><Betrag>100</Betrag><Name>J\xc3\xbcrgen M\xc3\xbcller</Name></Inhalt></Nachricht>')
XADES_IDS = ["--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
             "--id-attr:Id", "http://www.w3.org/2000/09/xmldsig#:KeyInfo",
             "--id-attr:Id", "urn:xoev:test:Nachricht"]
TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<Nachricht xmlns="urn:xoev:test"><Kopf><Absender>ags:09000009</Absender></Kopf><Inhalt><Betrag>100</Betrag><Name>J\u00fcrgen M\u00fcller</Name></Inhalt><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
<ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<ds:SignatureMethod Algorithm="{method}"/>
<ds:Reference URI="">
<ds:Transforms>
<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
</ds:Transforms>
<ds:DigestMethod Algorithm="{digest}"/>
<ds:DigestValue/>
</ds:Reference>
</ds:SignedInfo>
<ds:SignatureValue/>
<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>
</ds:Signature></Nachricht>
"""
METHODS = {
    "ecdsa": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "rsa": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "rsa-sha1": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
}
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A partner CA with an ECDSA and an RSA signer, also written as PEM files for xmlsec1."""
    folder = tmp_path_factory.mktemp("pki")
    ca = devca.make_ca("CN=Interop CA,O=Test", now=NOW)
    (folder / "ca.pem").write_bytes(devca.cert_pem(ca.cert))
    signers = {}
    for kind in ("ecdsa", "rsa"):
        identity = devca.make_identity(ca, f"CN=Interop {kind},O=Test", now=NOW, kind=kind)
        (folder / f"{kind}.key.pem").write_bytes(devca.key_pem(identity.key))
        (folder / f"{kind}.cert.pem").write_bytes(devca.cert_pem(identity.cert))
        signers[kind] = identity
    trust = TrustStore({PID: PartnerTrust.build(PID, cas=[Authority(ca.cert)],
                                                subject=None)})
    return SimpleNamespace(folder=folder, ca=ca, signers=signers, verifier=Verifier(trust))


def run(xmlsec1: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([xmlsec1, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("kind", ["ecdsa", "rsa"])
@pytest.mark.parametrize("xades", [False, True], ids=["xmldsig", "xades"])
@pytest.mark.parametrize("doc", [DOC, DOC.replace(b'test">', b'test" Id="msg-7">', 1)], ids=["uri-empty", "uri-id"])
def test_our_signatures_verify_with_xmlsec1(xmlsec1, pki, tmp_path, kind, xades, doc):
    identity = pki.signers[kind]
    signed = Signer(KeyRing([own_key(identity.key, identity.cert)])).sign(doc, now=NOW, xades=xades)
    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    ok = run(xmlsec1, "--verify", "--trusted-pem", str(pki.folder / "ca.pem"), *XADES_IDS, str(path))
    assert ok.returncode == 0, ok.stderr
    assert f"SignedInfo References (ok/all): {3 if xades else 1}/{3 if xades else 1}" in ok.stderr
    path.write_bytes(signed.replace(b">100<", b">900<"))
    tampered = run(xmlsec1, "--verify", "--trusted-pem", str(pki.folder / "ca.pem"), *XADES_IDS, str(path))
    assert tampered.returncode != 0


def _xmlsec1_sign(xmlsec1: str, pki, tmp_path: Path, kind: str, method: str, digest: str) -> bytes:
    template = tmp_path / "template.xml"
    template.write_text(TEMPLATE.format(method=method, digest=digest), encoding="utf-8")
    out = tmp_path / "by-xmlsec1.xml"
    key = f"{pki.folder / f'{kind}.key.pem'},{pki.folder / f'{kind}.cert.pem'}"
    done = run(xmlsec1, "--sign", "--privkey-pem", key, "--output", str(out), str(template))
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


@pytest.mark.parametrize("kind", ["ecdsa", "rsa"])
def test_xmlsec1_signatures_verify_in_the_gateway(xmlsec1, pki, tmp_path, kind):
    signed = _xmlsec1_sign(xmlsec1, pki, tmp_path, kind, METHODS[kind], SHA256)
    result = pki.verifier.verify(signed, partner=PID, now=NOW)
    assert result.signer.subject == f"CN=Interop {kind},O=Test"
    assert result.signer.via == "CA CN=Interop CA,O=Test"
    assert result.signature_method == f"{kind}-sha256"
    assert etree.tostring(result.tree, method="c14n") == etree.tostring(etree.fromstring(DOC), method="c14n")
    with pytest.raises(SignatureError, match="digest mismatch: content was changed after signing"):
        pki.verifier.verify(signed.replace(b">100<", b">900<"), partner=PID, now=NOW)


@pytest.mark.parametrize("method, digest", [(METHODS["rsa-sha1"], SHA256), (METHODS["rsa"], SHA1)],
                         ids=["sha1-signature", "sha1-digest"])
def test_xmlsec1_sha1_signatures_are_refused(xmlsec1, pki, tmp_path, method, digest):
    signed = _xmlsec1_sign(xmlsec1, pki, tmp_path, "rsa", method, digest)
    with pytest.raises(SignatureError, match="SHA-1 is not allowed"):
        pki.verifier.verify(signed, partner=PID, now=NOW)
