"""`gateway keys init|list`, `gateway sign`, `gateway verify`: outputs and exit codes 0/1/2."""
from __future__ import annotations

import pytest
from cryptography import x509

from gateway import cli

MY_COMMANDS = ("gateway.commands.keys", "gateway.commands.sign")
DOC = b'<Antrag xmlns="urn:xoev:test"><Name>Erika Mustermann</Name><Betrag>100</Betrag></Antrag>'


@pytest.fixture(autouse=True)
def only_signing_commands(monkeypatch):
    """Run the real `main` with just these commands, so other modules' work in progress cannot interfere."""
    assert set(MY_COMMANDS) <= set(cli.COMMAND_MODULES)
    monkeypatch.setattr(cli, "COMMAND_MODULES", MY_COMMANDS)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A gateway folder with dev keys and a partner trusting those keys via CA + subject."""
    folder = tmp_path_factory.mktemp("gw")
    conf = folder / "gateway.toml"
    conf.write_text('[gateway]\ndata_dir = "data"\nauthority_id = "ags:1"\nauthority_name = "Stadt Test"\n')
    assert cli.main(["--config", str(conf), "keys", "init"]) == 0
    cert = x509.load_pem_x509_certificates((folder / "data/keys/signing.cert.pem").read_bytes())[0]
    conf.write_text(conf.read_text() + f'\n[partners."ags:1".trust]\ncas = ["data/keys/ca.cert.pem"]\n'
                                       f'subject = "{cert.subject.rfc4514_string()}"\n')
    (folder / "in.xml").write_bytes(DOC)
    return folder


def gw(home, *args) -> int:
    return cli.main(["--config", str(home / "gateway.toml"), *args])


@pytest.fixture(scope="module")
def signed(home):
    assert gw(home, "sign", str(home / "in.xml"), "-o", str(home / "signed.xml")) == 0
    return home / "signed.xml"


def test_keys_init_prints_what_it_made_and_refuses_to_overwrite(tmp_path, capsys):
    assert cli.main(["keys", "init", "--dir", str(tmp_path / "k"), "--algorithm", "ecdsa"]) == 0
    out = capsys.readouterr().out
    for name in ("ca.key.pem", "ca.cert.pem", "signing.key.pem", "signing.cert.pem"):
        assert str(tmp_path / "k" / name) in out
    assert "ECDSA secp256r1" in out
    before = (tmp_path / "k" / "signing.key.pem").read_bytes()
    assert cli.main(["keys", "init", "--dir", str(tmp_path / "k")]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (tmp_path / "k" / "signing.key.pem").read_bytes() == before


def test_sign_then_verify_with_own_keys_cert_and_partner(home, signed, capsys):
    assert b"<ds:Signature" in signed.read_bytes()
    assert gw(home, "verify", str(signed)) == 0
    assert "valid: signed by CN=Stadt Test" in capsys.readouterr().out
    assert gw(home, "verify", str(signed), "--cert", str(home / "data/keys/signing.cert.pem")) == 0
    assert gw(home, "verify", str(signed), "--partner", "ags:1", "-o", str(home / "content.xml")) == 0
    out = capsys.readouterr().out
    assert "for ags:1 via CA CN=Development CA of Stadt Test" in out
    assert (home / "content.xml").read_bytes() == DOC


def test_sign_to_stdout_with_xades(home, capsysbinary):
    assert gw(home, "sign", str(home / "in.xml"), "--xades") == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"<?xml") and b"xades:SigningTime" in out


def test_invalid_signatures_exit_1_with_the_failed_check(home, signed, capsys):
    bad = home / "tampered.xml"
    bad.write_bytes(signed.read_bytes().replace(b">100<", b">900<"))
    assert gw(home, "verify", str(bad)) == 1
    assert "invalid: digest mismatch: content was changed after signing" in capsys.readouterr().err
    assert gw(home, "verify", str(home / "in.xml")) == 1
    assert "invalid: no signature" in capsys.readouterr().err
    assert gw(home, "verify", str(signed), "--cert", str(home / "data/keys/ca.cert.pem")) == 1
    assert "not trusted for partner" in capsys.readouterr().err
    assert gw(home, "verify", str(signed), "--at", "2099-01-01") == 1
    assert "expired on" in capsys.readouterr().err


def test_usage_errors_exit_2(home, signed, capsys):
    with pytest.raises(SystemExit) as info:
        gw(home, "verify", str(signed), "--partner", "ags:1", "--cert", "x.pem")
    assert info.value.code == 2
    assert gw(home, "verify", str(signed), "--partner", "ags:404") == 2
    assert "unknown partner ags:404 (known: ags:1)" in capsys.readouterr().err
    assert gw(home, "verify", str(signed), "--at", "yesterday") == 2
    with pytest.raises(SystemExit) as info:
        gw(home, "sign")
    assert info.value.code == 2


def test_keys_list_shows_expiry_and_flags_the_window(home, capsys):
    assert gw(home, "keys", "list") == 0
    out = capsys.readouterr().out
    assert "own (current)" in out and "CN=Stadt Test" in out
    assert "ca " in out and "ags:1" in out and "EXPIRES SOON" not in out
    assert gw(home, "keys", "list", "--within", "400", "--check") == 1
    assert "EXPIRES SOON" in capsys.readouterr().out
