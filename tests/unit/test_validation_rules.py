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


# --- the date rules' string fast path must say exactly what parsing says ----------------------

from datetime import date, datetime, timedelta, timezone  # noqa: E402

from lxml import etree  # noqa: E402

from gateway.validation.rules import RuleContext, check_rules  # noqa: E402

_NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def _rule_messages(name: str, text: str, now: datetime, skew: timedelta) -> list[str]:
    root = etree.Element("m")
    etree.SubElement(root, name).text = text
    return [i.message for i in check_rules(root, RuleContext.at(now, skew))]


def _reference_creation(value: str, now: datetime, skew: timedelta) -> bool:
    """In the future by plain parsing, as the rule was first written."""
    try:
        created = datetime.fromisoformat(value.strip())
    except ValueError:
        return False
    latest = now + skew
    if (created.tzinfo is None) != (latest.tzinfo is None):
        created = created.replace(tzinfo=latest.tzinfo)
    return created > latest


_OFFSETS = st.sampled_from([None, timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14)),
                            timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-23, minutes=59))])


@given(delta=st.timedeltas(min_value=timedelta(days=-6), max_value=timedelta(days=6)), tz=_OFFSETS,
       skew=st.sampled_from([timedelta(0), timedelta(minutes=5), timedelta(hours=30), timedelta(minutes=-5)]),
       now_tz=st.sampled_from([timezone.utc, timezone(timedelta(hours=-10)), None]),
       form=st.sampled_from(["extended", "week", "basic", "basic-week", "blank"]))
def test_creation_time_fast_path_agrees_with_parsing(delta, tz, skew, now_tz, form):
    now = _NOW.astimezone(now_tz) if now_tz else _NOW.replace(tzinfo=None)
    moment = (now.replace(tzinfo=None) + delta).replace(tzinfo=tz)
    value = _date_form(moment.date(), form) + moment.isoformat()[10:]
    future = any("lies in the future" in m for m in _rule_messages("erstellungszeitpunkt", value, now, skew))
    assert future == _reference_creation(value, now, skew), value


def _date_form(day: date, form: str) -> str:
    """A day in one of the forms fromisoformat reads (ISO week dates parse too, and must not
    be taken for YYYY-MM-DD), or with a leading blank that strip() removes."""
    year, week, weekday = day.isocalendar()
    return {"extended": day.isoformat(), "week": f"{year}-W{week:02d}-{weekday}",
            "basic": day.strftime("%Y%m%d"), "basic-week": f"{year}W{week:02d}{weekday}",
            "blank": "\t" + day.isoformat()}[form]


@given(delta=st.integers(min_value=-800, max_value=800), suffix=st.sampled_from(["", "Z", "+14:00", "-12:00"]),
       form=st.sampled_from(["extended", "week", "basic", "basic-week", "blank"]))
def test_birth_date_fast_path_agrees_with_parsing(delta, suffix, form):
    value = _date_form(_NOW.date() + timedelta(days=delta), form) + suffix
    future = bool(_rule_messages("geburtsdatum", value, _NOW, timedelta(0)))
    try:
        expected = date.fromisoformat(value.strip()[:10]) > _NOW.date()
    except ValueError:
        expected = False
    assert future == expected, value


@pytest.mark.parametrize("value", ["2020-W53-7", "2020W537", " 2021-01-03", "\t2021-01-03", "20210103"])
def test_dates_that_sort_low_but_name_tomorrow_are_still_in_the_future(value):
    now = datetime(2021, 1, 2, 12, 0, tzinfo=timezone.utc)   # 2020-W53-7 is 2021-01-03
    assert _rule_messages("geburtsdatum", value, now, timedelta(0)), value
    created = datetime(2021, 1, 5, 12, 0, tzinfo=timezone.utc)  # days after the value: past
    assert not _rule_messages("geburtsdatum", value, created, timedelta(0)), value
    assert _rule_messages("erstellungszeitpunkt", value + "T12:00:00", now, timedelta(0)) == [
        f"creation time {value.strip()}T12:00:00 lies in the future"], value


@pytest.mark.parametrize("code, ok", [
    ("personenstand.urkundenantrag.0100", True),
    ("  personenstand.urkundenantrag.0100\n", True),       # xs:token: spacing does not count
    ("urkundenantrag.0100", False),                        # a tail of the root name is not it
    ("{urn:xoev-gateway:personenstand}personenstand.urkundenantrag.0100", False),
    ("", False),
])
def test_header_type_must_be_the_root_name_exactly(code, ok):
    root = etree.Element("{urn:xoev-gateway:personenstand}personenstand.urkundenantrag.0100")
    typ = etree.SubElement(etree.SubElement(root, "kopf"), "nachrichtentyp")
    etree.SubElement(typ, "code").text = code
    messages = [i.message for i in check_rules(root, RuleContext.at(_NOW, timedelta(0)))]
    assert (messages == []) == ok, messages
