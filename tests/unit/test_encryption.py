"""XML Encryption 1.1 (gateway.crypto.encryption): round trips with real RSA and EC keys, and
everything a receiver must refuse (other recipient, tampered tag, CBC downgrade, PKCS#1 v1.5,
OAEP with SHA-1, algorithms not configured), each as one "cannot decrypt"."""
from __future__ import annotations

import base64
import io
import os
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from gateway.crypto import devca
from gateway.crypto import encryption as enc
from gateway.errors import ConfigError, DecryptionError, MessageError

NOW = datetime.now(timezone.utc)
DOC = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Antrag xmlns="urn:xoev:test"><Name>Erika Mustermann</Name>'
       b'<Geburtsort>M\xc3\xbcnchen</Geburtsort></Antrag>')
ROUTING = {"root": "Antrag", "uuid": "6f1c", "type": "0100", "author": "ags:1", "reader": "ags:2"}
NS = enc._NS


@pytest.fixture(scope="module")
def ca():
    return devca.make_ca("CN=Test CA", now=NOW)


@pytest.fixture(scope="module", params=["rsa", "ec"])
def recipient(request, ca):
    ident = devca.make_identity(ca, f"CN=Recipient {request.param}", now=NOW, kind=request.param, encryption=True)
    return enc.DecryptionKey(ident.key, ident.cert, "test")


@pytest.fixture(scope="module")
def rsa_recipient(ca):
    ident = devca.make_identity(ca, "CN=RSA recipient", now=NOW, kind="rsa", encryption=True)
    return enc.DecryptionKey(ident.key, ident.cert, "test")


def refused(decryptor: enc.Decryptor, xml: bytes) -> str:
    with pytest.raises(DecryptionError) as caught:
        decryptor.decrypt(xml)
    assert str(caught.value) == "cannot decrypt"
    return caught.value.reason


def test_round_trip_hides_the_content_and_keeps_the_routing_facts(recipient):
    out = enc.encrypt(DOC, recipient.certificate, routing=ROUTING)
    assert b"Mustermann" not in out and b"M\xc3\xbcnchen" not in out
    root = etree.fromstring(out)
    assert enc.is_encrypted(root) and enc.routing(root) == ROUTING
    assert root.find("xenc:EncryptionMethod", NS).get("Algorithm") == enc.AES256_GCM
    method = root.find("ds:KeyInfo/xenc:EncryptedKey/xenc:EncryptionMethod", NS).get("Algorithm")
    assert method == (enc.RSA_OAEP_MGF1P if recipient.kind == "rsa-oaep" else enc.KW_AES256)
    plain = enc.Decryptor([recipient]).decrypt(out)
    assert plain == DOC.split(b"\n", 1)[1]


def test_two_encryptions_of_one_document_differ(rsa_recipient):
    assert enc.encrypt(DOC, rsa_recipient.certificate) != enc.encrypt(DOC, rsa_recipient.certificate)


def test_message_for_another_recipient_is_refused(ca, recipient):
    other = devca.make_identity(ca, "CN=Someone else", now=NOW, kind="rsa" if recipient.kind == "rsa-oaep" else "ec",
                                encryption=True)
    assert "not ours" in refused(enc.Decryptor([recipient]), enc.encrypt(DOC, other.cert))


def test_tampered_gcm_tag_or_ciphertext_is_refused(recipient):
    root = etree.fromstring(enc.encrypt(DOC, recipient.certificate))
    value = root.find("xenc:CipherData/xenc:CipherValue", NS)
    raw = bytearray(base64.b64decode(value.text))
    for position in (-1, 20):                      # the tag, then a ciphertext byte
        changed = bytearray(raw)
        changed[position] ^= 0x01
        value.text = base64.b64encode(bytes(changed)).decode()
        assert "GCM tag" in refused(enc.Decryptor([recipient]), etree.tostring(root))


def test_downgrade_to_cbc_is_refused(rsa_recipient):
    root = etree.fromstring(enc.encrypt(DOC, rsa_recipient.certificate))
    root.find("xenc:EncryptionMethod", NS).set("Algorithm", enc.XENC + "aes256-cbc")
    assert "aes256-cbc is not allowed" in refused(enc.Decryptor([rsa_recipient]), etree.tostring(root))


def test_rsa_pkcs1_v15_key_transport_is_refused(rsa_recipient):
    root = etree.fromstring(enc.encrypt(DOC, rsa_recipient.certificate))
    key = root.find("ds:KeyInfo/xenc:EncryptedKey", NS)
    method = key.find("xenc:EncryptionMethod", NS)
    method.set("Algorithm", enc.XENC + "rsa-1_5")
    method.remove(method[0])
    wrapped = rsa_recipient.certificate.public_key().encrypt(os.urandom(32), padding.PKCS1v15())
    key.find("xenc:CipherData/xenc:CipherValue", NS).text = base64.b64encode(wrapped).decode()
    assert "rsa-1_5 is not allowed" in refused(enc.Decryptor([rsa_recipient]), etree.tostring(root))


