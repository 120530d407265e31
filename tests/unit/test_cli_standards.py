"""`gateway standards` and `gateway codelists` over a configuration with third-party standards."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.cli import main

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    for name in ("meldung", "fundsache"):
        shutil.copytree(VECTORS / "standards" / name, tmp_path / name)
    shutil.copytree(VECTORS / "thirdparty" / "xtermin", tmp_path / "xtermin")
    file = tmp_path / "gateway.toml"
    file.write_text('[schemas]\nstandards = ["meldung", "fundsache", "xtermin"]\n')
    return file


def test_standards_lists_every_standard_with_its_facts(config, capsys):
    assert main(["--config", str(config), "standards", "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == {"xoev-gateway", "Meldung", "Fundsache", "XTermin"}
    assert rows["Meldung"]["header"] == "xpath" and rows["Meldung"]["codelist_policy"] == "known"
    assert rows["Meldung"]["message_types"] == ["meldung.wegzug.0102", "meldung.zuzug.0101"]
    assert rows["Fundsache"]["header"] == "xoev-g2g" and rows["Fundsache"]["codelist_policy"] == "strict"
    assert rows["XTermin"]["versions"] == ["1.0", "2.0"] and len(rows["XTermin"]["schematron"]) == 1
    assert rows["xoev-gateway"]["codelist_policy"] == "strict"
    assert "personenstand.urkundenantrag.0100" in rows["xoev-gateway"]["message_types"]


def test_standards_text(config, capsys):
    assert main(["--config", str(config), "standards"]) == 0
    out = capsys.readouterr().out
    assert "Meldung  header xpath  code lists known" in out
    assert "  message types (1): fundsache.anzeige.0201" in out


def test_a_broken_header_profile_exits_2_naming_standard_and_fact(config, capsys):
    toml = config.parent / "meldung" / "standard.toml"
    toml.write_text(toml.read_text().replace('created = "m:kopf/m:erstellt"', 'created = "m:kopf/("'))
    assert main(["--config", str(config), "standards"]) == 2
    assert "standard Meldung: header fact created" in capsys.readouterr().err


def test_codelists_lists_versions_side_by_side(config, capsys):
    assert main(["--config", str(config), "codelists", "--uri", "terminart", "--json"]) == 0
    out, err = capsys.readouterr()
    rows = list(map(json.loads, out.splitlines()))
    assert [(r["uri"], r["version"], r["codes"]) for r in rows] == [
        ("urn:example:codeliste:terminart", "1", rows[0]["codes"]),
        ("urn:example:codeliste:terminart", "2", rows[1]["codes"])]
    assert rows[0]["file"].endswith("terminart-1.gc") and rows[1]["codes"] > 0
    assert "2 list versions of 1 list" in err


def test_codelists_text_names_the_file(config, capsys):
    assert main(["--config", str(config), "codelists"]) == 0
    out = capsys.readouterr().out
    assert "urn:example:codeliste:gegenstand  1  2 codes  " in out and "gegenstand-1.gc" in out
