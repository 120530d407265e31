"""`gateway init`, partner cards and `gateway config check`, with real keys, files and the
CLI: cards are signed and checked, `partners add` asks before writing, a changed card is
refused, unknown card content is ignored (the format grows), updates replace the entry."""
from __future__ import annotations

import io
import re
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

from gateway import config as configuration
from gateway.cli import main as cli
from gateway.exchange.cards import NS, read_card
from gateway.errors import MessageError, SignatureError


@pytest.fixture
def two(tmp_path, capsys, monkeypatch):
    """Two initialised gateway folders and their cards."""
    for env in ("GATEWAY_CONFIG", "GATEWAY_DATA_DIR"):
        monkeypatch.delenv(env, raising=False)
    assert cli(["init", "--dir", str(tmp_path / "portal"), "--authority", "ags:09162000",
                "--name", "Bürgerportal", "--url", "http://127.0.0.1:8481"]) == 0
    assert cli(["init", "--dir", str(tmp_path / "office"), "--authority", "psw:09162000",
                "--name", "Standesamt", "--url", "https://office.example:8443/"]) == 0
    out = capsys.readouterr().out
    assert "next steps" in out and "partners card" in out and "config check" in out
    for name in ("portal", "office"):
        assert cli(["--config", str(tmp_path / name / "gateway.toml"), "partners", "card",
                    "-o", str(tmp_path / f"{name}.card")]) == 0
    capsys.readouterr()
    return tmp_path


def conf(folder: Path) -> list[str]:
    return ["--config", str(folder / "gateway.toml")]


