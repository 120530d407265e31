"""Value rules compiled into the XSD (gateway/validation/ruleschema.py): the XSD form of the
rules says exactly what the Python rules say, it is inserted only where it provably covers
every element of the name, and issues keep their wording, check and layer."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from golden_antrag import antrag
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.resources import xsd_dir
from gateway.validation import Validator, authority_id_problem, own_standard
from gateway.validation.rules import BIC_REGEX, _bic
from gateway.validation.ruleschema import (
    RULE_PATTERNS,
    is_rule_error,
    plan_rules,
    xsd_regex,
)
from gateway.validation.xsdtree import parse_schema_documents

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ROOT = "personenstand.urkundenantrag.0100"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def own() -> Validator:
    return Validator.from_standards([own_standard(xsd_dir())])


def _pattern_schema(pattern: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.fromstring(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="v">'
        '<xs:simpleType><xs:restriction base="xs:token"><xs:pattern value="'
        + pattern.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        + '"/></xs:restriction></xs:simpleType></xs:element></xs:schema>'))


KENNUNG = _pattern_schema(RULE_PATTERNS["kennung"])
BIC = _pattern_schema(RULE_PATTERNS["bic"])


def _accepts(schema: etree.XMLSchema, value: str) -> bool:
    el = etree.Element("v")
    el.text = value
    return schema.validate(el)


_ALPHABET = st.sampled_from(list("agsrpwdvbztAGSKk\u212a019:._-xY\u0663 /"))


@settings(max_examples=400, deadline=None)
@given(prefix=st.sampled_from(["ags", "ARS", "psw", "dvdv", "bzst", "Ags", "bz\u212a", "xyz", ""]),
       rest=st.text(_ALPHABET, max_size=25))
def test_the_authority_pattern_accepts_exactly_what_the_rule_accepts(prefix, rest):
    value = f"{prefix}:{rest}".strip()
    assert " " not in value or not _accepts(KENNUNG, value)
    if " " in value.strip():
        return  # the schema collapses inner spaces; the rule then fails as well
    assert _accepts(KENNUNG, value) == (authority_id_problem(value) is None), value


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list("ABCDEFZ0189xß")), min_size=6, max_size=13))
def test_the_bic_pattern_accepts_exactly_what_the_rule_accepts(value):
    assert _accepts(BIC, value) == (_bic(value) is None), value


def test_only_the_kelvin_sign_lowers_to_an_ascii_letter_besides_ascii_letters():
    odd = [hex(i) for i in range(0x80, 0x110000)
           if len(chr(i).lower()) == 1 and chr(i).lower().isascii() and chr(i).lower().isalpha()]
    assert odd == ["0x212a"]   # _any_case relies on this


@pytest.mark.parametrize("python, xsd", [
    (r"\d{8}", r"\d{8}"),
    (r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}"),
    (BIC_REGEX, "[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?"),
    (r"a\.b|c+", r"a\.b|c+"),
])
def test_xsd_regex_translates_the_simple_forms(python, xsd):
    assert xsd_regex(python) == xsd


@pytest.mark.parametrize("python", [r"\w+", r"a.b", r"^ab$", r"a+?", r"(?i)ab", r"(?=a)b", r"[a-[b]]", r"\s"])
def test_xsd_regex_refuses_what_means_something_else_in_xsd(python):
    assert xsd_regex(python) is None


def test_own_library_compiles_both_rules(own):
    for namespace, version, _ in own.catalog.known():
        compiled = own.catalog.select(etree.Element(f"{{{namespace}}}x", version=version))
        assert compiled.rules_compiled == {"kennung", "bic"}, namespace
        # the BIC type's own pattern is the rule's: nothing inserted for it
        assert set(compiled.rule_patterns.values()) <= {"kennung"}, namespace


def test_a_type_whose_pattern_is_the_rule_gets_nothing_inserted():
    xsd = XSD.replace('<xs:maxLength value="40"/>', '<xs:pattern value="ags:[0-9]{{8}}"/>')
    roots = parse_schema_documents({"/s.xsd": xsd.format(extra="", elements="").encode()})
    result = plan_rules(roots, {"kennung": "ags:[0-9]{8}"}, {"kennung": frozenset({"erreichbarkeit"})})
    assert result.compiled == {"kennung"} and result.patterns == {} and result.changed == frozenset()


def test_libxml2_rejects_an_unknown_authority_prefix_with_the_inserted_pattern(own):
    tree = etree.fromstring(antrag(("<kennung>psw:09162000</kennung>", "<kennung>xyz:1</kennung>"))).getroottree()
    compiled = own.catalog.select(tree.getroot())
    assert compiled.schema.validate(tree) is False
    assert is_rule_error(compiled.schema.error_log[0].message, compiled.rule_patterns)


def test_a_bad_authority_id_alone_is_the_rule_issue_and_the_other_rules_still_run(own):
    long_id = "bzst:" + "A" * 21          # the schema's Kennung allows it, the rule does not
    xml = antrag(("<kennung>psw:09162000</kennung>", f"<kennung>{long_id}</kennung>"),
                 ("<geburtsdatum>2024-11-03</geburtsdatum>", "<geburtsdatum>2025-06-02</geburtsdatum>"),
                 ("<code>GEB-MEHRSPR</code>", "<code>GEB-XXL</code>"))
    issues = own.validate(xml, now=NOW)
    assert [(i.check, i.path) for i in issues] == [
        ("codelist", f"{ROOT}/urkundenart/code"),
        ("rule", f"{ROOT}/nachrichtenkopf.g2g/leser/kennung"),
        ("rule", f"{ROOT}/betroffenePerson/geburt/geburtsdatum"),
    ]
    assert issues[1].message == (f"'{long_id}' is not a valid bzst id: expected Bundeszentralamt "
                                 "für Steuern id (up to 20 letters/digits)")
    assert issues[1].line == xml.decode().split("<kennung>bzst")[0].count("\n") + 1


def test_a_kennung_the_schema_itself_refuses_stays_a_schema_issue(own):
    (issue,) = own.validate(antrag(("<kennung>psw:09162000</kennung>", "<kennung>09162000</kennung>")), now=NOW)
    assert issue.check == "schema" and issue.path == f"{ROOT}/nachrichtenkopf.g2g/leser/kennung"
    assert issue.message.startswith("'09162000' does not match the required pattern [a-z]{2,10}:")


def test_a_bad_authority_id_next_to_a_schema_error_reports_the_schema_error_only(own):
    xml = antrag(("<kennung>psw:09162000</kennung>", "<kennung>xyz:1</kennung>"),
                 ("<anzahl>2</anzahl>", "<anzahl>zwei</anzahl>"))
    assert [(i.check, i.path) for i in own.validate(xml, now=NOW)] == [("schema", f"{ROOT}/anzahl")]


def test_values_split_by_a_comment_are_judged_whole(own):
    assert own.validate(antrag(("<kennung>psw:09162000</kennung>", "<kennung>psw:0916<!-- x -->2000</kennung>"),
                               ("DE89370400440532013000", "DE8937040044<!-- y -->0532013000")), now=NOW) == []
    (issue,) = own.validate(antrag(("<kennung>psw:09162000</kennung>", "<kennung>psw:0916<!-- x -->200</kennung>")),
                            now=NOW)
    assert (issue.check, issue.message) == ("rule", "'psw:0916200' is not a valid psw id: expected 8-digit "
                                                    "civil registry office number (Personenstandswesen)")
    (issue,) = own.validate(antrag(("<geburtsdatum>2024-11-03</geburtsdatum>",
                                    "<geburtsdatum>2025-06-0<!-- x -->2</geburtsdatum>")), now=NOW)
    assert (issue.check, issue.message) == ("rule", "date of birth 2025-06-02 lies in the future")


# --- where the patterns go: plan_rules on small schemas --------------------------------------

XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns:t="urn:t">
  <xs:simpleType name="Id"><xs:restriction base="xs:token"><xs:maxLength value="40"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="Text"><xs:restriction base="xs:token"/></xs:simpleType>
  <xs:complexType name="Stelle"><xs:sequence><xs:element name="kennung" type="t:Id"/></xs:sequence></xs:complexType>
  <xs:complexType name="Weg"><xs:sequence><xs:element name="kennung" type="t:Text"/></xs:sequence></xs:complexType>
  {extra}
  <xs:element name="m"><xs:complexType><xs:sequence>
    <xs:element name="autor" type="t:Stelle"/>
    <xs:element name="erreichbarkeit" type="t:Weg" minOccurs="0"/>{elements}
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"""


