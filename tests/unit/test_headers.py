"""Header profiles: xoev-g2g (ours and configured standards), xdomea (the real 0503 message),
XPath profiles from standard.toml compiled at start-up; errors name standard and fact."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from gateway.errors import ConfigError, MessageError
from gateway.exchange.header import Headers, read_header
from gateway.validation import load_standard
from tests.conftest import need
from tests.support.xdomea import messages, write_xdomea_standard, xdomea_dir

STANDARDS = Path(__file__).resolve().parents[1] / "vectors" / "standards"
GOLDEN = Path(__file__).resolve().parents[1] / "vectors" / "messages"


def tree(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


def test_our_own_messages_use_nachrichtenkopf_g2g():
    golden = sorted(GOLDEN.glob("personenstand.urkundenantrag.0100*.xml"))[0]
    header = read_header(tree(golden))
    assert header.root == "personenstand.urkundenantrag.0100" and header.standard == "xoev-gateway"
    assert header.message_type == header.root and header.author and header.reader and header.created


def test_a_configured_standard_with_nachrichtenkopf_g2g():
    headers = Headers([load_standard(STANDARDS / "fundsache")])
    h = headers.read(tree(STANDARDS / "fundsache" / "fundsache.anzeige.0201.xml"))
    assert (h.standard, h.root, h.message_uuid, h.message_type, h.author, h.reader, h.created) == (
        "Fundsache", "fundsache.anzeige.0201", "2d0b8c1e-8a57-4d7b-9b53-6f1f6e0f4a21", "0201",
        "ags:09162000", "psw:09162000", "2025-05-01T10:00:00Z")


def test_an_xpath_profile_reads_attributes_and_elements():
    headers = Headers([load_standard(STANDARDS / "meldung")])
    h = headers.read(tree(STANDARDS / "meldung" / "meldung.zuzug.0101.xml"))
    assert h.as_dict() == {"standard": "Meldung", "root": "meldung.zuzug.0101",
                           "message_id": "7f9c0a52-5d1e-4c55-9d0f-0e1c2b3a4d51", "message_type": "0101",
                           "created": "2025-05-01T10:00:00Z", "author": "ags:09162000",
                           "reader": "psw:09162000"}


def test_a_missing_fact_names_standard_and_fact():
    headers = Headers([load_standard(STANDARDS / "meldung")])
    xml = (STANDARDS / "meldung" / "meldung.zuzug.0101.xml").read_bytes().replace(
        b'<m:an kennung="psw:09162000"/>', b"")
    with pytest.raises(MessageError, match=r"^Meldung: header fact reader is missing \(m:kopf/m:an/@kennung\)$"):
        headers.read(etree.fromstring(xml))


def test_an_xpath_that_does_not_compile_is_a_start_up_error_naming_standard_and_fact(tmp_path):
    folder = tmp_path / "meldung"
    shutil.copytree(STANDARDS / "meldung", folder)
    toml = folder / "standard.toml"
    toml.write_text(toml.read_text().replace('author = "m:kopf/m:von/@kennung"', 'author = "m:kopf/[von"'))
    with pytest.raises(ConfigError, match=r"standard Meldung: header fact author: XPath 'm:kopf/\[von' does not compile"):
        Headers([load_standard(folder)])


@pytest.mark.parametrize("edit, fragment", [
    ('header = "xdomea2"\n', "header must be one of xoev-g2g, xdomea"),
    ('[header]\nmessage_id = "a"\n', "[header] message_type needs an XPath expression"),
    ('[header]\nsender = "a"\n', "[header] unknown key 'sender'"),
])
def test_bad_header_settings_are_config_errors(tmp_path, edit, fragment):
    folder = tmp_path / "fundsache"
    shutil.copytree(STANDARDS / "fundsache", folder)
    (folder / "standard.toml").write_text(f'name = "Fundsache"\n{edit}[[schemas]]\nfile = "fundsache.xsd"\n')
    with pytest.raises(ConfigError) as info:
        load_standard(folder)
    assert fragment in str(info.value)


def test_xdomea_profile_on_the_real_0503(tmp_path, reference_dir):
    need(xdomea_dir(reference_dir).is_dir(), "xdomea 2.4.0 reference set absent")
    headers = Headers([load_standard(write_xdomea_standard(tmp_path / "x", reference_dir))])
    h = headers.read(tree(messages(reference_dir)[2]))
    assert (h.standard, h.root, h.message_uuid, h.message_type, h.created) == (
        "xdomea", "Aussonderung.Aussonderung.0503", "242f44e8-bebf-4503-a086-db252c6a4277", "0503",
        "2018-07-24T17:25:39")
    # Praefix code + ':' + Kennung code (the sample's prefix has no trailing colon)
    assert h.author == "AbsBehoerdenkennungPraefixCode:LATh"
    xml = messages(reference_dir)[2].read_bytes().replace(
        b"<code>AbsBehoerdenkennungPraefixCode</code>", b"<code>ags:</code>").replace(b"<code>LATh</code>", b"<code>09162000</code>")
    assert headers.read(etree.fromstring(xml)).author == "ags:09162000"
    without = messages(reference_dir)[2].read_bytes().replace(b"<xdomea:ProzessID>", b"<xdomea:X>").replace(
        b"</xdomea:ProzessID>", b"</xdomea:X>")
    with pytest.raises(MessageError, match="xdomea: header fact message_id is missing"):
        headers.read(etree.fromstring(without))