def test_init_refuses_to_overwrite_and_checks_the_authority(two, capsys):
    before = (two / "portal" / "gateway.toml").read_bytes()
    assert cli(["init", "--dir", str(two / "portal"), "--authority", "ags:09162000", "--name", "x"]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (two / "portal" / "gateway.toml").read_bytes() == before
    assert cli(["init", "--dir", str(two / "new"), "--authority", "ags:1", "--name", "x"]) == 2
    assert "not a valid ags id" in capsys.readouterr().err and not (two / "new").exists()


def test_init_writes_identity_url_and_port(two):
    cfg = configuration.load(two / "office" / "gateway.toml", environ={})
    assert (cfg.gateway.authority_id, cfg.gateway.authority_name) == ("psw:09162000", "Standesamt")
    assert (cfg.server.public_url, cfg.server.port) == ("https://office.example:8443", 8443)
    assert (two / "office" / "data" / "keys" / "signing.key.pem").exists()


def test_a_card_carries_identity_endpoints_types_and_certificates(two):
    card = read_card((two / "office.card").read_bytes(), now=datetime.now(timezone.utc))
    assert (card.authority_id, card.name) == ("psw:09162000", "Standesamt")
    assert card.endpoints == (("http", "https://office.example:8443"), ("soap", "https://office.example:8443/soap"))
    assert "personenstand.urkundenantrag.0100" in card.accepts
    signing = card.certs("signing")
    own = (two / "office" / "data" / "keys" / "signing.cert.pem").read_bytes()
    from cryptography import x509
    assert signing[0] == x509.load_pem_x509_certificates(own)[0]


def test_add_asks_and_writes_nothing_without_yes(two, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert cli([*conf(two / "portal"), "partners", "add", str(two / "office.card")]) == 1
    out = capsys.readouterr().out
    fingerprint = re.search(r"SHA-256 ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})", out)
    assert fingerprint and "Trust this card? [y/N]" in out
    assert not (two / "portal" / "partners.toml").exists() and not (two / "portal" / "partners").exists()


def test_add_with_confirmation_makes_a_working_directory_entry(two, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert cli([*conf(two / "portal"), "partners", "add", str(two / "office.card"),
                "--accept", "personenstand.urkundenantrag.0100"]) == 0
    cfg = configuration.load(two / "portal" / "gateway.toml", environ={})
    spec = cfg.partners["psw:09162000"]
    assert spec.endpoints == ("https://office.example:8443",) and spec.transport == "http"
    assert spec.accepts == ("personenstand.urkundenantrag.0100",)
    assert cfg.path(spec.trust.certificates[0]) == two / "portal" / "partners" / "psw_09162000" / "signing.cert.pem"
    assert cfg.origins["partners.psw:09162000"].startswith("file ") and "partners.toml" in cfg.origins[
        "partners.psw:09162000"]
    capsys.readouterr()
    assert cli([*conf(two / "portal"), "config", "check"]) == 0
    out = capsys.readouterr().out
    assert "ok    partner directory: 1 partner(s)" in out and "ok    partner certificates: 1" in out
    assert "FAIL" not in out


def test_add_again_updates_the_entry_and_soap_picks_that_endpoint(two, capsys):
    assert cli([*conf(two / "portal"), "partners", "add", str(two / "office.card"), "--yes"]) == 0
    assert cli([*conf(two / "portal"), "partners", "add", str(two / "office.card"), "--yes",
                "--transport", "soap"]) == 0
    assert "updated" in capsys.readouterr().out
    data = tomllib.loads((two / "portal" / "partners.toml").read_text())
    assert list(data["partners"]) == ["psw:09162000"]
    assert data["partners"]["psw:09162000"]["endpoints"] == ["https://office.example:8443/soap"]
    assert data["partners"]["psw:09162000"]["transport"] == "soap"


def test_a_changed_card_is_refused(two, capsys):
    text = (two / "office.card").read_text(encoding="utf-8")
    forged = text.replace("https://office.example:8443", "https://evil.example")
    (two / "forged.card").write_text(forged, encoding="utf-8")
    assert cli([*conf(two / "portal"), "partners", "add", str(two / "forged.card"), "--yes"]) == 1
    assert "signature does not hold" in capsys.readouterr().err
    assert not (two / "portal" / "partners.toml").exists()
    with pytest.raises(SignatureError, match="digest mismatch"):
        read_card(forged.encode(), now=datetime.now(timezone.utc))


def test_a_card_signed_by_another_key_than_it_carries_is_refused(two):
    """Swap the carried signing certificate for another gateway's: the signature no longer
    matches the card's own certificate."""
    office = etree.fromstring((two / "office.card").read_bytes())
    portal = etree.fromstring((two / "portal.card").read_bytes())
    q = f"{{{NS}}}certificate"
    office.find(q).text = portal.find(q).text
    with pytest.raises(SignatureError):
        read_card(etree.tostring(office), now=datetime.now(timezone.utc))


def test_unknown_content_is_ignored(two):
    """A newer card (e.g. with an encryption certificate or a new element) is still read."""
    from gateway.commands.partners import public_url  # noqa: F401  (the command module loads)
    from gateway.crypto.signing import Signer
    from gateway.exchange.cards import make_card

    cfg = configuration.load(two / "office" / "gateway.toml", environ={})
    now = datetime.now(timezone.utc)
    signer = Signer.from_config(cfg)
    cert = signer.keyring.current(now).certificate
    data = make_card(signer, authority_id="psw:09162000", name="Standesamt", directory_service="DVDV",
                     endpoints=[("http", "https://office.example")], accepts=["*"],
                     certificates=[("signing", cert), ("encryption", cert)], now=now)
    root = etree.fromstring(data)
    assert root.find(f"{{{NS}}}certificate[@use='encryption']") is not None
    card = read_card(data, now=now)
    assert card.certs("encryption") == [cert] and card.accepts == ("*",)


def test_not_a_card(tmp_path):
    with pytest.raises(MessageError, match="not a partner card"):
        read_card(b"<x/>", now=datetime.now(timezone.utc))


def test_our_own_card_and_a_hand_written_partner_are_refused(two, capsys):
    assert cli([*conf(two / "portal"), "partners", "add", str(two / "portal.card"), "--yes"]) == 2
    assert "our own card" in capsys.readouterr().err
    toml = two / "portal" / "gateway.toml"
    toml.write_text(toml.read_text() + '\n[partners."psw:09162000"]\nendpoints = ["http://x"]\n'
                    '[partners."psw:09162000".trust]\ncertificates = ["c.pem"]\n')
    assert cli([*conf(two / "portal"), "partners", "add", str(two / "office.card"), "--yes"]) == 2
    assert "remove [partners.\"psw:09162000\"] there" in capsys.readouterr().err


def test_config_check_names_what_fails(two, capsys):
    (two / "office" / "data" / "keys" / "signing.key.pem").write_text("not a key")
    assert cli([*conf(two / "office"), "config", "check"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^FAIL  own keys: ", out, flags=re.M)
    assert re.search(r"^ok    schemas: ", out, flags=re.M)


def test_config_show_names_origins_and_hides_passwords(two, capsys, monkeypatch):
    monkeypatch.setenv("GATEWAY_STORE_URL", "postgresql://gw:s3cret@db/gateway")
    assert cli([*conf(two / "office"), "config", "show"]) == 0
    out = capsys.readouterr().out
    assert re.search(r'^authority_id = "psw:09162000"\s+# file$', out, flags=re.M)
    assert re.search(r'^url = "postgresql://gw:\*\*\*@db/gateway"\s+# environment GATEWAY_STORE_URL$', out,
                     flags=re.M)
    assert re.search(r"^timeout = 60.0\s+# default$", out, flags=re.M)
    assert "s3cret" not in out
