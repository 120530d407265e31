"""The message library itself: XSDs compile offline, golden and invalid vectors agree with
them, genericode lists and the code types in basis.xsd match, examples follow the
record convention (see xsd/README.md). No gateway code is under test here except the
hardened parser, which the library's own files must pass like any input."""
from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from gateway.xml import parse as hardened_parse

ROOT = Path(__file__).resolve().parents[2]
XSD = ROOT / "xsd"
GOLDEN = ROOT / "tests" / "vectors" / "messages"
INVALID = ROOT / "tests" / "vectors" / "invalid"
EXAMPLES = ROOT / "examples"
XS = "http://www.w3.org/2001/XMLSchema"
XSN = {"xs": XS}
GC = "http://docs.oasis-open.org/codelist/ns/genericode/1.0/"
FAMILIES = {"personenstand": "pst", "korrespondenz": "kor", "akte": "akt", "transport": "trn"}
TYPE_IDS = [
    "personenstand.urkundenantrag.0100", "personenstand.urkundenantragAntwort.0101",
    "korrespondenz.schreiben.0200", "akte.abgabe.0300", "akte.beteiligung.0301",
    "transport.quittung.0900", "transport.fehler.0901",
]
LIBRARY_XSDS = sorted([XSD / "basis" / "basis.xsd", *XSD.glob("messages/*/*.xsd")])
FAMILY_XSDS = sorted(XSD.glob("messages/*/*.xsd"))
CODELISTS = sorted((XSD / "codelists").glob("*.gc"))
# what a backend may leave to the gateway (brief-library: "Records")
GATEWAY_FILLED = {"produkt", "produkthersteller", "produktversion", "standard", "version",
                  "listURI", "listVersionID", "waehrung"}


def _offline_parser() -> etree.XMLParser:
    return etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)


@cache
def lxml_schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path), _offline_parser()))


@cache
def family_schemas() -> dict[str, etree.XMLSchema]:
    """targetNamespace -> compiled lxml schema, for every family."""
    return {etree.parse(str(p)).getroot().get("targetNamespace"): lxml_schema(p) for p in FAMILY_XSDS}


@cache
def xmlschemas() -> dict[str, xmlschema.XMLSchema10]:
    return {(s := xmlschema.XMLSchema10(str(p), allow="local")).target_namespace: s for p in FAMILY_XSDS}


def schema_for(root: etree._Element) -> etree.XMLSchema:
    return family_schemas()[etree.QName(root).namespace]


def read_expected(path: Path) -> dict[str, list[str]]:
    """`key: value` lines of a NAME.expected.txt (comments with #); keys may repeat."""
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        assert sep, f"{path.name}: line without 'key:': {line!r}"
        out.setdefault(key.strip(), []).append(value.strip())
    return out


# ------------------------------------------------------------------ the schemas themselves

@pytest.mark.parametrize("path", LIBRARY_XSDS, ids=lambda p: p.name)
def test_xsd_compiles_offline_with_lxml_and_xmlschema(path):
    doc = etree.parse(str(path), _offline_parser())
    for ref in doc.findall(".//xs:import", XSN) + doc.findall(".//xs:include", XSN):
        location = ref.get("schemaLocation")
        assert location and "://" not in location, f"{path.name}: non-local schemaLocation {location!r}"
        assert (path.parent / location).resolve().is_file(), f"{path.name}: {location} does not exist"
    assert isinstance(lxml_schema(path), etree.XMLSchema)
    assert xmlschema.XMLSchema10(str(path), allow="local").validity == "valid"


@pytest.mark.parametrize("path", LIBRARY_XSDS, ids=lambda p: p.name)
def test_xsd_uses_only_constructs_the_mapper_supports(path):
    doc = etree.parse(str(path))
    forbidden = ["xs:any", "xs:anyAttribute", "xs:all", "xs:redefine", "xs:group", "xs:attributeGroup",
                 "xs:complexContent/xs:restriction", "xs:list", "xs:union"]
    for construct in forbidden:
        assert not doc.xpath(f"//{construct}", namespaces=XSN), f"{path.name} uses {construct}"
    assert not doc.xpath("//*[@mixed='true'] | //*[@substitutionGroup] | //*[@nillable='true']")
    root = doc.getroot()
    assert root.get("elementFormDefault") == "unqualified"
    assert root.get("attributeFormDefault") == "unqualified"
    assert root.get("version") == "1.0"


