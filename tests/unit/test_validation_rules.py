"""Business rule helpers: IBAN checksum and authority id formats (the one table)."""
from __future__ import annotations

import pytest

from gateway.validation import AUTHORITY_IDS, authority_id_problem, iban_valid


@pytest.mark.parametrize("iban", ["DE89370400440532013000", "GB82WEST12345698765432",
                                  "FR1420041010050500013M02606", "de89 3704 0044 0532 0130 00"])
def test_valid_ibans(iban):
    assert iban_valid(iban)


@pytest.mark.parametrize("iban", ["DE89370400440532013001", "DE00370400440532013000",
                                  "DE8937040044", "XX89370400440532013000!", ""])
def test_invalid_ibans(iban):
    assert not iban_valid(iban)


@pytest.mark.parametrize("kennung", ["ags:09162000", "psw:09162000", "ars:091620000000",
                                     "dvdv:bund.bva-01", "bzst:BZSt01"])
def test_known_authority_ids(kennung):
    assert authority_id_problem(kennung) is None


@pytest.mark.parametrize("kennung, fragment", [
    ("ags:0916200", "not a valid ags id: expected 8-digit"),
    ("ags:0916200x", "not a valid ags id"),
    ("psw:1", "not a valid psw id"),
    ("foo:123", "unknown authority id prefix 'foo'"),
    ("09162000", "write prefix:id"),
])
def test_bad_authority_ids_say_why(kennung, fragment):
    assert fragment in authority_id_problem(kennung)


def test_every_prefix_in_the_table_has_a_pattern_and_description():
    for prefix, (pattern, what) in AUTHORITY_IDS.items():
        assert prefix.islower() and pattern and what
