"""The genericode 1.0 store: parsing, index by (listURI, version), conflicts, errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.resources import xsd_dir
from gateway.validation import CodeLists, read_genericode

XTERMIN_LISTS = Path(__file__).resolve().parents[1] / "vectors" / "thirdparty" / "xtermin" / "codelisten"

GC = """<gc:CodeList xmlns:gc="http://docs.oasis-open.org/codelist/ns/genericode/1.0/">
  <Identification><ShortName>farbe</ShortName><Version>{version}</Version>
    <CanonicalUri>urn:test:farbe</CanonicalUri></Identification>
  <ColumnSet><Column Id="name"><ShortName>n</ShortName></Column><Column Id="code"><ShortName>c</ShortName></Column>
    <Key Id="k"><ShortName>k</ShortName><ColumnRef Ref="code"/></Key></ColumnSet>
  <SimpleCodeList>{rows}</SimpleCodeList></gc:CodeList>"""
ROW = '<Row><Value ColumnRef="code"><SimpleValue>{c}</SimpleValue></Value><Value ColumnRef="name"><SimpleValue>{n}</SimpleValue></Value></Row>'


def write(folder: Path, name: str, version: str, codes: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    rows = "".join(ROW.format(c=c, n=n) for c, n in codes.items())
    path = folder / name
    path.write_text(GC.format(version=version, rows=rows), encoding="utf-8")
    return path


def test_key_column_comes_from_the_key_not_the_position(tmp_path):
    cl = read_genericode(write(tmp_path, "f.gc", "1", {"R": "rot", "G": "grün"}))
    assert (cl.uri, cl.version, cl.short_name) == ("urn:test:farbe", "1", "farbe")
    assert dict(cl.codes) == {"R": "rot", "G": "grün"} and "R" in cl and cl.name("X") is None


def test_index_by_uri_and_version_latest_by_default(tmp_path):
    write(tmp_path, "a.gc", "1.9", {"R": "rot"})
    write(tmp_path, "b.gc", "1.10", {"R": "rot", "B": "blau"})
    lists = CodeLists.load(tmp_path)
    assert lists.versions("urn:test:farbe") == ("1.9", "1.10")
    assert "B" not in lists.get("urn:test:farbe", "1.9")
    assert lists.get("urn:test:farbe").version == "1.10"
    assert lists.get("urn:test:farbe", "3") is None and lists.get("urn:nope") is None
    assert len(lists) == 2


def test_same_list_twice_must_agree(tmp_path):
    write(tmp_path / "x", "a.gc", "1", {"R": "rot"})
    write(tmp_path / "y", "a.gc", "1", {"R": "rot"})
    write(tmp_path / "z", "a.gc", "1", {"G": "grün"})
    assert len(CodeLists.load(tmp_path / "x", tmp_path / "y")) == 1
    with pytest.raises(ConfigError, match="defined twice"):
        CodeLists.load(tmp_path / "x", tmp_path / "z")


def test_positional_values_and_thirdparty_column_names():
    lists = CodeLists.load(XTERMIN_LISTS)
    assert dict(lists.get("urn:example:codeliste:terminart", "2").codes)["ONLINE"] == "Videotermin"
    assert dict(lists.get("urn:example:codeliste:terminart", "1").codes) == {
        "SPRECH": "Sprechstunde", "TRAU": "Trauung"}


@pytest.mark.parametrize("text, fragment", [
    ("<x/>", "not a genericode 1.0 CodeList"),
    ("<gc:CodeList xmlns:gc='http://docs.oasis-open.org/codelist/ns/genericode/1.0/'/>", "CanonicalUri and Version"),
    ("<a><b></a>", "not well-formed"),
    ("<!DOCTYPE x [<!ENTITY e 'x'>]><x/>", "DTD"),
])
def test_broken_files_are_config_errors_naming_the_file(tmp_path, text, fragment):
    (tmp_path / "bad.gc").write_text(text)
    with pytest.raises(ConfigError, match="bad.gc") as info:
        CodeLists.load(tmp_path)
    assert fragment in str(info.value)


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        CodeLists.load(tmp_path / "nope")


def test_our_own_lists_load():
    folder = xsd_dir() / "codelists"
    lists = CodeLists.load(folder)
    assert "personenstand.urkundenantrag.0100" in lists.get("urn:xoev-gateway:codeliste:nachrichtentyp", "1.0")
