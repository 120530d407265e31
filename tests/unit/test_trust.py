"""Partner trust: pinned certificates, CAs with expected subject, CRLs, validity; read once."""
from __future__ import annotations

import pathlib
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from gateway import config
from gateway.crypto import devca
from gateway.crypto.keys import KeyRing, own_key
from gateway.crypto.signing import Signer, Verifier
from gateway.crypto.trust import TrustStore
from gateway.errors import ConfigError, SignatureError

NOW = datetime.now(timezone.utc).replace(microsecond=0)
PID = "ags:09000009"
SUBJECT = "CN=Stadt A,O=Land"


@pytest.fixture(scope="session")
def pki():
    """A partner CA, an intermediate, and signing certificates in every state (once per session)."""
    ca = devca.make_ca("CN=Partner CA,O=Land", now=NOW)
    sub = devca.make_identity(ca, "CN=Partner Sub CA,O=Land", now=NOW, intermediate=True)
    revoked = devca.make_identity(ca, SUBJECT, now=NOW)
    return SimpleNamespace(
        ca=ca, sub=sub, revoked=revoked,
        good=devca.make_identity(ca, SUBJECT, now=NOW),
        via_sub=devca.make_identity(sub, SUBJECT, now=NOW),
        impostor=devca.make_identity(ca, "CN=Stadt B,O=Land", now=NOW),
        stranger=devca.make_identity(devca.make_ca("CN=Partner CA,O=Land", now=NOW), SUBJECT, now=NOW),
        future=devca.make_identity(ca, SUBJECT, now=NOW, not_before=NOW + timedelta(days=3)),
        expired=devca.make_identity(ca, SUBJECT, now=NOW, days=10, not_before=NOW - timedelta(days=20)),
        crl=devca.make_crl(ca.key, ca.cert, {revoked.cert.serial_number: NOW - timedelta(days=1)}, now=NOW),
        stale_crl=devca.make_crl(ca.key, ca.cert, {}, now=NOW - timedelta(days=30),
                                 next_update=NOW - timedelta(days=1)),
    )


def write(folder: pathlib.Path, name: str, data: bytes) -> str:
    (folder / name).write_bytes(data)
    return name


def store(tmp_path, pki, *, pinned=(), cas=(), subject=SUBJECT, crls=()) -> TrustStore:
    """A TrustStore built the production way: gateway.toml-style data and files on disk."""
    trust = {
        "certificates": [write(tmp_path, f"pin{i}.pem", devca.cert_pem(c)) for i, c in enumerate(pinned)],
        "cas": [write(tmp_path, f"ca{i}.pem", devca.cert_pem(c)) for i, c in enumerate(cas)],
        "crls": [write(tmp_path, f"crl{i}.der", crl.public_bytes(devca.serialization.Encoding.DER))
                 for i, crl in enumerate(crls)],
        "subject": subject if cas else "",
    }
    cfg = config.from_dict({"partners": {PID: {"trust": trust}}}, base_dir=tmp_path)
    return TrustStore.from_config(cfg)


def chain(identity):
    return [identity.cert, *identity.chain]


def test_ca_with_expected_subject_accepts_the_partner(tmp_path, pki):
    identity = store(tmp_path, pki, cas=[pki.ca.cert]).check(PID, chain(pki.good), NOW)
    assert identity.subject == SUBJECT and identity.via == "CA CN=Partner CA,O=Land"
    assert identity.partner == PID


def test_intermediate_from_the_signature_links_to_the_configured_ca(tmp_path, pki):
    identity = store(tmp_path, pki, cas=[pki.ca.cert]).check(PID, chain(pki.via_sub), NOW)
    assert identity.issuer == "CN=Partner Sub CA,O=Land"


def test_same_ca_but_other_subject_is_refused(tmp_path, pki):
    with pytest.raises(SignatureError, match=f"signed by CN=Stadt B,O=Land, not by {SUBJECT} as required for partner {PID}"):
        store(tmp_path, pki, cas=[pki.ca.cert]).check(PID, chain(pki.impostor), NOW)


def test_lookalike_ca_with_the_same_name_is_refused(tmp_path, pki):
    with pytest.raises(SignatureError, match="which is not a CA trusted for partner"):
        store(tmp_path, pki, cas=[pki.ca.cert]).check(PID, chain(pki.stranger), NOW)


def test_pinned_mode_refuses_other_certificates_of_the_same_ca(tmp_path, pki):
    trust = store(tmp_path, pki, pinned=[pki.good.cert])
    assert trust.check(PID, chain(pki.good), NOW).via == "pinned certificate"
    with pytest.raises(SignatureError, match=f"not trusted for partner {PID}"):
        trust.check(PID, chain(pki.impostor), NOW)


