"""Code lists compiled into the XSD (gateway/validation/codeschema.py): which code types are
covered, that libxml2 then rejects bad codes, and that the issues stay the code-list ones."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from golden_antrag import antrag
from lxml import etree

from gateway.resources import xsd_dir
from gateway.validation import CodeLists, Validator, load_standard, own_standard
from gateway.validation.codeschema import plan_codes
from gateway.validation.xsdtree import parse_schema_documents

ROOT = "personenstand.urkundenantrag.0100"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
GC = """<gc:CodeList xmlns:gc="http://docs.oasis-open.org/codelist/ns/genericode/1.0/">
  <Identification><ShortName>{name}</ShortName><Version>1</Version>
    <CanonicalUri>urn:test:{name}</CanonicalUri></Identification>
  <ColumnSet><Column Id="code"><ShortName>c</ShortName></Column></ColumnSet>
  <SimpleCodeList>{rows}</SimpleCodeList></gc:CodeList>"""


@pytest.fixture(scope="module")
def own() -> Validator:
    return Validator.from_standards([own_standard(xsd_dir())])


def test_every_own_code_type_is_compiled_and_the_python_pass_is_not_needed(own):
    all_lists = {(cl.uri, cl.version) for cl in own.catalog.codelists}
    for namespace, version, _ in own.catalog.known():
        compiled = own.catalog.select(etree.Element(f"{{{namespace}}}x", version=version))
        assert compiled.codes_complete, namespace
        assert compiled.code_pairs <= all_lists and len(compiled.code_pairs) == len(all_lists)


def test_libxml2_itself_rejects_a_code_missing_from_its_list(own):
    tree = etree.fromstring(antrag(("<code>GEB-MEHRSPR</code>", "<code>GEB-XXL</code>"))).getroottree()
    compiled = own.catalog.select(tree.getroot())
    assert compiled.schema.validate(tree) is False
    assert "[facet 'enumeration']" in compiled.schema.error_log[0].message


def test_the_schema_files_are_not_touched():
    files = sorted(xsd_dir().rglob("*.xsd"))
    before = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    Validator.from_standards([own_standard(xsd_dir())])
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in files] == before


def test_only_bad_codes_report_one_codelist_issue_each_in_document_order(own):
    xml = antrag(("<code>w</code>", "<code>q</code>"), ("<code>GEB-MEHRSPR</code>", "<code>GEB-XXL</code>"),
                 ("<code>FR</code>", "<code>ZZ</code>"))
    issues = own.validate(xml, now=NOW)
    assert [(i.check, i.path) for i in issues] == [
        ("codelist", f"{ROOT}/antragsteller/geschlecht/code"),
        ("codelist", f"{ROOT}/urkundenart/code"),
        ("codelist", f"{ROOT}/versandanschrift/staat/code")]
    assert issues[2].message == "code 'ZZ' is not in code list urn:xoev-gateway:codeliste:staat version 1.0"
    assert issues[2].line == xml.decode().split("<code>ZZ")[0].count("\n") + 1


def test_token_whitespace_and_comments_in_a_code_are_what_the_schema_reads(own):
    assert own.validate(antrag(("<code>GEB-MEHRSPR</code>", "<code>\n  GEB-MEHRSPR </code>")), now=NOW) == []
    assert own.validate(antrag(("<code>GEB-MEHRSPR</code>", "<code>GEB<!-- x -->-MEHRSPR</code>")), now=NOW) == []
    (issue,) = own.validate(antrag(("<code>GEB-MEHRSPR</code>", "<code> GEB  XXL </code>")), now=NOW)
    assert issue.check == "codelist" and "code 'GEB XXL' is not in" in issue.message


def test_a_bad_code_next_to_a_schema_error_reports_the_schema_error_only(own):
    xml = antrag(("<code>GEB-MEHRSPR</code>", "<code>GEB-XXL</code>"),
                 ("<anzahl>2</anzahl>", "<anzahl>zwei</anzahl>"))
    (issue,) = own.validate(xml, now=NOW)
    assert issue.check == "schema" and issue.path == f"{ROOT}/anzahl"


def test_a_wrong_list_version_is_a_schema_issue_not_a_code_issue(own):
    xml = antrag(('codeliste:urkundenart" listVersionID="1.0"', 'codeliste:urkundenart" listVersionID="2.0"'),
                 ("<code>GEB-MEHRSPR</code>", "<code>GEB-XXL</code>"))
    assert {(i.check, i.path) for i in own.validate(xml, now=NOW)} == {
        ("schema", f"{ROOT}/urkundenart/@listVersionID")}


# --- which code types a schema set can take its lists: plan_codes on small schemas ---------

XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test"
  xmlns:t="urn:test" elementFormDefault="qualified">
  <xs:complexType name="Farbe"><xs:sequence><xs:element name="code" type="xs:token"/></xs:sequence>
    <xs:attribute name="listURI" use="required" fixed="urn:test:farbe"/>
    <xs:attribute name="listVersionID" use="required" fixed="1"/></xs:complexType>
  {extra}
  <xs:element name="m"><xs:complexType><xs:sequence>
    <xs:element name="farbe" type="t:Farbe" maxOccurs="unbounded"/>{elements}
  </xs:sequence><xs:attribute name="version"/></xs:complexType></xs:element>
</xs:schema>"""
OPTIONAL = """<xs:complexType name="Form"><xs:sequence><xs:element name="code" type="xs:token"/></xs:sequence>
    <xs:attribute name="listURI" fixed="urn:test:form"/>
    <xs:attribute name="listVersionID" fixed="1"/></xs:complexType>"""