@pytest.mark.parametrize("path", LIBRARY_XSDS, ids=lambda p: p.name)
def test_every_type_and_element_has_german_documentation(path):
    doc = etree.parse(str(path))
    nodes = doc.xpath("/xs:schema/xs:complexType | /xs:schema/xs:simpleType | //xs:element",
                      namespaces=XSN)
    assert nodes
    for node in nodes:
        text = " ".join(node.xpath("xs:annotation/xs:documentation/text()", namespaces=XSN)).strip()
        assert len(text) >= 8, f"{path.name}: {node.get('name')} has no documentation"


@pytest.mark.parametrize("path", FAMILY_XSDS, ids=lambda p: p.name)
def test_family_roots_follow_xoev_naming_and_attributes(path):
    family = path.stem
    schema = xmlschemas()[f"urn:xoev-gateway:{family}"]
    assert schema.target_namespace == f"urn:xoev-gateway:{family}"
    assert schema.root.get("version") == "1.0"
    assert schema.elements, f"{path.name} declares no message"
    for name, element in schema.elements.items():
        assert re.fullmatch(rf"{family}\.[a-z][A-Za-z]*\.\d{{4}}", name), name
        attrs = element.type.attributes
        for required in ("produkt", "produkthersteller", "produktversion"):
            assert attrs[required].use == "required" and attrs[required].fixed is None
        assert attrs["standard"].fixed == f"XGateway-{family.capitalize()}"
        assert attrs["version"].fixed == "1.0"
        first = next(element.type.content.iter_elements())
        assert first.local_name == "nachrichtenkopf.g2g"


def test_the_seven_message_types_exist():
    declared = sorted(name for s in xmlschemas().values() for name in s.elements)
    assert declared == sorted(TYPE_IDS)


# ------------------------------------------------------------------ code lists

@cache
def codelists() -> dict[tuple[str, str], dict[str, str]]:
    """(CanonicalUri, Version) -> {code: name}, read with the hardened parser."""
    lists = {}
    for path in CODELISTS:
        root = hardened_parse(path.read_bytes()).getroot()
        assert root.tag == f"{{{GC}}}CodeList", path.name
        ident = root.find("Identification")
        short, version, uri = (ident.findtext(t) for t in ("ShortName", "Version", "CanonicalUri"))
        assert short == path.stem
        assert uri == f"urn:xoev-gateway:codeliste:{short}"
        assert ident.findtext("CanonicalVersionUri") == f"{uri}_{version}"
        assert [c.get("Id") for c in root.iterfind("ColumnSet/Column")] == ["code", "name"]
        assert root.find("ColumnSet/Key/ColumnRef").get("Ref") == "code"
        rows = {}
        for row in root.iterfind("SimpleCodeList/Row"):
            cells = {v.get("ColumnRef"): v.findtext("SimpleValue") for v in row.iterfind("Value")}
            assert cells["code"] and cells["name"], f"{path.name}: empty cell in {cells}"
            assert cells["code"] not in rows, f"{path.name}: code {cells['code']} twice"
            rows[cells["code"]] = cells["name"]
        assert rows, f"{path.name} has no rows"
        lists[(uri, version)] = rows
    return lists


def _fixed_list_pairs() -> set[tuple[str, str]]:
    """Every (listURI, listVersionID) fixed by a code type in the library."""
    pairs = set()
    for path in LIBRARY_XSDS:
        for ctype in etree.parse(str(path)).iterfind(".//xs:complexType", XSN):
            uri = ctype.find("xs:attribute[@name='listURI']", XSN)
            version = ctype.find("xs:attribute[@name='listVersionID']", XSN)
            if uri is not None:
                assert uri.get("use") == version.get("use") == "required", ctype.get("name")
                pairs.add((uri.get("fixed"), version.get("fixed")))
    return pairs


def test_codelists_parse_and_match_the_code_types_one_to_one():
    pairs = _fixed_list_pairs()
    assert None not in {p for pair in pairs for p in pair}, "a code type without fixed list"
    assert pairs == set(codelists()), "code types and genericode files differ"


def test_nachrichtentyp_list_names_exactly_the_message_roots():
    assert set(codelists()[("urn:xoev-gateway:codeliste:nachrichtentyp", "1.0")]) == set(TYPE_IDS)


# ------------------------------------------------------------------ golden vectors

def _canonical(xml: bytes) -> bytes:
    """The comparison the mapper's tests use: C14N after dropping indentation whitespace."""
    return etree.tostring(etree.fromstring(xml, etree.XMLParser(remove_blank_text=True)), method="c14n")


