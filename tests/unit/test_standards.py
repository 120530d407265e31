"""Third-party standards by configuration: standard.toml, XML catalog, imports, versions,
Schematron and genericode lists, using the XTermin test standard in tests/vectors/thirdparty."""
from __future__ import annotations

import importlib.util
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateway import config as gwconfig
from gateway.errors import ConfigError
from gateway.validation import (SchemaCatalog, Validator, XmlCatalog, load_standard)
from gateway.validation.loader import compile_schema

THIRDPARTY = Path(__file__).resolve().parents[1] / "vectors" / "thirdparty"
XTERMIN = THIRDPARTY / "xtermin"
DOCS = THIRDPARTY / "documents"
NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator.from_standards([load_standard(XTERMIN)])


def issues_of(validator, name):
    return validator.validate((DOCS / name).read_bytes(), now=NOW)


def test_standard_toml_is_read_with_defaults_from_the_schema():
    std = load_standard(XTERMIN)
    assert std.name == "XTermin" and std.rules is False and std.version_attribute == "version"
    assert [(s.namespace, s.version) for s in std.schemas] == [
        ("urn:example:xtermin", "1.0"), ("urn:example:xtermin", "2.0")]
    assert std.catalog.endswith("catalog.xml") and len(std.schematron) == 1


def test_two_versions_in_one_namespace_are_selected_by_the_version_attribute(validator):
    assert validator.catalog.known() == [("urn:example:xtermin", "1.0", "XTermin"),
                                         ("urn:example:xtermin", "2.0", "XTermin")]
    assert issues_of(validator, "xtermin-1.0-valid.xml") == []
    assert issues_of(validator, "xtermin-2.0-valid.xml") == []
    (issue,) = issues_of(validator, "xtermin-1.0-element-of-version-2.xml")
    assert (issue.check, issue.path, issue.line) == ("schema", "terminmeldung/termin/bemerkung", 7)
    assert issue.message == "unexpected element 'bemerkung'"


def test_unknown_version_lists_the_known_versions(validator):
    (issue,) = issues_of(validator, "xtermin-3.0-unknown-version.xml")
    assert issue.check == "schema" and issue.path == "terminmeldung" and issue.line == 2
    assert "version '3.0'" in issue.message and "known versions: 1.0, 2.0" in issue.message


def test_schematron_rule_reports_path_and_line(validator):
    (issue,) = issues_of(validator, "xtermin-1.0-end-before-start.xml")
    assert issue.check == "schematron"
    assert issue.path == "terminmeldung/termin[2]/zeitraum" and issue.line == 10
    assert issue.message == "Das Ende des Zeitraums darf nicht vor dem Beginn liegen. [XT-001]"


def test_genericode_list_version_decides(validator):
    (issue,) = issues_of(validator, "xtermin-1.0-code-from-version-2.xml")
    assert issue.check == "codelist" and issue.path == "terminmeldung/termin/art/code"
    assert issue.message == "code 'ONLINE' is not in code list urn:example:codeliste:terminart version 1"
    lists = validator.catalog.codelists
    assert lists.versions("urn:example:codeliste:terminart") == ("1", "2")
    assert lists.get("urn:example:codeliste:terminart", "2").name("ONLINE") == "Videotermin"


def test_unknown_list_version_is_a_warning_under_the_default_known_policy(validator):
    xml = (DOCS / "xtermin-1.0-valid.xml").read_bytes().replace(b'listVersionID="1"', b'listVersionID="7"', 1)
    (issue,) = validator.validate(xml, now=NOW)
    assert issue.check == "codelist" and issue.path == "terminmeldung/termin[1]/art"
    assert issue.message == "unknown code list urn:example:codeliste:terminart version 7 (known versions: 1, 2)"
    assert issue.severity == "warning" and validator.check(xml, now=NOW) is not None


@pytest.mark.parametrize("rules, expected", [("", []), ("rules = true\n", ["rule"])])
def test_business_rules_apply_to_third_party_only_when_asked(tmp_path, rules, expected):
    (tmp_path / "k.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:konto" '
        'version="1"><xs:element name="konto"><xs:complexType><xs:sequence>'
        '<xs:element name="iban" type="xs:string" form="unqualified"/></xs:sequence>'
        '<xs:attribute name="version"/></xs:complexType></xs:element></xs:schema>')
    (tmp_path / "standard.toml").write_text(f'name = "Konto"\n{rules}[[schemas]]\nfile = "k.xsd"\n')
    v = Validator.from_standards([load_standard(tmp_path)])
    xml = b'<k:konto xmlns:k="urn:konto" version="1"><iban>DE00123</iban></k:konto>'
    issues = v.validate(xml, now=NOW)
    assert [i.check for i in issues] == expected
    if expected:
        assert issues[0].path == "konto/iban" and issues[0].line == 1