NO_LIST = """<xs:complexType name="Ton"><xs:sequence><xs:element name="code" type="xs:token"/></xs:sequence>
    <xs:attribute name="listURI" use="required" fixed="urn:test:ton"/>
    <xs:attribute name="listVersionID" use="required" fixed="1"/></xs:complexType>"""
DERIVED = """<xs:complexType name="Farbe2"><xs:complexContent><xs:restriction base="t:Farbe">
    <xs:sequence><xs:element name="code" type="xs:token"/></xs:sequence></xs:restriction>
    </xs:complexContent></xs:complexType>"""


def lists(tmp_path: Path, **codes: list[str]) -> Path:
    folder = tmp_path / "listen"
    folder.mkdir(exist_ok=True)
    for name, values in codes.items():
        rows = "".join(f"<Row><Value><SimpleValue>{escape(c)}</SimpleValue></Value></Row>" for c in values)
        (folder / f"{name}.gc").write_text(GC.format(name=name, rows=rows), encoding="utf-8")
    return folder


def plan(tmp_path, extra="", elements="", **codes):
    roots = parse_schema_documents({"/s.xsd": XSD.format(extra=extra, elements=elements).encode()})
    return plan_codes(roots, CodeLists.load(lists(tmp_path, **codes))), roots["/s.xsd"]


def test_plan_covers_a_fixed_required_code_type_with_a_loaded_list(tmp_path):
    result, root = plan(tmp_path, farbe=["rot", "blau"])
    assert result.pairs == {("urn:test:farbe", "1")} and result.complete
    assert result.changed == {"/s.xsd"}
    assert [e.get("value") for e in root.findall(".//{*}enumeration")] == ["rot", "blau"]


@pytest.mark.parametrize("extra, elements, why", [
    (OPTIONAL, '<xs:element name="form" type="t:Form"/>', "attributes fixed but optional"),
    (NO_LIST, '<xs:element name="ton" type="t:Ton"/>', "list not loaded"),
    (DERIVED, '<xs:element name="farbe2" type="t:Farbe2"/>', "derived from a code type"),
    ("", '<xs:any processContents="lax"/>', "wildcard"),
    ("", '<xs:element name="frei"/>', "element of anyType"),
])
def test_plan_is_incomplete_where_it_cannot_prove_every_code_is_compiled(tmp_path, extra, elements, why):
    result, _ = plan(tmp_path, extra, elements, farbe=["rot"], form=["A"])
    assert result.pairs == {("urn:test:farbe", "1")}, why
    assert not result.complete, why


def test_plan_leaves_code_elements_of_other_shapes_alone(tmp_path):
    odd = XSD.replace('name="code" type="xs:token"', 'name="code" type="xs:string"')
    roots = parse_schema_documents({"/s.xsd": odd.format(extra="", elements="").encode()})
    result = plan_codes(roots, CodeLists.load(lists(tmp_path, farbe=["rot"])))
    assert result.changed == frozenset() and result.pairs == frozenset() and not result.complete


