"""Interop of our XML Encryption 1.1 with libxmlsec1, an independent implementation.

Two ways of reaching it: the `xmlsec` Python bindings (their wheel carries libxmlsec1 1.3,
which knows RSA-OAEP with a SHA-256 digest) decrypt what we encrypt and encrypt what we
decrypt; the `xmlsec1` command line tool does the same where its version can (1.3 and later:
Debian 12 ships 1.2.37, whose RSA-OAEP knows only SHA-1 and which has no ECDH-ES). Against
any xmlsec1, what it makes with SHA-1 OAEP or AES-CBC is refused by us: not configured.
"""
from __future__ import annotations

import re
import subprocess
from datetime import datetime, timezone

import pytest
from lxml import etree

from gateway.crypto import devca
from gateway.crypto import encryption as enc
from gateway.errors import DecryptionError
from tests.conftest import need

NOW = datetime.now(timezone.utc)
DOC = (b'<Nachricht xmlns="urn:xoev:test"><Inhalt><Name>J\xc3\xbcrgen M\xc3\xbcller</Name>'
       b'<Betrag>100</Betrag></Inhalt></Nachricht>')
TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Type="http://www.w3.org/2001/04/xmlenc#Element">
<xenc:EncryptionMethod Algorithm="{content}"/>
<ds:KeyInfo><xenc:EncryptedKey>
<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p">{digest}</xenc:EncryptionMethod>
<xenc:CipherData><xenc:CipherValue/></xenc:CipherData>
</xenc:EncryptedKey></ds:KeyInfo>
<xenc:CipherData><xenc:CipherValue/></xenc:CipherData>
</xenc:EncryptedData>
"""
SHA256_DIGEST = '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interop")
    ca = devca.make_ca("CN=Interop CA", now=NOW)
    ident = devca.make_identity(ca, "CN=Interop recipient", now=NOW, kind="rsa", encryption=True)
    (folder / "key.pem").write_bytes(devca.key_pem(ident.key))
    (folder / "cert.pem").write_bytes(devca.cert_pem(ident.cert))
    (folder / "doc.xml").write_bytes(DOC)
    return folder, enc.DecryptionKey(ident.key, ident.cert, "interop")


@pytest.fixture(scope="module")
def xmlsec_module():
    try:
        import xmlsec
    except Exception as exc:  # an ImportError, or the bindings' libxml2 differs from lxml's
        need(False, f"the xmlsec Python bindings cannot be used with this lxml ({exc})")
    return xmlsec


def c14n(el) -> bytes:
    return etree.tostring(el, method="c14n")


def _xmlsec1_version(xmlsec1: str) -> tuple[int, ...]:
    out = subprocess.run([xmlsec1, "--version"], capture_output=True, text=True, check=True).stdout
    return tuple(int(x) for x in re.search(r"(\d+)\.(\d+)\.(\d+)", out).groups())


def test_libxmlsec1_decrypts_what_we_encrypt(rsa_key, xmlsec_module):
    folder, key = rsa_key
    manager = xmlsec_module.KeysManager()
    manager.add_key(xmlsec_module.Key.from_file(str(folder / "key.pem"), xmlsec_module.KeyFormat.PEM))
    ours = etree.fromstring(enc.encrypt(DOC, key.certificate, routing={"uuid": "1"}))
    plain = xmlsec_module.EncryptionContext(manager).decrypt(ours)
    assert c14n(plain) == c14n(etree.fromstring(DOC))


def test_we_decrypt_what_libxmlsec1_encrypts(rsa_key, xmlsec_module):
    folder, key = rsa_key
    manager = xmlsec_module.KeysManager()
    manager.add_key(xmlsec_module.Key.from_file(str(folder / "cert.pem"), xmlsec_module.KeyFormat.CERT_PEM))
    template = etree.fromstring(TEMPLATE.format(content=enc.AES256_GCM, digest=SHA256_DIGEST).encode())
    ctx = xmlsec_module.EncryptionContext(manager)
    ctx.key = xmlsec_module.Key.generate(xmlsec_module.KeyData.AES, 256, xmlsec_module.KeyDataType.SESSION)
    theirs = etree.tostring(ctx.encrypt_xml(template, etree.fromstring(DOC)))
    assert "Müller".encode() not in theirs
    assert enc.Decryptor([key]).decrypt(theirs) == DOC


def test_xmlsec1_decrypts_what_we_encrypt(rsa_key, xmlsec1):
    """xmlsec1 1.3+ decrypts ours. Older xmlsec1 (Debian 12 ships 1.2.37) knows RSA-OAEP only
    with SHA-1 and must fail on our SHA-256 OAEP rather than decrypt something else; the
    two-way interop is then proven by the libxmlsec1 1.3 bindings above."""
    folder, key = rsa_key
    (folder / "ours.xml").write_bytes(enc.encrypt(DOC, key.certificate))
    done = subprocess.run([xmlsec1, "--decrypt", "--privkey-pem", str(folder / "key.pem"), str(folder / "ours.xml")],
                          capture_output=True, timeout=60)
    if _xmlsec1_version(xmlsec1) < (1, 3, 0):
        assert done.returncode != 0 and b"sha256" in done.stderr.lower(), done.stderr.decode()
        return
    assert done.returncode == 0, done.stderr.decode()
    assert c14n(etree.fromstring(done.stdout)) == c14n(etree.fromstring(DOC))


@pytest.mark.parametrize("content,digest,allowed", [
    (enc.AES256_GCM, SHA256_DIGEST, True),                            # ours: accepted (xmlsec1 >= 1.3)
    (enc.AES256_GCM, "", False),                                      # OAEP with SHA-1: refused
    ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", SHA256_DIGEST, False),  # CBC: refused
    ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "", False),
])
def test_what_xmlsec1_encrypts_is_decrypted_or_refused(rsa_key, xmlsec1, content, digest, allowed):
    folder, key = rsa_key
    template = folder / "template.xml"
    template.write_text(TEMPLATE.format(content=content, digest=digest))
    done = subprocess.run([xmlsec1, "--encrypt", "--pubkey-cert-pem", str(folder / "cert.pem"),
                           "--session-key", "aes-256", "--xml-data", str(folder / "doc.xml"), str(template)],
                          capture_output=True, timeout=60)
    if digest and _xmlsec1_version(xmlsec1) < (1, 3, 0):
        # xmlsec1 < 1.3 cannot make RSA-OAEP with SHA-256 at all: it must say so, not fall back
        assert done.returncode != 0 and b"sha256" in done.stderr.lower(), done.stderr.decode()
        return
    assert done.returncode == 0, done.stderr.decode()
    assert "Müller".encode() not in done.stdout
    if allowed:
        assert enc.Decryptor([key]).decrypt(done.stdout) == DOC
    else:
        with pytest.raises(DecryptionError, match="cannot decrypt") as refused:
            enc.Decryptor([key]).decrypt(done.stdout)
        assert "not allowed" in refused.value.reason or "not SHA-256" in refused.value.reason