def test_catalog_maps_exact_rewrite_suffix_and_namespace(tmp_path):
    (tmp_path / "local").mkdir()
    (tmp_path / "next.xml").write_text(
        '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">'
        '<system systemId="http://x.example/n.xsd" uri="local/n.xsd"/></catalog>')
    (tmp_path / "catalog.xml").write_text(
        '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">'
        '<uri name="http://x.example/a.xsd" uri="local/a.xsd"/>'
        '<rewriteURI uriStartString="http://x.example/" rewritePrefix="local/r/"/>'
        '<rewriteURI uriStartString="http://x.example/deep/" rewritePrefix="local/d/"/>'
        '<group xml:base="local/"><uriSuffix uriSuffix="/s.xsd" uri="s-local.xsd"/></group>'
        '<uri name="urn:ns" uri="local/ns.xsd"/>'
        '<nextCatalog catalog="next.xml"/></catalog>')
    cat = XmlCatalog.load(tmp_path / "catalog.xml")
    assert cat.lookup("http://x.example/a.xsd") == tmp_path / "local/a.xsd"
    assert cat.lookup("http://x.example/b/c.xsd") == tmp_path / "local/r/b/c.xsd"
    assert cat.lookup("http://x.example/deep/c.xsd") == tmp_path / "local/d/c.xsd"
    assert cat.lookup("https://y.example/s.xsd") == tmp_path / "local/s-local.xsd"
    assert cat.lookup("urn:ns") == tmp_path / "local/ns.xsd"
    assert cat.lookup("http://x.example/n.xsd") == tmp_path / "local/r/n.xsd"  # own rewrite wins
    assert cat.lookup("urn:unmapped") is None


def test_catalog_refuses_remote_targets(tmp_path):
    (tmp_path / "catalog.xml").write_text(
        '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">'
        '<uri name="urn:a" uri="https://evil.example/a.xsd"/></catalog>')
    with pytest.raises(ConfigError, match="not a local file"):
        XmlCatalog.load(tmp_path / "catalog.xml").lookup("urn:a")


def test_unmapped_remote_import_is_a_config_error_naming_the_location(tmp_path):
    (tmp_path / "a.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">'
        '<xs:import namespace="urn:b" schemaLocation="http://unmapped.example/b.xsd"/></xs:schema>')
    with pytest.raises(ConfigError, match=r"cannot load http://unmapped\.example/b\.xsd.*never loads"):
        compile_schema(tmp_path / "a.xsd")


def test_missing_local_include_is_a_config_error(tmp_path):
    (tmp_path / "a.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">'
        '<xs:include schemaLocation="gone.xsd"/></xs:schema>')
    with pytest.raises(ConfigError, match=r"gone\.xsd.*does not exist"):
        compile_schema(tmp_path / "a.xsd")


def test_without_the_catalog_the_remote_import_is_refused(tmp_path):
    folder = _copy(tmp_path)
    toml = folder / "standard.toml"
    toml.write_text(toml.read_text().replace('catalog = "catalog.xml"\n', ""))
    with pytest.raises(ConfigError, match=r"http://schemas\.example\.org/xbasis/1\.0/xbasis\.xsd"):
        SchemaCatalog([load_standard(folder)])


@pytest.mark.parametrize("edit, fragment", [
    (lambda t: t.replace('name = "XTermin"', 'name = "XTermin"\ncolour = "blue"'), "unknown key 'colour'"),
    (lambda t: t.replace('name = "XTermin"', 'name = ""'), "name is required"),
    (lambda t: t.split("[[schemas]]")[0], "at least one [[schemas]]"),
    (lambda t: t.replace("xtermin-1.0/xtermin.xsd", "nope.xsd"), "file 'nope.xsd' does not exist"),
    (lambda t: t.replace('version = "1.0"', 'version = "1.0"\nlevel = 3'), "unknown key 'level'"),
    (lambda t: t + "\n[[[", "standard.toml"),
    (lambda t: t.replace('version = "1.0"', 'version = "2.0"'), "defined twice"),
])
def test_bad_standard_toml_is_a_config_error(tmp_path, edit, fragment):
    folder = _copy(tmp_path)
    toml = folder / "standard.toml"
    toml.write_text(edit(toml.read_text()))
    with pytest.raises(ConfigError) as info:
        SchemaCatalog([load_standard(folder)])
    assert fragment in str(info.value)


def test_folder_without_standard_toml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read standard.toml"):
        load_standard(tmp_path)


def test_config_standards_are_added_to_our_own(tmp_path):
    cfg_file = tmp_path / "gateway.toml"
    shutil.copytree(XTERMIN, tmp_path / "std" / "xtermin")
    cfg_file.write_text('[schemas]\nstandards = ["std/xtermin"]\n')
    v = Validator.from_config(gwconfig.load(cfg_file, environ={}))
    namespaces = {ns for ns, _v, _s in v.catalog.known()}
    assert "urn:example:xtermin" in namespaces
    assert v.validate((DOCS / "xtermin-2.0-valid.xml").read_bytes(), now=NOW) == []


def test_no_network_is_touched_even_with_a_hostile_schema(tmp_path, monkeypatch):
    import socket

    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    (tmp_path / "a.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">'
        '<xs:include schemaLocation="http://127.0.0.1:9/x.xsd"/></xs:schema>')
    with pytest.raises(ConfigError, match="never loads"):
        compile_schema(tmp_path / "a.xsd")


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "xtermin"
    shutil.copytree(XTERMIN, folder)
    return folder
