"""Own keys: PEM and PKCS#12 with passwords from env/file, validity windows, dev keys."""
from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from gateway import config
from gateway.crypto import devca
from gateway.crypto.keys import KeyRing, own_key
from gateway.crypto.signing import Signer, canary
from gateway.errors import ConfigError

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="session")
def pki():
    ca = devca.make_ca("CN=Own CA", now=NOW)
    return SimpleNamespace(
        ca=ca,
        ecdsa=devca.make_identity(ca, "CN=Gateway 2026", now=NOW),
        rsa=devca.make_identity(ca, "CN=Gateway RSA", now=NOW, kind="rsa"),
        next=devca.make_identity(ca, "CN=Gateway 2027", now=NOW, days=400),
    )


def load(tmp_path, keys: dict, environ=None) -> KeyRing:
    cfg = config.from_dict({"keys": keys}, base_dir=tmp_path, environ=environ or {})
    return KeyRing.from_config(cfg)


def test_newest_valid_key_signs_and_windows_are_respected(pki):
    old = own_key(pki.ecdsa.key, pki.ecdsa.cert, valid_until=NOW + timedelta(days=20))
    new = own_key(pki.next.key, pki.next.cert, valid_from=NOW + timedelta(days=10))
    ring = KeyRing([new, old])
    assert ring.current(NOW) is old
    assert ring.current(NOW + timedelta(days=10)) is new      # overlap: the newer one wins
    assert ring.current(NOW + timedelta(days=30)) is new
    with pytest.raises(ConfigError, match="no own signing key is valid at"):
        ring.current(NOW + timedelta(days=500))


def test_window_is_clipped_to_the_certificate(pki):
    key = own_key(pki.ecdsa.key, pki.ecdsa.cert, valid_from=NOW - timedelta(days=900),
                  valid_until=NOW + timedelta(days=900))
    assert key.valid_from == pki.ecdsa.cert.not_valid_before_utc
    assert key.valid_until == pki.ecdsa.cert.not_valid_after_utc
    with pytest.raises(ConfigError, match="signing window .* is empty"):
        own_key(pki.ecdsa.key, pki.ecdsa.cert, valid_from=NOW + timedelta(days=900))


def test_pem_key_and_certificate_files(tmp_path, pki):
    (tmp_path / "k.pem").write_bytes(devca.key_pem(pki.ecdsa.key))
    (tmp_path / "c.pem").write_bytes(devca.cert_pem(pki.ecdsa.cert, pki.ca.cert))
    key = load(tmp_path, {"own": [{"file": "k.pem", "cert": "c.pem"}]}).current(NOW)
    assert key.subject == "CN=Gateway 2026"
    assert key.chain == (pki.ca.cert,)
    assert key.method.name == "ECDSA_SHA256"


def test_encrypted_pem_with_key_and_certificate_in_one_file_password_from_env(tmp_path, pki):
    (tmp_path / "both.pem").write_bytes(devca.key_pem(pki.rsa.key, b"s3cret") + devca.cert_pem(pki.rsa.cert))
    ring = load(tmp_path, {"own": [{"file": "both.pem", "password": "env:GW_KEY_PW"}],
                           "signature_algorithm": "rsa-pss-sha256"}, {"GW_KEY_PW": "s3cret"})
    assert ring.current(NOW).method.name == "SHA256_RSA_MGF1"
    with pytest.raises(ConfigError, match="environment variable GW_KEY_PW is not set"):
        load(tmp_path, {"own": [{"file": "both.pem", "password": "env:GW_KEY_PW"}]})
    with pytest.raises(ConfigError, match="wrong password"):
        load(tmp_path, {"own": [{"file": "both.pem", "password": "env:GW_KEY_PW"}]}, {"GW_KEY_PW": "nope"})
    with pytest.raises(ConfigError, match="no password configured"):
        load(tmp_path, {"own": [{"file": "both.pem"}]})


def test_pkcs12_with_password_from_file_and_toml_dates(tmp_path, pki):
    blob = pkcs12.serialize_key_and_certificates(b"gw", pki.next.key, pki.next.cert, [pki.ca.cert],
                                                 BestAvailableEncryption(b"from-file"))
    (tmp_path / "gw.p12").write_bytes(blob)
    (tmp_path / "pw").write_text("from-file\n")
    start = (NOW + timedelta(days=1)).replace(tzinfo=None)
    ring = load(tmp_path, {"own": [{"file": "gw.p12", "password": "file:pw", "valid_from": start}]})
    key = ring.keys[0]
    assert key.subject == "CN=Gateway 2027" and key.chain == (pki.ca.cert,)
    assert key.valid_from == start.replace(tzinfo=timezone.utc)


def test_mismatched_certificate_and_algorithm_are_refused(tmp_path, pki):
    (tmp_path / "k.pem").write_bytes(devca.key_pem(pki.ecdsa.key))
    (tmp_path / "c.pem").write_bytes(devca.cert_pem(pki.rsa.cert))
    with pytest.raises(ConfigError, match="no certificate for this private key"):
        load(tmp_path, {"own": [{"file": "k.pem", "cert": "c.pem"}]})
    (tmp_path / "c.pem").write_bytes(devca.cert_pem(pki.ecdsa.cert))
    with pytest.raises(ConfigError, match="rsa-sha256 does not fit an EC key"):
        load(tmp_path, {"own": [{"file": "k.pem", "cert": "c.pem"}], "signature_algorithm": "rsa-sha256"})
    with pytest.raises(ConfigError, match="'rsa-sha1' is not one of auto"):
        load(tmp_path, {"own": [{"file": "k.pem", "cert": "c.pem"}], "signature_algorithm": "rsa-sha1"})
    with pytest.raises(ConfigError, match="not an ISO 8601"):
        load(tmp_path, {"own": [{"file": "k.pem", "cert": "c.pem", "valid_until": "next year"}]})


@pytest.mark.parametrize("key, fragment", [
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024), "at least 2048"),
    (lambda: ec.generate_private_key(ec.SECP521R1()), "secp521r1 is not allowed"),
])
def test_weak_or_unusual_keys_are_refused(pki, key, fragment):
    private = key()
    cert = devca.issue(pki.ca.key, "CN=Weak", private.public_key(), now=NOW, issuer=pki.ca.cert)
    with pytest.raises(ConfigError, match=fragment):
        own_key(private, cert)


def test_dev_keys_make_a_working_default_and_are_never_overwritten(tmp_path):
    cfg = config.from_dict({"gateway": {"data_dir": "data"}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="run `gateway keys init`"):
        KeyRing.from_config(cfg)
    made = devca.write_dev_keys(tmp_path / "data" / "keys", kind="rsa", authority_id="ags:1",
                                authority_name="Stadt, Test", now=NOW)
    assert [f.path.name for f in made] == list(devca.DEV_FILES)
    assert stat.S_IMODE((tmp_path / "data/keys/signing.key.pem").stat().st_mode) == 0o600
    ring = KeyRing.from_config(cfg)
    assert ring.current(NOW).subject == r"CN=Stadt\, Test,OU=ags:1,O=xoev-gateway development"
    assert canary(Signer(ring), now=NOW).signer.subject == ring.current(NOW).subject
    before = (tmp_path / "data/keys/ca.key.pem").read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        devca.write_dev_keys(tmp_path / "data" / "keys", kind="ecdsa", authority_id="ags:1",
                             authority_name="x", now=NOW)
    assert (tmp_path / "data/keys/ca.key.pem").read_bytes() == before
