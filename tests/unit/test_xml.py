"""The hardened parser refuses DTDs, entities, network access, oversize and deep documents."""
from __future__ import annotations

import pytest

from gateway import xml
from gateway.errors import XmlSecurityError

REFUSED = {
    "internal DTD with entity": (b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "DTDs are not allowed"),
    "billion laughs": (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n<lolz>&lol2;</lolz>',
        "DTDs are not allowed",
    ),
    "external DTD over the network": (
        b'<!DOCTYPE a SYSTEM "http://127.0.0.1:9/evil.dtd"><a/>', "network",
    ),
    "external entity file": (
        b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>', "DTDs are not allowed",
    ),
    "malformed": (b"<a><b></a>", "not well-formed XML"),
    "empty": (b"   ", "empty"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_documents_say_why(name):
    doc, fragment = REFUSED[name]
    with pytest.raises(XmlSecurityError) as info:
        xml.parse(doc)
    assert fragment in str(info.value)


def test_entity_content_is_never_expanded():
    with pytest.raises(XmlSecurityError):
        xml.parse(b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/hostname">]><a>&e;</a>')


def test_size_limit_is_checked_before_parsing():
    with pytest.raises(XmlSecurityError, match="over the limit of 100"):
        xml.parse(b"<a>" + b"x" * 200 + b"</a>", xml.Limits(max_bytes=100))


def test_depth_limit_names_the_line():
    doc = b"<a>\n" + b"<b>" * 10 + b"</b>" * 10 + b"</a>"
    with pytest.raises(XmlSecurityError) as info:
        xml.parse(doc, xml.Limits(max_depth=5))
    assert "deeper than 5" in str(info.value)
    assert info.value.line == 2


def test_malformed_error_carries_the_line():
    with pytest.raises(XmlSecurityError) as info:
        xml.parse(b"<a>\n<b>\n</a>")
    assert info.value.line == 3


def test_xinclude_is_not_processed():
    doc = (b'<a xmlns:xi="http://www.w3.org/2001/XInclude">'
           b'<xi:include href="/etc/hostname" parse="text"/></a>')
    tree = xml.parse(doc)
    assert tree.getroot()[0].tag == "{http://www.w3.org/2001/XInclude}include"


def test_valid_document_round_trips():
    tree = xml.parse('<a x="1"><b>ä &amp; ö</b></a>'.encode())
    assert tree.getroot().find("b").text == "ä & ö"
    assert xml.tostring(tree).startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_text_instead_of_bytes_is_refused():
    with pytest.raises(XmlSecurityError, match="bytes"):
        xml.parse("<a/>")  # type: ignore[arg-type]
