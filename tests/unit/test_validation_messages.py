"""libxml2 message rewriting and the readable path format (pure functions)."""
from __future__ import annotations

import pytest
from lxml import etree

from gateway.validation.messages import rewrite
from gateway.validation.paths import element_path


@pytest.mark.parametrize("raw, text, attr", [
    ("Element 'postleitzahl': [facet 'pattern'] The value '123' is not accepted by the pattern '\\d{5}'.",
     "'123' does not match the required pattern \\d{5}", ""),
    ("Element 'a': Missing child element(s). Expected is ( ort ).", "missing required element 'ort'", ""),
    ("Element 'a': Missing child element(s). Expected is one of ( x1, {urn:t}x2 ).",
     "missing required element: one of 'x1', 'x2'", ""),
    ("Element 'zz': This element is not expected. Expected is one of ( x1, x2 ).",
     "unexpected element 'zz', expected one of 'x1', 'x2'", ""),
    ("Element 'zz': This element is not expected. Expected is ( x1 ).", "unexpected element 'zz', expected 'x1'", ""),
    ("Element '{urn:t}zz': This element is not expected.", "unexpected element 'zz'", ""),
    ("Element 'd': '2020-13-01' is not a valid value of the atomic type 'xs:date'.",
     "'2020-13-01' is not a date (YYYY-MM-DD)", ""),
    ("Element 'n': '0' is not a valid value of the atomic type 'xs:positiveInteger'.",
     "'0' is not a whole number of 1 or more", ""),
    ("Element 'n': 'x' is not a valid value of the atomic type '{urn:t}Kennung'.",
     "'x' is not of type Kennung", ""),
    ("Element 'e': [facet 'enumeration'] The value 'C' is not an element of the set {'A', 'B'}.",
     "'C' is not one of the allowed values 'A', 'B'", ""),
    ("Element 'l': [facet 'maxLength'] The value has a length of '6'; this exceeds the allowed maximum length of '3'.",
     "too long: 6 characters, at most 3 allowed", ""),
    ("Element 'l': [facet 'minLength'] The value has a length of '0'; this underruns the allowed minimum length of '1'.",
     "too short: 0 characters, at least 1 required", ""),
    ("Element 'dec': [facet 'totalDigits'] The value '123.456' has more digits than are allowed ('4').",
     "'123.456' has more than 4 digits", ""),
    ("Element 'dec': [facet 'fractionDigits'] The value '1.456' has more fractional digits than are allowed ('2').",
     "'1.456' has more than 2 decimal places", ""),
    ("Element 'anzahl': [facet 'maxInclusive'] The value '25' is greater than the maximum value allowed ('20').",
     "25 is greater than the maximum 20", ""),
    ("Element 'anzahl': [facet 'minInclusive'] The value '0' is less than the minimum value allowed ('1').",
     "0 is less than the minimum 1", ""),
    ("Element 'c', attribute 'listURI': The value 'urn:x' does not match the fixed value constraint 'urn:l'.",
     "attribute 'listURI' must be 'urn:l', not 'urn:x'", "listURI"),
    ("Element '{urn:t}r': The attribute 'produkt' is required but missing.", "missing required attribute 'produkt'", ""),
    ("Element '{urn:t}r', attribute 'foo': The attribute 'foo' is not allowed.", "attribute 'foo' is not allowed", "foo"),
    ("Element 'a': Character content other than whitespace is not allowed because the content type is 'element-only'.",
     "text is not allowed here, only elements", ""),
    ("Element 'a': Something libxml2 says in {urn:x}a new way.", "Something libxml2 says in a new way", ""),
])
def test_libxml2_messages_become_clerk_texts(raw, text, attr):
    assert rewrite(raw) == (text, attr)


def test_path_uses_local_names_and_indexes_only_shared_names():
    root = etree.fromstring(
        b'<p:r xmlns:p="urn:p" xmlns:q="urn:q"><a/><b><c/></b><b><c/><q:c/><d/></b></p:r>')
    a, b1, b2 = root
    assert element_path(root) == "r"
    assert element_path(a) == "r/a"
    assert element_path(b1[0]) == "r/b[1]/c"
    assert element_path(b2[1]) == "r/b[2]/c[2]"   # same local name in another namespace
    assert element_path(b2[2], "{urn:q}x") == "r/b[2]/d/@x"
