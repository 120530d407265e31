"""Business rule helpers: IBAN checksum and authority id formats (the one table)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

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


def _with_check_digits(country: str, bban: str) -> str:
    """An IBAN with correct check digits computed the textbook way (ISO 7064 mod 97-10)."""
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


_BBAN = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=11, max_size=30)


@given(country=st.sampled_from(["DE", "AT", "FR", "NL", "GB"]), bban=_BBAN,
       pos=st.integers(min_value=4), delta=st.integers(min_value=1, max_value=9))
def test_iban_checksum_property(country, bban, pos, delta):
    iban = _with_check_digits(country, bban)
    assert iban_valid(iban)
    # mod 97 catches every single-digit substitution
    digit_positions = [i for i, c in enumerate(iban) if c.isdigit() and i >= 2]
    i = digit_positions[pos % len(digit_positions)]
    broken = iban[:i] + str((int(iban[i]) + delta) % 10) + iban[i + 1:]
    assert not iban_valid(broken)