@pytest.mark.parametrize("type_id", TYPE_IDS)
def test_golden_xml_is_valid_and_serialized_as_lxml_pretty_print(type_id):
    data = (GOLDEN / f"{type_id}.xml").read_bytes()
    tree = hardened_parse(data)
    root = tree.getroot()
    family = type_id.split(".")[0]
    assert etree.QName(root).localname == type_id
    assert root.nsmap == {FAMILIES[family]: f"urn:xoev-gateway:{family}"}
    schema = schema_for(root)
    assert schema.validate(tree), schema.error_log
    xmlschemas()[f"urn:xoev-gateway:{family}"].validate(str(GOLDEN / f"{type_id}.xml"))
    again = etree.tostring(etree.fromstring(data, etree.XMLParser(remove_blank_text=True)),
                           xml_declaration=True, encoding="UTF-8", pretty_print=True)
    assert again == data
    unindented = etree.tostring(etree.fromstring(data, etree.XMLParser(remove_blank_text=True)))
    assert b"\n  <" not in unindented
    assert _canonical(unindented) == _canonical(data), "C14N comparison ignores indentation"
    code = root.findtext("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp/code")
    assert code == type_id


def _key(name: str) -> str:
    first, *rest = name.split(".")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _builtin(xsd_type) -> str:
    while not (xsd_type.name or "").startswith(f"{{{XS}}}"):
        xsd_type = xsd_type.base_type
    return etree.QName(xsd_type.name).localname


def _value(text: str, xsd_type):
    builtin = _builtin(xsd_type)
    if builtin in ("integer", "nonNegativeInteger", "positiveInteger"):
        return int(text)
    if builtin == "boolean":
        return text in ("true", "1")
    return text


def _record(node: etree._Element, decl) -> object:
    """Test oracle for the record convention (xsd/README.md), independent of gateway.mapping."""
    xsd_type = decl.type
    if xsd_type.is_simple():
        return _value(node.text or "", xsd_type)
    record = {name: _value(v, xsd_type.attributes[name].type) for name, v in node.attrib.items()}
    if xsd_type.has_simple_content():
        record["value"] = _value(node.text or "", xsd_type.content)
        return record
    children = {e.local_name: e for e in xsd_type.content.iter_elements()}
    for child in node:
        child_decl = children[child.tag]
        value = _record(child, child_decl)
        if child_decl.max_occurs is None or child_decl.max_occurs > 1:
            record.setdefault(_key(child.tag), []).append(value)
        else:
            assert _key(child.tag) not in record
            record[_key(child.tag)] = value
    return record


@pytest.mark.parametrize("type_id", TYPE_IDS)
def test_golden_record_is_the_xml_by_the_record_convention(type_id):
    root = etree.parse(str(GOLDEN / f"{type_id}.xml")).getroot()
    schema = xmlschemas()[etree.QName(root).namespace]
    expected = _record(root, schema.elements[type_id])
    assert json.loads((GOLDEN / f"{type_id}.json").read_text(encoding="utf-8")) == expected


def _codes(record, found=None) -> list[tuple[str, str, str]]:
    """(listURI, listVersionID, code) of every code in a complete record."""
    found = [] if found is None else found
    if isinstance(record, dict):
        if "listURI" in record:
            found.append((record["listURI"], record["listVersionID"], record["code"]))
        for value in record.values():
            _codes(value, found)
    elif isinstance(record, list):
        for item in record:
            _codes(item, found)
    return found


def _iban_ok(iban: str) -> bool:
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


@pytest.mark.parametrize("type_id", TYPE_IDS)
def test_every_code_in_a_golden_vector_is_in_its_list(type_id):
    record = json.loads((GOLDEN / f"{type_id}.json").read_text(encoding="utf-8"))
    codes = _codes(record)
    assert codes
    for uri, version, code in codes:
        assert code in codelists()[(uri, version)], f"{code} not in {uri} {version}"


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.xml")) + sorted(EXAMPLES.glob("*.json")),
                         ids=lambda p: p.name)