def plan(extra="", elements=""):
    roots = parse_schema_documents({"/s.xsd": XSD.format(extra=extra, elements=elements).encode()})
    return plan_rules(roots, {"kennung": "ags:[0-9]{8}"}, {"kennung": frozenset({"erreichbarkeit"})}), roots


def test_plan_inserts_the_pattern_below_the_type_of_the_covered_declarations():
    result, roots = plan()
    assert result.compiled == {"kennung"} and result.patterns == {"ags:[0-9]{8}": "kennung"}
    root = roots["/s.xsd"]
    inserted = root.find("{*}simpleType[@name='Id.gw-kennung']")
    assert inserted.find("{*}restriction").get("base") == "xs:token"
    assert inserted.find("{*}restriction/{*}pattern").get("value") == "ags:[0-9]{8}"
    assert root.find("{*}simpleType[@name='Id']/{*}restriction").get("base") == "t:Id.gw-kennung"
    assert root.find("{*}simpleType[@name='Text']/{*}restriction").get("base") == "xs:token"
    schema = etree.XMLSchema(root)
    ok = etree.fromstring('<t:m xmlns:t="urn:t"><autor><kennung>ags:09162000</kennung></autor>'
                          '<erreichbarkeit><kennung>https://x</kennung></erreichbarkeit></t:m>')
    assert schema.validate(ok), schema.error_log
    bad = etree.fromstring('<t:m xmlns:t="urn:t"><autor><kennung>ags:1</kennung></autor></t:m>')
    assert not schema.validate(bad) and is_rule_error(schema.error_log[0].message, result.patterns)


