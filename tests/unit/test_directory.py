"""The partner directory: lookup, accepts, query and the start-up check."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway import config
from gateway.errors import ConfigError, NotFound
from gateway.exchange.directory import Directory, NotAccepted, describe

RAW = {
    "partners": {
        "ags:09000009": {
            "name": "Standesamt Musterstadt", "endpoints": ["https://standesamt.example/"],
            "transport": "soap", "accepts": ["personenstand.urkundenantrag.0100"],
            "trust": {"certificates": ["standesamt.pem"]},
        },
        "psw:01234567": {
            "name": "Bürgerportal", "endpoints": ["http://portal.example/"],
            "accepts": ["*"], "trust": {"cas": ["ca.pem"], "subject": "CN=Portal"},
        },
    }
}


@pytest.fixture
def directory() -> Directory:
    return Directory.from_config(config.from_dict(RAW, base_dir=Path(".")))


def test_lookup_and_closest_match(directory):
    assert directory.get("ags:09000009").name == "Standesamt Musterstadt"
    assert directory.find("ags:1") is None
    with pytest.raises(NotFound, match="did you mean 'ags:09000009'"):
        directory.get("ags:09000008")


def test_accepts_listed_types_and_star(directory):
    assert directory.accepts("ags:09000009", "personenstand.urkundenantrag.0100")
    assert not directory.accepts("ags:09000009", "korrespondenz.schreiben.0200")
    assert directory.accepts("psw:01234567", "korrespondenz.schreiben.0200")
    assert not directory.accepts("ags:404", "korrespondenz.schreiben.0200")
    with pytest.raises(NotAccepted, match="does not accept korrespondenz.schreiben.0200"):
        directory.require("ags:09000009", "korrespondenz.schreiben.0200")


def test_query_filters_combine(directory):
    assert [p.id for p in directory.query(accepts="korrespondenz.schreiben.0200")] == ["psw:01234567"]
    assert [p.id for p in directory.query(transport="soap")] == ["ags:09000009"]
    assert [p.id for p in directory.query(text="standesamt")] == ["ags:09000009"]
    assert [p.id for p in directory] == ["ags:09000009", "psw:01234567"]


def test_check_passes_for_a_complete_directory(directory):
    directory.check({"http", "soap"})


def test_check_names_every_problem():
    raw = {"partners": {"ags:1": {"transport": "sopa"}, "ags:2": {"endpoints": ["x"], "client_cert": "c.pem",
                                                                  "trust": {"cas": ["ca.pem"]}}}}
    directory = Directory.from_config(config.from_dict(raw, base_dir=Path(".")))
    problems = directory.problems({"http", "soap"})
    assert '[partners."ags:1"]: no endpoints' in problems
    assert '[partners."ags:1"]: unknown transport \'sopa\' (did you mean \'soap\'?)' in problems
    assert any("ags:2" in p and "trust.subject" in p for p in problems)
    assert any("ags:2" in p and "client_key" in p for p in problems)
    with pytest.raises(ConfigError, match="partner directory"):
        directory.check({"http", "soap"})


def test_describe_is_json_ready(directory):
    d = describe(directory.get("psw:01234567"))
    assert d["accepts"] == ["*"] and d["trust"]["cas"] == 1 and d["transport"] == "http"


def test_accepts_third_party_types_by_name_pattern_and_standard():
    from gateway.config import PartnerSpec
    from gateway.exchange.directory import Directory, NotAccepted

    d = Directory({"ags:1": PartnerSpec(id="ags:1", accepts=(
        "Aussonderung.*", "xdomea:Abgabe.*", "Meldung:meldung.zuzug.0101"))})
    assert d.accepts("ags:1", "Aussonderung.Aussonderung.0503")          # a pattern, any standard
    assert d.accepts("ags:1", "Abgabe.Abgabe.0401", "xdomea")            # STANDARD:pattern
    assert not d.accepts("ags:1", "Abgabe.Abgabe.0401", "XOther")        # ... of that standard only
    assert not d.accepts("ags:1", "Abgabe.Abgabe.0401")
    assert d.accepts("ags:1", "meldung.zuzug.0101", "Meldung")
    assert not d.accepts("ags:1", "meldung.wegzug.0102", "Meldung")
    with pytest.raises(NotAccepted, match="does not accept meldung.wegzug.0102"):
        d.require("ags:1", "meldung.wegzug.0102", "Meldung")