def test_partly_compiled_standard_reports_each_bad_code_once(tmp_path):
    folder = tmp_path / "std"
    folder.mkdir()
    (folder / "s.xsd").write_text(XSD.format(
        extra=OPTIONAL + NO_LIST,
        elements='<xs:element name="form" type="t:Form"/><xs:element name="ton" type="t:Ton"/>'))
    lists(folder, farbe=["rot", "blau"], form=["A"])
    (folder / "standard.toml").write_text(
        'name = "T"\ncodelists = "listen"\n[[schemas]]\nfile = "s.xsd"\nversion = "1"\n')
    validator = Validator.from_standards([load_standard(folder)])
    doc = ('<m xmlns="urn:test" version="1">'
           '<farbe listURI="urn:test:farbe" listVersionID="1"><code>rot</code></farbe>\n'
           '<farbe listURI="urn:test:farbe" listVersionID="1"><code>gelb</code></farbe>\n'
           '<form listURI="urn:test:form" listVersionID="1"><code>B</code></form>\n'
           '<ton listURI="urn:test:ton" listVersionID="1"><code>C</code></ton></m>').encode()
    issues = validator.validate(doc, now=NOW)
    assert [(i.check, i.path, i.line, i.message) for i in issues] == [
        ("codelist", "m/farbe[2]/code", 2, "code 'gelb' is not in code list urn:test:farbe version 1"),
        ("codelist", "m/form/code", 3, "code 'B' is not in code list urn:test:form version 1"),
        ("codelist", "m/ton", 4, "unknown code list urn:test:ton version 1"),
    ]


def standard(tmp_path: Path, extra: str, elements: str, **codes: list[str]) -> Validator:
    folder = tmp_path / "std"
    folder.mkdir()
    (folder / "s.xsd").write_text(XSD.format(extra=extra, elements=elements))
    lists(folder, **codes)
    (folder / "standard.toml").write_text(
        'name = "T"\ncodelists = "listen"\n[[schemas]]\nfile = "s.xsd"\nversion = "1"\n')
    return Validator.from_standards([load_standard(folder)])


def test_lists_with_the_same_codes_are_told_apart_by_the_parent(tmp_path):
    tint = NO_LIST.replace("Ton", "Tint").replace("urn:test:ton", "urn:test:tint")
    codes = ["rot", "it's", 'say "x"', "a&b"]
    validator = standard(tmp_path, tint, '<xs:element name="tint" type="t:Tint"/>', farbe=codes, tint=codes)
    compiled = validator.catalog.select(etree.Element("{urn:test}m", version="1"))
    assert compiled.codes_complete and len(compiled.code_sets) == 1
    doc = ('<m xmlns="urn:test" version="1">'
           '<farbe listURI="urn:test:farbe" listVersionID="1"><code>say "x"</code></farbe>'
           '<farbe listURI="urn:test:farbe" listVersionID="1"><code>its</code></farbe>'
           '<tint listURI="urn:test:tint" listVersionID="1"><code>a&amp;c</code></tint></m>').encode()
    assert [(i.check, i.path, i.message) for i in validator.validate(doc, now=NOW)] == [
        ("codelist", "m/farbe[2]/code", "code 'its' is not in code list urn:test:farbe version 1"),
        ("codelist", "m/tint/code", "code 'a&c' is not in code list urn:test:tint version 1"),
    ]


def test_a_long_list_stays_in_python(tmp_path):
    from gateway.validation.codeschema import MAX_CODES

    many = [f"C{i}" for i in range(MAX_CODES + 1)]
    validator = standard(tmp_path, "", "", farbe=many)
    compiled = validator.catalog.select(etree.Element("{urn:test}m", version="1"))
    assert compiled.code_sets == {} and not compiled.codes_complete
    doc = b'<m xmlns="urn:test" version="1"><farbe listURI="urn:test:farbe" listVersionID="1"><code>X</code></farbe></m>'
    (issue,) = validator.validate(doc, now=NOW)
    assert (issue.check, issue.message) == ("codelist", "code 'X' is not in code list urn:test:farbe version 1")