@pytest.mark.parametrize("extra, elements, why", [
    ("", '<xs:element name="weg2" type="t:Weg"/><xs:element name="andere" type="t:Weg"/>',
     "a type under erreichbarkeit and elsewhere"),
    ('<xs:complexType name="Weg2"><xs:complexContent><xs:extension base="t:Stelle"/></xs:complexContent>'
     '</xs:complexType>', '<xs:element name="x" type="t:Weg2"/><xs:element name="erreichbarkeit" type="t:Weg2"/>',
     "the derivation family reaches erreichbarkeit"),
    ("", '<xs:element name="name" type="t:Id"/>', "the simple type serves another element"),
    ('<xs:element name="kennung" type="t:Id"/>', "", "a global declaration"),
    ("", '<xs:element name="o"><xs:complexType><xs:sequence><xs:element name="kennung" type="t:Id" '
         'nillable="true"/></xs:sequence></xs:complexType></xs:element>', "nillable"),
    ("", '<xs:element name="o"><xs:complexType><xs:sequence><xs:element name="kennung" type="xs:token"/>'
         '</xs:sequence></xs:complexType></xs:element>', "a built-in type"),
    ("", '<xs:any processContents="lax"/>', "a wildcard"),
])
def test_plan_leaves_the_rule_to_python_where_it_cannot_cover_every_element(extra, elements, why):
    result, _ = plan(extra, elements)
    assert result.compiled == frozenset() and result.patterns == {}, why


def test_standards_without_rules_get_no_rule_patterns():
    from gateway.validation import load_standard

    xtermin = Validator.from_standards([load_standard(VECTORS / "thirdparty" / "xtermin")])
    for _, version, _ in xtermin.catalog.known():
        compiled = xtermin.catalog.select(etree.Element("{urn:example:xtermin}x", version=version))
        assert compiled.rules_compiled == frozenset() and compiled.rule_patterns == {}
