"""`gateway keys init` (encryption key pair), `gateway keys list`, `gateway encrypt`/`decrypt`:
files written, outputs and exit codes 0/1/2, with real keys."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway import cli

MY_COMMANDS = ("gateway.commands.keys", "gateway.commands.encrypt")
DOC = b'<Antrag xmlns="urn:xoev:test"><Name>Erika Mustermann</Name></Antrag>'


@pytest.fixture(autouse=True)
def only_these_commands(monkeypatch):
    assert set(MY_COMMANDS) <= set(cli.COMMAND_MODULES)
    monkeypatch.setattr(cli, "COMMAND_MODULES", MY_COMMANDS)


def home(folder, encryption: str):
    conf = folder / "gateway.toml"
    conf.write_text('[gateway]\ndata_dir = "data"\nauthority_id = "ags:1"\nauthority_name = "Stadt Test"\n')
    assert cli.main(["--config", str(conf), "keys", "init", "--encryption", encryption]) == 0
    conf.write_text(conf.read_text() + '\n[partners."ags:2"]\nencrypt = true\n'
                                       'encryption_certificates = ["data/keys/encryption.cert.pem"]\n')
    (folder / "in.xml").write_bytes(DOC)
    return conf


@pytest.mark.parametrize("encryption,kind", [("rsa", rsa.RSAPrivateKey), ("ec", ec.EllipticCurvePrivateKey)])
def test_keys_init_writes_the_encryption_pair_and_list_shows_it(tmp_path, capsys, encryption, kind):
    conf = home(tmp_path, encryption)
    key = load_pem_private_key((tmp_path / "data/keys/encryption.key.pem").read_bytes(), None)
    assert isinstance(key, kind)
    assert (tmp_path / "data/keys/encryption.key.pem").stat().st_mode & 0o077 == 0
    capsys.readouterr()
    assert cli.main(["--config", str(conf), "keys", "list"]) == 0
    out = capsys.readouterr().out
    assert "decryption" in out and "encryption (current)" in out and "ags:2" in out


def test_encrypt_for_partner_or_certificate_and_decrypt_back(tmp_path, capsys):
    conf = home(tmp_path, "rsa")
    run = lambda *a: cli.main(["--config", str(conf), *a])  # noqa: E731
    assert run("encrypt", str(tmp_path / "in.xml"), "--partner", "ags:2", "-o", str(tmp_path / "p.xml")) == 0
    assert run("encrypt", str(tmp_path / "in.xml"), "--cert", str(tmp_path / "data/keys/encryption.cert.pem"),
               "-o", str(tmp_path / "c.xml")) == 0
    for name in ("p.xml", "c.xml"):
        assert b"Mustermann" not in (tmp_path / name).read_bytes()
        assert run("decrypt", str(tmp_path / name), "-o", str(tmp_path / f"{name}.plain")) == 0
        assert (tmp_path / f"{name}.plain").read_bytes() == DOC
    capsys.readouterr()
    assert run("decrypt", str(tmp_path / "in.xml")) == 1
    assert "cannot decrypt: not an EncryptedData" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        run("encrypt", str(tmp_path / "in.xml"))
    assert usage.value.code == 2
    assert run("encrypt", str(tmp_path / "in.xml"), "--partner", "ags:9") == 2
