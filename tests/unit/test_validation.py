"""The Validator's layers on our own message library (parse, XSD, code lists, rules)."""
from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from golden_antrag import antrag
from lxml import etree

from gateway import config as gwconfig
from gateway.errors import ValidationFailed
from gateway.resources import xsd_dir
from gateway.validation import Validator, own_standard


def _root_conftest():
    """tests/conftest.py (tests/ is not a package): `need` and ROOT."""
    spec = importlib.util.spec_from_file_location(
        "_gateway_tests_root", Path(__file__).resolve().parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROOT, need = _root_conftest().ROOT, _root_conftest().need
VECTORS = ROOT / "tests" / "vectors"
MESSAGES = sorted((VECTORS / "messages").glob("*.xml"))
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
ROOT_NAME = "personenstand.urkundenantrag.0100"


@pytest.fixture(scope="module")
def validator() -> Validator:
    need((xsd_dir() / "basis" / "basis.xsd").is_file(), "xsd/basis/basis.xsd not written yet")
    return Validator.from_standards([own_standard(xsd_dir())])


def only(issues, check):
    assert issues, "expected an issue"
    assert {i.check for i in issues} == {check}, [i.format() for i in issues]
    return issues


def line_of(xml: bytes, needle: str) -> int:
    return xml.decode("utf-8").split(needle)[0].count("\n") + 1


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.stem)
def test_every_golden_message_is_valid(validator, path):
    assert validator.validate(path.read_bytes(), now=NOW) == []


def test_all_seven_message_types_have_a_schema(validator):
    namespaces = {ns for ns, _v, _s in validator.catalog.known()}
    assert {"urn:xoev-gateway:personenstand", "urn:xoev-gateway:korrespondenz",
            "urn:xoev-gateway:akte", "urn:xoev-gateway:transport"} <= namespaces


def test_pattern_violation_names_path_line_and_rule(validator):
    xml = antrag(("<postleitzahl>80337</postleitzahl>", "<postleitzahl>123</postleitzahl>"))
    (issue,) = only(validator.validate(xml, now=NOW), "schema")
    assert issue.path == f"{ROOT_NAME}/antragsteller/anschrift/postleitzahl"
    assert issue.line == line_of(xml, "<postleitzahl>123")
    assert issue.message == "'123' does not match the required pattern [0-9]{5}"
    assert issue.format("a.xml") == f"a.xml:{issue.line}: {issue.path}: {issue.message}"


def test_missing_child_is_reported_on_the_parent(validator):
    xml = antrag(("<ort>München</ort>\n    </anschrift>", "</anschrift>"))
    (issue,) = only(validator.validate(xml, now=NOW), "schema")
    assert issue.path == f"{ROOT_NAME}/antragsteller/anschrift"
    assert issue.message == "missing required element 'ort'"


def test_unexpected_element_and_wrong_date(validator):
    xml = antrag(("<geburtsdatum>1988-05-12</geburtsdatum>", "<geburtsdatum>12.05.1988</geburtsdatum>"),
                 ("<anzahl>2</anzahl>", "<anzahl>2</anzahl><farbe>blau</farbe>"))
    issues = only(validator.validate(xml, now=NOW), "schema")
    by_path = {i.path: i.message for i in issues}
    assert by_path[f"{ROOT_NAME}/antragsteller/geburt/geburtsdatum"] == "'12.05.1988' is not a date (YYYY-MM-DD)"
    assert by_path[f"{ROOT_NAME}/farbe"].startswith("unexpected element 'farbe'")


def test_attribute_problem_path_ends_in_the_attribute(validator):
    xml = antrag(('listURI="urn:xoev-gateway:codeliste:urkundenart"', 'listURI="urn:other"'))
    (issue,) = only(validator.validate(xml, now=NOW), "schema")
    assert issue.path == f"{ROOT_NAME}/urkundenart/@listURI"
    assert issue.message == "attribute 'listURI' must be 'urn:xoev-gateway:codeliste:urkundenart', not 'urn:other'"


def test_repeated_siblings_get_a_one_based_index(validator):
    xml = (VECTORS / "messages" / "akte.abgabe.0300.xml").read_bytes()
    xml = xml.replace(b"<groesse>28417</groesse>", b"<groesse>-1</groesse>")
    (issue,) = only(validator.validate(xml, now=NOW), "schema")
    assert issue.path == "akte.abgabe.0300/akte/vorgang[2]/dokument/datei/groesse"
    xml = (VECTORS / "messages" / "akte.abgabe.0300.xml").read_bytes()
    xml = xml.replace(b"<groesse>190233</groesse>", b"<groesse>x</groesse>")
    (issue,) = only(validator.validate(xml, now=NOW), "schema")
    assert issue.path == "akte.abgabe.0300/akte/vorgang[1]/dokument[2]/datei/groesse"


