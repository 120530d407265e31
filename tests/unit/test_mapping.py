"""Record <-> XML mapping: golden pairs, record errors with exact field paths, parse errors."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from lxml import etree

from gateway.errors import ConfigError, NotFound, ValidationFailed, XmlSecurityError
from gateway.mapping import Registry, record_key
from gateway.mapping.registry import shipped_registry

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "vectors" / "messages"
DEMO_DIR = ROOT / "tests" / "vectors" / "mapping"
GOLDEN_IDS = sorted(p.stem for p in GOLDEN.glob("*.json"))
DEMO = "demo.antrag.0001"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return shipped_registry()


@pytest.fixture(scope="module")
def demo() -> Registry:
    return Registry.load(DEMO_DIR)


def c14n(xml: bytes) -> bytes:
    return etree.tostring(etree.fromstring(xml), method="c14n")


def demo_record() -> dict:
    """A record of the demo type using every construct (a fresh copy per call)."""
    return json.loads((DEMO_DIR / f"{DEMO}.json").read_text(encoding="utf-8"))


def issues_of(registry: Registry, type_id: str, record) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as info:
        registry.build(type_id, record)
    return [(i.path, i.message) for i in info.value.issues]


# --- registry -------------------------------------------------------------------------

def test_registry_lists_all_seven_types_with_standard_version_and_description(registry):
    ids = [t.id for t in registry.types()]
    assert ids == sorted(GOLDEN_IDS)
    for t in registry.types():
        assert t.standard.startswith("XGateway-") and t.version == "1.0"
        assert t.description and t.namespace.startswith("urn:xoev-gateway:")
        assert t.tag == f"{{{t.namespace}}}{t.id}"


def test_unknown_type_names_the_closest_id(registry):
    with pytest.raises(NotFound, match="did you mean personenstand.urkundenantrag.0100"):
        registry.get("personenstand.urkundenantrag.010")


def test_record_key_camel_cases_dotted_names():
    assert record_key("nachrichtenkopf.g2g") == "nachrichtenkopfG2g"
    assert record_key("identifikation.nachricht") == "identifikationNachricht"
    assert record_key("anlage") == "anlage"


def test_a_folder_without_family_schemas_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no family schemas"):
        Registry.load(tmp_path)


@pytest.mark.parametrize("content, reason", [
    ('<xs:sequence><xs:any processContents="lax"/></xs:sequence>', "xs:any"),
    ('<xs:choice maxOccurs="unbounded"><xs:element name="a" type="xs:string"/>'
     '<xs:element name="b" type="xs:string"/></xs:choice>', "repeated xs:choice"),
    ('<xs:sequence><xs:element name="a.b" type="xs:string"/><xs:element name="aB" type="xs:string"/>'
     '</xs:sequence>', "record key 'aB'"),
])
def test_constructs_the_record_convention_cannot_hold_are_refused_at_load(tmp_path, content, reason):
    family = tmp_path / "messages" / "x"
    family.mkdir(parents=True)
    (family / "x.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x">'
        f'<xs:element name="x.y.0001"><xs:complexType>{content}</xs:complexType></xs:element>'
        '</xs:schema>')
    with pytest.raises(ConfigError, match=reason):
        Registry.load(tmp_path)


# --- golden pairs ---------------------------------------------------------------------

@pytest.mark.parametrize("type_id", GOLDEN_IDS)
def test_golden_record_builds_exactly_the_golden_xml(registry, type_id):
    record = json.loads((GOLDEN / f"{type_id}.json").read_text(encoding="utf-8"))
    golden = (GOLDEN / f"{type_id}.xml").read_bytes()
    assert c14n(registry.to_xml(type_id, record)) == c14n(golden)


@pytest.mark.parametrize("type_id", GOLDEN_IDS)
def test_golden_xml_parses_into_exactly_the_golden_record(registry, type_id):
    record = json.loads((GOLDEN / f"{type_id}.json").read_text(encoding="utf-8"))
    assert registry.parse((GOLDEN / f"{type_id}.xml").read_bytes()) == (type_id, record)


def test_build_leaves_the_record_untouched(registry):
    type_id = GOLDEN_IDS[0]
    record = json.loads((GOLDEN / f"{type_id}.json").read_text(encoding="utf-8"))
    before = copy.deepcopy(record)
    registry.build(type_id, record)
    assert record == before


# --- every construct, on the demo schema ----------------------------------------------

def test_demo_round_trip_covers_choice_group_simple_content_and_code_types(demo):
    record = demo_record()
    xml = demo.to_xml(DEMO, record)
    type_id, back = demo.parse(xml)
    assert type_id == DEMO
    fixed = {"listURI": "urn:xoev-gateway:test:codeliste:farbe", "listVersionID": "1.0"}
    expected = {**record, "standard": "XGateway-Demo", "version": "1.0",
                "farbe": {**record["farbe"], **fixed},
                "ablehnungsgrund": {**record["ablehnungsgrund"], **fixed}}
    assert back == expected
    root = etree.fromstring(xml)
    assert root.prefix == "dem" and root.get("standard") == "XGateway-Demo"
    assert root.find("betrag").text == "12.50" and root.find("betrag").get("waehrung") == "EUR"
    assert root.find("eilig").text == "false"
    assert [e.text for e in root.findall("bemerkung")] == ["x", "  zwei  Leerzeichen  "]


def test_whitespace_is_normalised_as_the_schema_type_says(demo):
    record = demo_record()
    record["anschrift"]["postleitzahl"] = " 12345\n"        # xs:token: collapse
    record["anschrift"]["strasse"] = "Haupt\tstr."          # xs:normalizedString: replace
    root = demo.build(DEMO, record)
    assert root.find("anschrift/postleitzahl").text == "12345"
    assert root.find("anschrift/strasse").text == "Haupt str."


def test_fixed_attributes_are_filled_only_with_defaults(demo):
    record = demo_record()
    assert demo.build(DEMO, record).get("version") == "1.0"
    with pytest.raises(ValidationFailed) as info:
        demo.build(DEMO, record, defaults=False)
    paths = {i.path for i in info.value.issues}
    assert {"standard", "version", "farbe.listURI", "farbe.listVersionID"} <= paths


def test_an_explicit_wrong_fixed_value_is_an_error_with_its_path(demo):
    record = demo_record()
    record["farbe"]["listVersionID"] = "2.0"
    assert issues_of(demo, DEMO, record) == [
        ("farbe.listVersionID", "must be '1.0' (fixed by the schema), not '2.0'")]


@pytest.mark.parametrize("change, path, fragment", [
    (lambda r: r["anschrift"].update(ortt="B"), "anschrift.ortt", "did you mean 'ort'?"),
    (lambda r: r["anschrift"].pop("ort"), "anschrift.ort", "is missing"),
    (lambda r: r.update(anzahl="3"), "anzahl", "expected an integer, got a string"),
    (lambda r: r.update(anzahl=True), "anzahl", "expected an integer, got a boolean"),
    (lambda r: r.update(eilig="ja"), "eilig", "expected true or false, got a string"),
    (lambda r: r.update(anschrift="Berlin"), "anschrift", "expected an object, got a string"),
    (lambda r: r.update(anlage=r["anlage"][0]), "anlage", "expected an array"),
    (lambda r: r.update(anlage=r["anlage"] * 4), "anlage", "has 4 items, at most 3 are allowed"),
    (lambda r: r.update(anlage=[]), "anlage", "empty array"),
    (lambda r: r["anlage"][0].update(sha256="AB"), "anlage[0].sha256", "required pattern"),
    (lambda r: r["anlage"][0].update(groesse=-1), "anlage[0].groesse", "at least 0"),
    (lambda r: r["anschrift"].update(postleitzahl="1234"), "anschrift.postleitzahl", "required pattern"),
    (lambda r: r["anschrift"].update(ort=""), "anschrift.ort", "at least 1 characters"),
    (lambda r: r["anschrift"].update(ort="x" * 41), "anschrift.ort", "at most 40 characters"),
    (lambda r: r.update(anzahl=11), "anzahl", "at most 10"),
    (lambda r: r.update(anzahl=0), "anzahl", "at least 1"),
    (lambda r: r.update(rueckrufnummer="fax"), "rueckrufnummer", "not one of the allowed values (mobil, festnetz)"),
    (lambda r: r["betrag"].update(value="1.234"), "betrag.value", "3 decimal places"),
    (lambda r: r["betrag"].update(value="123456.7"), "betrag.value", "at most 99999.99"),
    (lambda r: r["betrag"].update(value=12.5), "betrag.value", "expected a string, got a number"),
    (lambda r: r["betrag"].update(value="zwölf"), "betrag.value", "decimal number"),
    (lambda r: r["betrag"].pop("value"), "betrag.value", "is missing"),
    (lambda r: r["betrag"].update(waehrung="EURO"), "betrag.waehrung", "exactly 3 characters"),
    (lambda r: r.update(jahr="24"), "jahr", "a year like 2024"),
    (lambda r: r.update(jahr=None), "jahr", "expected a string, got null"),
    (lambda r: r["nachrichtenkopfG2g"]["identifikationNachricht"].update(erstellungszeitpunkt="2024-13-01T00:00:00"),
     "nachrichtenkopfG2g.identifikationNachricht.erstellungszeitpunkt", "a date and time"),
    (lambda r: r["anlage"][0].update(inhalt="a"), "anlage[0].inhalt", "base64"),
    (lambda r: r.update(bemerkung=["ok", "bad\x01"]), "bemerkung[1]", "character that XML cannot carry"),
])
def test_record_errors_name_the_exact_field_path(demo, change, path, fragment):
    record = demo_record()
    change(record)
    issues = issues_of(demo, DEMO, record)
    assert any(p == path and fragment in m for p, m in issues), issues


def test_choice_with_two_alternatives_names_both(demo):
    record = demo_record()
    record["zustimmung"] = True
    [(path, message)] = issues_of(demo, DEMO, record)
    assert path == "" and "give only one of the alternatives" in message
    assert "zustimmung" in message and "ablehnungsgrund" in message


def test_choice_with_no_alternative_is_missing(demo):
    record = demo_record()
    for key in ("ablehnungsgrund", "jahr"):
        record.pop(key)
    [(path, message)] = issues_of(demo, DEMO, record)
    assert "one of the alternatives zustimmung | ablehnungsgrund" in message and "is required" in message


def test_nested_optional_choice_and_optional_sequence_are_checked(demo):
    record = demo_record()
    record["frist"] = "2024-06-01"                          # second branch of the nested choice
    record.pop("rueckrufnummer")
    record["uri"] = "https://example.org/"                  # optional sequence started, head missing
    issues = issues_of(demo, DEMO, record)
    assert ("rueckrufnummer", "is missing") in issues
    assert any("frist" in m and "jahr" in m for _, m in issues)


def test_many_problems_are_reported_together(demo):
    record = demo_record()
    record["anschrift"]["postleitzahl"] = "1"
    record["anzahl"] = 99
    record["unbekannt"] = 1
    assert {p for p, _ in issues_of(demo, DEMO, record)} == {"anschrift.postleitzahl", "anzahl", "unbekannt"}


def test_a_record_that_is_not_an_object_is_refused(demo):
    assert issues_of(demo, DEMO, [1, 2]) == [("", "the record must be a JSON object, got an array")]


# --- parsing --------------------------------------------------------------------------

def test_parse_reports_xsd_errors_with_line_and_xml_path(registry):
    xml = (GOLDEN / "personenstand.urkundenantrag.0100.xml").read_bytes()
    bad = xml.replace(b"<postleitzahl>80337</postleitzahl>", b"<postleitzahl>803</postleitzahl>", 1)
    assert bad != xml
    with pytest.raises(ValidationFailed) as info:
        registry.parse(bad)
    [issue] = info.value.issues
    assert issue.path.endswith("anschrift/postleitzahl") and issue.line
    assert bad.splitlines()[issue.line - 1].strip().startswith(b"<postleitzahl>803")


def test_parse_refuses_unknown_roots_and_unsafe_xml(registry):
    with pytest.raises(NotFound, match="no message type has the root element 'x'"):
        registry.parse(b"<x/>")
    with pytest.raises(XmlSecurityError):
        registry.parse(b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>')


def test_parse_keeps_text_split_by_comments(demo):
    xml = demo.to_xml(DEMO, demo_record()).replace(b"<ort>Berlin</ort>", b"<ort>Ber<!-- c -->lin</ort>")
    assert demo.parse(xml)[1]["anschrift"]["ort"] == "Berlin"