def test_oaep_with_sha1_digest_is_refused(rsa_recipient):
    root = etree.fromstring(enc.encrypt(DOC, rsa_recipient.certificate))
    key = root.find("ds:KeyInfo/xenc:EncryptedKey", NS)
    key.find("xenc:EncryptionMethod/ds:DigestMethod", NS).set("Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")
    wrapped = rsa_recipient.certificate.public_key().encrypt(os.urandom(32), padding.OAEP(
        padding.MGF1(hashes.SHA1()), hashes.SHA1(), None))
    key.find("xenc:CipherData/xenc:CipherValue", NS).text = base64.b64encode(wrapped).decode()
    assert "not SHA-256" in refused(enc.Decryptor([rsa_recipient]), etree.tostring(root))


def test_only_the_configured_algorithms_are_accepted(ca):
    ident = devca.make_identity(ca, "CN=EC", now=NOW, kind="ec", encryption=True)
    key = enc.DecryptionKey(ident.key, ident.cert, "test")
    only_rsa = enc.Decryptor([key], allowed=("aes256-gcm", "rsa-oaep"))
    assert "is not allowed" in refused(only_rsa, enc.encrypt(DOC, ident.cert))
    with pytest.raises(ConfigError, match="aes256-cbc"):
        enc.check_algorithms(["aes256-gcm", "rsa-oaep", "aes256-cbc"], "[keys] decryption_algorithms")
    with pytest.raises(ConfigError, match="needs aes256-gcm"):
        enc.check_algorithms(["rsa-oaep"], "[keys] decryption_algorithms")


def test_garbage_and_plain_documents_are_refused_alike(rsa_recipient):
    decryptor = enc.Decryptor([rsa_recipient])
    for doc in (b"not xml", DOC, b'<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/>'):
        refused(decryptor, doc)
    assert "no own decryption key" in refused(enc.Decryptor([]), enc.encrypt(DOC, rsa_recipient.certificate))


def test_what_decrypts_is_left_to_the_hardened_parser(rsa_recipient):
    """Decryption authenticates bytes; the verifier's hardened parser (no DTD, no entities)
    then refuses a bad document inside, as it would in clear."""
    from gateway import xml as hardened
    from gateway.errors import XmlSecurityError
    evil = b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
    plain = enc.Decryptor([rsa_recipient]).decrypt(enc.encrypt(evil, rsa_recipient.certificate))
    assert plain == evil
    with pytest.raises(XmlSecurityError):
        hardened.parse(plain)
    tiny = enc.Decryptor([rsa_recipient], limits=hardened.Limits(max_bytes=100))
    with pytest.raises(DecryptionError, match="cannot decrypt") as caught:   # the tree as the pipeline parsed it
        tiny.decrypt(etree.fromstring(enc.encrypt(DOC, rsa_recipient.certificate)))
    assert "size limit" in caught.value.reason


def test_newest_valid_certificate_is_used_during_a_rollover(ca):
    old = devca.make_identity(ca, "CN=old", now=NOW, kind="rsa", encryption=True,
                              not_before=NOW - timedelta(days=300)).cert
    new = devca.make_identity(ca, "CN=new", now=NOW, kind="rsa", encryption=True,
                              not_before=NOW - timedelta(days=1)).cert
    future = devca.make_identity(ca, "CN=future", now=NOW, kind="rsa", encryption=True,
                                 not_before=NOW + timedelta(days=10)).cert
    assert enc.newest_valid([old, future, new], NOW, "p") is new
    assert enc.newest_valid([old, future], NOW, "p") is old
    with pytest.raises(MessageError, match="no encryption certificate of p is valid"):
        enc.newest_valid([future], NOW, "p")


def test_small_rsa_and_other_curves_are_no_encryption_certificates():
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    with pytest.raises(ConfigError, match="too small"):
        enc.key_kind(rsa.generate_private_key(65537, 1024).public_key())
    with pytest.raises(ConfigError, match="P-256"):
        enc.key_kind(ec.generate_private_key(ec.SECP384R1()).public_key())


def test_streams_round_trip_and_refuse_a_changed_byte(tmp_path, monkeypatch):
    monkeypatch.setattr(enc, "CHUNK", 1000)           # many chunks on a small input
    data = os.urandom(10_500)
    key = os.urandom(32)
    sealed = tmp_path / "sealed.bin"
    with sealed.open("wb") as out:
        assert enc.encrypt_stream(io.BytesIO(data), out, key) == len(data)
    assert sealed.stat().st_size == len(data) + 12 + 16
    plain = io.BytesIO()
    assert enc.decrypt_stream(sealed, plain, key) == len(data)
    assert plain.getvalue() == data
    raw = bytearray(sealed.read_bytes())
    raw[5000] ^= 1
    sealed.write_bytes(bytes(raw))
    with pytest.raises(DecryptionError):
        enc.decrypt_stream(sealed, io.BytesIO(), key)