def test_code_not_in_list_version(validator):
    xml = antrag(("<code>GEB-MEHRSPR</code>", "<code>GEB-XXL</code>"))
    (issue,) = only(validator.validate(xml, now=NOW), "codelist")
    assert issue.path == f"{ROOT_NAME}/urkundenart/code"
    assert issue.message == "code 'GEB-XXL' is not in code list urn:xoev-gateway:codeliste:urkundenart version 1.0"
    assert issue.line == line_of(xml, "<code>GEB-XXL")


def test_business_rules_each_report_where(validator):
    xml = antrag(
        ("DE89370400440532013000", "DE89370400440532013001"),
        ("<geburtsdatum>2024-11-03</geburtsdatum>", "<geburtsdatum>2025-06-02</geburtsdatum>"),
        ("<kennung>psw:09162000</kennung>", "<kennung>xyz:1</kennung>"),
        ("<kennung>ags:09162000</kennung>", "<kennung>ags:0916</kennung>"),
    )
    issues = only(validator.validate(xml, now=NOW), "rule")
    by_path = {i.path: i.message for i in issues}
    assert by_path == {
        f"{ROOT_NAME}/sepaLastschrift/iban": "'DE89370400440532013001' is not a valid IBAN (check digits do not match)",
        f"{ROOT_NAME}/betroffenePerson/geburt/geburtsdatum": "date of birth 2025-06-02 lies in the future",
        f"{ROOT_NAME}/nachrichtenkopf.g2g/leser/kennung":
            "'xyz:1' has an unknown authority id prefix 'xyz' (known: ags, ars, psw, dvdv, bzst)",
        f"{ROOT_NAME}/nachrichtenkopf.g2g/autor/kennung":
            "'ags:0916' is not a valid ags id: expected 8-digit Amtlicher Gemeindeschlüssel",
    }


def test_reachability_kennung_is_not_an_authority_id(validator):
    # autor/erreichbarkeit/kennung holds a URL; the authority id rule must leave it alone
    assert validator.validate(antrag(), now=NOW) == []


def test_creation_time_in_the_future_allows_clock_skew(validator):
    xml = antrag(("2025-03-14T09:30:00+01:00", "2025-06-01T12:04:00Z"))
    assert validator.validate(xml, now=NOW) == []           # 4 minutes ahead: skew
    xml = antrag(("2025-03-14T09:30:00+01:00", "2025-06-01T14:10:00+02:00"))  # 10 min ahead
    (issue,) = only(validator.validate(xml, now=NOW), "rule")
    assert issue.path == f"{ROOT_NAME}/nachrichtenkopf.g2g/identifikation.nachricht/erstellungszeitpunkt"
    assert "lies in the future" in issue.message
    strict = Validator(validator.catalog, clock_skew=timedelta(0))
    xml = antrag(("2025-03-14T09:30:00+01:00", "2025-06-01T12:00:01Z"))
    assert only(strict.validate(xml, now=NOW), "rule")


def test_header_type_must_match_root(validator):
    xml = antrag(("<code>personenstand.urkundenantrag.0100</code>", "<code>korrespondenz.schreiben.0200</code>"))
    (issue,) = only(validator.validate(xml, now=NOW), "rule")
    assert issue.path == f"{ROOT_NAME}/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp/code"
    assert issue.message == ("message type 'korrespondenz.schreiben.0200' in the header does not "
                             f"match the root element '{ROOT_NAME}'")


def test_schema_failure_stops_before_code_lists_and_rules(validator):
    xml = antrag(("<postleitzahl>80337</postleitzahl>", "<postleitzahl>1</postleitzahl>"),
                 ("DE89370400440532013000", "DE89370400440532013001"),
                 ("<code>GEB-MEHRSPR</code>", "<code>GEB-XXL</code>"))
    assert {i.check for i in validator.validate(xml, now=NOW)} == {"schema"}


def test_code_list_and_rule_issues_are_reported_together(validator):
    xml = antrag(("DE89370400440532013000", "DE89370400440532013001"),
                 ("<code>GEB-MEHRSPR</code>", "<code>GEB-XXL</code>"))
    assert sorted(i.check for i in validator.validate(xml, now=NOW)) == ["codelist", "rule"]


def test_unknown_namespace_lists_the_known_ones(validator):
    (issue,) = validator.validate(b'<x:brief xmlns:x="urn:unknown" version="1.0"/>', now=NOW)
    assert issue.check == "schema" and issue.path == "brief" and issue.line == 1
    assert "no schema for namespace 'urn:unknown'" in issue.message
    assert "urn:xoev-gateway:personenstand (1.0)" in issue.message


def test_unknown_version_lists_the_known_versions(validator):
    xml = antrag(('standard="XGateway-Personenstand" version="1.0"', 'standard="XGateway-Personenstand" version="9.9"'))
    (issue,) = validator.validate(xml, now=NOW)
    assert issue.message == "version '9.9' for namespace 'urn:xoev-gateway:personenstand' is not known (known versions: 1.0)"