def test_business_data_in_vectors_and_examples_is_plausible(path):
    text = path.read_text(encoding="utf-8")
    ibans = re.findall(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b", text)
    assert all(_iban_ok(i) for i in ibans), ibans
    for kennung in re.findall(r"\b(?:ags|psw):(\w+)", text):
        assert re.fullmatch(r"(0[1-9]|1[0-6])\d{6}", kennung), kennung
    for born in re.findall(r"geburtsdatum\W+(\d{4}-\d\d-\d\d)", text):
        assert born < "2025-01-01"


# ------------------------------------------------------------------ examples

def _keys_allowed(record: dict, xsd_type, path: str = "") -> None:
    """Every key of a (short) record names an attribute, element or `value` of the type."""
    allowed = set(xsd_type.attributes)
    if xsd_type.has_simple_content():
        allowed.add("value")
    children = {} if xsd_type.is_simple() or xsd_type.has_simple_content() else {
        _key(e.local_name): e for e in xsd_type.content.iter_elements()}
    for key, value in record.items():
        where = f"{path}.{key}" if path else key
        assert key in allowed or key in children, f"unknown field {where}"
        assert key not in GATEWAY_FILLED, f"{where} is filled in by the gateway"
        decl = children.get(key)
        if decl is None:
            continue
        repeated = decl.max_occurs is None or decl.max_occurs > 1
        assert isinstance(value, list) == repeated, f"{where}: array iff the element repeats"
        for i, item in enumerate(value if repeated else [value]):
            if isinstance(item, dict):
                _keys_allowed(item, decl.type, f"{where}[{i}]" if repeated else where)


@pytest.mark.parametrize("type_id", TYPE_IDS)
def test_example_is_a_short_record_of_its_type(type_id):
    record = json.loads((EXAMPLES / f"{type_id}.json").read_text(encoding="utf-8"))
    header = record["nachrichtenkopfG2g"]
    assert set(header) == {"leser"}, "examples leave identification and autor to the gateway"
    schema = xmlschemas()[f"urn:xoev-gateway:{type_id.split('.')[0]}"]
    _keys_allowed(record, schema.elements[type_id].type)


def test_one_example_and_one_golden_pair_per_type():
    assert sorted(p.stem for p in EXAMPLES.glob("*.json")) == sorted(TYPE_IDS)
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(TYPE_IDS)
    assert sorted(p.stem for p in GOLDEN.glob("*.xml")) == sorted(TYPE_IDS)


# ------------------------------------------------------------------ invalid vectors

INVALID_XML = sorted(INVALID.glob("*.xml"))
INVALID_JSON = sorted(INVALID.glob("*.json"))


def test_there_are_enough_invalid_vectors_of_every_kind():
    checks = [read_expected(p.with_suffix(".expected.txt"))["check"][0] for p in INVALID_XML]
    assert len(INVALID_XML) >= 10 and len(INVALID_JSON) >= 3
    assert {"schema", "codelist", "rule", "parse"} <= set(checks)


@pytest.mark.parametrize("path", INVALID_XML + INVALID_JSON, ids=lambda p: p.name)
def test_invalid_vector_has_a_well_formed_expectation(path):
    expected = read_expected(path.with_suffix(".expected.txt"))
    assert expected.get("message"), "at least one message fragment"
    assert set(expected) <= {"type", "check", "line", "path", "message"}
    for key in ("type", "check", "line", "path"):
        assert len(expected.get(key, [])) <= 1, f"{key} given twice"
    if path.suffix == ".json":
        assert expected["type"][0] in TYPE_IDS and "path" in expected and "line" not in expected
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    else:
        assert "type" not in expected and expected["check"][0] in ("parse", "schema", "codelist", "rule")


@pytest.mark.parametrize("path", INVALID_XML, ids=lambda p: p.name)
def test_invalid_xml_vector_fails_exactly_where_it_says(path):
    """schema vectors fail lxml at the stated line; parse vectors fail the hardened parser;
    codelist and rule vectors are schema-valid, so they isolate the one violation."""
    expected = read_expected(path.with_suffix(".expected.txt"))
    check = expected["check"][0]
    data = path.read_bytes()
    if check == "parse":
        with pytest.raises(Exception) as caught:
            hardened_parse(data)
        assert type(caught.value).__name__ == "XmlSecurityError"
        for fragment in expected["message"]:
            assert fragment in str(caught.value)
        return
    tree = hardened_parse(data)
    schema = schema_for(tree.getroot())
    valid = schema.validate(tree)
    if check == "schema":
        assert not valid
        assert [e.line for e in schema.error_log] == [int(expected["line"][0])]
    else:
        assert valid, schema.error_log
        steps = expected["path"][0].split("/")[1:]
        target = tree.getroot()
        for step in steps:
            name, _, index = step.partition("[")
            target = target.findall(name)[int(index.rstrip("]") or 1) - 1]
        assert target.sourceline == int(expected["line"][0])