def test_not_yet_valid_and_expired(tmp_path, pki):
    trust = store(tmp_path, pki, cas=[pki.ca.cert])
    with pytest.raises(SignatureError, match=f"is not valid before {pki.future.cert.not_valid_before_utc:%Y-%m-%d}"):
        trust.check(PID, chain(pki.future), NOW)
    with pytest.raises(SignatureError, match=f"expired on {pki.expired.cert.not_valid_after_utc:%Y-%m-%d}"):
        trust.check(PID, chain(pki.expired), NOW)


def test_revoked_certificate_is_refused_with_the_date(tmp_path, pki):
    trust = store(tmp_path, pki, cas=[pki.ca.cert], crls=[pki.crl])
    assert trust.check(PID, chain(pki.good), NOW).subject == SUBJECT
    with pytest.raises(SignatureError, match=f"was revoked on {NOW - timedelta(days=1):%Y-%m-%d}"):
        trust.check(PID, chain(pki.revoked), NOW)


def test_revocation_applies_to_pinned_certificates_too(tmp_path, pki):
    trust = store(tmp_path, pki, pinned=[pki.revoked.cert], cas=[pki.ca.cert], crls=[pki.crl])
    with pytest.raises(SignatureError, match="was revoked"):
        trust.check(PID, chain(pki.revoked), NOW)


def test_out_of_date_crl_fails_closed(tmp_path, pki):
    trust = store(tmp_path, pki, cas=[pki.ca.cert], crls=[pki.stale_crl])
    with pytest.raises(SignatureError, match="revocation list of CN=Partner CA,O=Land is out of date"):
        trust.check(PID, chain(pki.good), NOW)


def test_signing_with_a_ca_certificate_is_refused(tmp_path, pki):
    with pytest.raises(SignatureError, match="CN=Partner Sub CA,O=Land may not be used for signatures"):
        store(tmp_path, pki, cas=[pki.ca.cert]).check(PID, [pki.sub.cert, pki.ca.cert], NOW)
    with pytest.raises(SignatureError, match="may not be used for signatures"):
        store(tmp_path, pki, pinned=[pki.ca.cert]).check(PID, [pki.ca.cert], NOW)


@pytest.mark.parametrize("change, fragment", [
    (dict(subject=""), "needs the partner's expected `subject`"),
    (dict(subject="CN=a,,=x"), "is not an RFC 4514 name"),
    (dict(cas="good"), "is not a CA certificate"),
    (dict(crls="foreign"), "is not signed by any CA configured for this partner"),
])
def test_bad_trust_configuration_refuses_to_start(tmp_path, pki, change, fragment):
    other = devca.make_ca("CN=Foreign CA", now=NOW)
    args = dict(cas=[pki.ca.cert], subject=change.get("subject", SUBJECT))
    if change.get("cas") == "good":
        args["cas"] = [pki.good.cert]
    if change.get("crls") == "foreign":
        args["crls"] = [devca.make_crl(other.key, other.cert, {}, now=NOW)]
    with pytest.raises(ConfigError, match=fragment):
        store(tmp_path, pki, **args)


def test_missing_trust_file_names_the_file(tmp_path):
    cfg = config.from_dict({"partners": {PID: {"trust": {"certificates": ["nope.pem"]}}}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="nope.pem"):
        TrustStore.from_config(cfg)


def test_partner_without_trust_cannot_sign_to_us(tmp_path, pki):
    cfg = config.from_dict({"partners": {PID: {"endpoints": ["http://127.0.0.1:1/"]}}}, base_dir=tmp_path)
    with pytest.raises(SignatureError, match=f"no trust is configured for partner {PID}"):
        TrustStore.from_config(cfg).check(PID, chain(pki.good), NOW)


def test_trust_material_is_read_once_not_per_message(tmp_path, pki, monkeypatch):
    trust = store(tmp_path, pki, cas=[pki.ca.cert], crls=[pki.crl])
    verifier = Verifier(trust)
    xml = Signer(KeyRing([own_key(pki.good.key, pki.good.cert, pki.good.chain)])).sign(b"<a>1</a>", now=NOW)
    for f in tmp_path.iterdir():
        f.unlink()

    def no_reads(*args, **kwargs):
        raise AssertionError("a file was read while verifying")

    monkeypatch.setattr(pathlib.Path, "read_bytes", no_reads)
    monkeypatch.setattr(pathlib.Path, "open", no_reads)
    monkeypatch.setattr("builtins.open", no_reads)
    for _ in range(3):
        result = verifier.verify(xml, partner=PID, now=NOW)
    assert result.signer.via == "CA CN=Partner CA,O=Land"