@pytest.mark.parametrize("xml, fragment", [
    (b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>', "DTD"),
    (b"<a><b></a>", "not well-formed"),
    (b"", "empty"),
])
def test_unsafe_or_broken_input_stops_at_the_parse_layer(validator, xml, fragment):
    (issue,) = validator.validate(xml, now=NOW)
    assert issue.check == "parse" and fragment in issue.message


def test_parser_limits_come_from_config(tmp_path: Path):
    need((xsd_dir() / "basis" / "basis.xsd").is_file(), "schemas absent")
    cfg = gwconfig.from_dict({"schemas": {"max_bytes": 2000, "max_depth": 5, "clock_skew": 0}},
                             base_dir=tmp_path)
    v = Validator.from_config(cfg)
    assert (v.limits.max_bytes, v.limits.max_depth) == (2000, 5) and v.clock_skew == timedelta(0)
    assert v.limits == cfg.schemas.parser_limits() and v.limits.max_namespaces == 16
    (issue,) = v.validate(antrag(), now=NOW)
    assert issue.check == "parse" and "over the limit of 2000" in issue.message
    (issue,) = v.validate(b"<a><b><c><d><e><f/></e></d></c></b></a>", now=NOW)
    assert issue.check == "parse" and "deeper than 5" in issue.message


def _rebuild(el, parent=None):
    """A copy made element by element, as a builder makes it (no source lines)."""
    copy = etree.Element(el.tag, dict(el.attrib), nsmap=el.nsmap) if parent is None \
        else etree.SubElement(parent, el.tag, dict(el.attrib))
    copy.text, copy.tail = el.text, el.tail
    for child in el.iterchildren(tag=etree.Element):
        _rebuild(child, copy)
    return copy


def test_validate_tree_of_a_built_tree_has_paths_but_no_lines(validator):
    tree = etree.fromstring(antrag(("<postleitzahl>80337</postleitzahl>", "<postleitzahl>1</postleitzahl>")))
    built = _rebuild(tree)  # as the mapper builds it: no source lines
    assert built.sourceline is None
    (issue,) = validator.validate_tree(built, now=NOW)
    assert issue.path == f"{ROOT_NAME}/antragsteller/anschrift/postleitzahl"
    assert issue.line is None


def test_check_raises_validation_failed_with_all_issues(validator):
    xml = antrag(("DE89370400440532013000", "DE89370400440532013001"))
    with pytest.raises(ValidationFailed) as info:
        validator.check(xml, now=NOW)
    assert [i.check for i in info.value.issues] == ["rule"]
    assert validator.check(antrag(), now=NOW).getroot().tag.endswith(ROOT_NAME)
    with pytest.raises(ValidationFailed) as info:
        validator.check(b"<a>", now=NOW)
    assert [i.check for i in info.value.issues] == ["parse"]


def _invalid_vectors():
    folder = VECTORS / "invalid"
    return sorted(folder.glob("*.xml")) if folder.is_dir() else []


def _expectation(file: Path) -> dict[str, list[str]]:
    """`key: value` lines of an .expected.txt (comments start with #); keys may repeat."""
    out: dict[str, list[str]] = {}
    for line in file.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(":")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.mark.parametrize("path", _invalid_vectors(), ids=lambda p: p.stem)
def test_invalid_vectors_report_the_expected_issue(validator, path):
    expected = path.with_suffix(".expected.txt")
    need(expected.is_file(), f"{expected.name} absent")
    want = _expectation(expected)
    issues = validator.validate(path.read_bytes(), now=NOW)
    rendered = "\n".join(f"{i.check} {i.format(path.name)}" for i in issues)

    def matches(issue) -> bool:
        return (issue.check == want.get("check", [issue.check])[0]
                and str(issue.line) == want.get("line", [str(issue.line)])[0]
                and issue.path == want.get("path", [issue.path])[0]
                and all(m in issue.message for m in want.get("message", [])))

    assert any(matches(i) for i in issues), f"{want} not among:\n{rendered}"


def test_one_validator_is_shared_safely_by_threads(validator):
    from concurrent.futures import ThreadPoolExecutor

    good = antrag()
    bad = antrag(("<postleitzahl>80337</postleitzahl>", "<postleitzahl>123</postleitzahl>"))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda xml: validator.validate(xml, now=NOW), [good, bad] * 40))
    assert all(r == [] for r in results[0::2])
    assert all([i.path.rsplit("/", 1)[1] for i in r] == ["postleitzahl"] for r in results[1::2])


def test_root_without_namespace_says_so(validator):
    (issue,) = validator.validate(b"<brief/>", now=NOW)
    assert issue.message.startswith("no schema for root element 'brief' without a namespace (known: ")
