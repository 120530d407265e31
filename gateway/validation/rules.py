"""Business rules the schema cannot say, found by element name (see docs/validation.md).

`iban` mod-97 checksum (ISO 13616), `bic` format (ISO 9362), `geburtsdatum` not in the
future, `erstellungszeitpunkt` not in the future (beyond an allowed clock skew), `kennung`
of an authority in a known `prefix:id` format (AUTHORITY_IDS: the one table), and the
header's `nachrichtentyp/code` equal to the root element's local name. Pure: `now` is given.

Hot path (every valid message passes here): value checks are cached by value (the same
authorities and accounts recur), and dates in plain `YYYY-MM-DD...` form are compared as
strings, which is exact for that form; only a date that is not clearly in the past is parsed.
"""
from __future__ import annotations

import re
from functools import lru_cache
from datetime import date, datetime, timedelta
from typing import Callable, NamedTuple

from lxml import etree

from ..errors import Issue
from .paths import element_path, local_name

# Authority id (kennung) prefixes: prefix -> (regex for the part after "prefix:", what it is)
AUTHORITY_IDS: dict[str, tuple[str, str]] = {
    "ags": (r"\d{8}", "8-digit Amtlicher Gemeindeschlüssel"),
    "ars": (r"\d{12}", "12-digit Amtlicher Regionalschlüssel"),
    "psw": (r"\d{8}", "8-digit civil registry office number (Personenstandswesen)"),
    "dvdv": (r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", "DVDV organisation key (letters, digits, . _ -)"),
    "bzst": (r"[A-Za-z0-9]{1,20}", "Bundeszentralamt für Steuern id (up to 20 letters/digits)"),
}
_AUTHORITY_RE = {p: re.compile(rx) for p, (rx, _) in AUTHORITY_IDS.items()}
_IBAN_RE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_LETTER_DIGITS = str.maketrans({chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)})  # A=10..Z=35
# ISO 9362: 4 letters bank + 2 letters country (6 letters), 2 location, optional 3 branch
BIC_REGEX = r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?"
_BIC_RE = re.compile(BIC_REGEX)
# parents whose `kennung` is an address (e-mail, phone), not an authority id
NOT_AUTHORITY_PARENTS = frozenset({"erreichbarkeit"})
# Dates: of the forms fromisoformat reads, only YYYY-MM-DD has '-' at [4] and [7] (week dates
# YYYY-Www-D have it at [4] and [8]; a leading blank shifts the dashes and fails to parse),
# and YYYY-MM-DD strings sort like the dates they name; ten such characters decide, even when
# a comment splits the text after them. The property tests hold us to it.
# A time written in any zone (offsets stay under a day) lies at most this far from its date
_ZONE_MARGIN = timedelta(days=3)
_NO_SKEW = timedelta(0)


class RuleContext(NamedTuple):
    """What the date rules compare with: today, and the latest acceptable creation time
    (now + clock skew); today and a surely-past day also as ISO strings for the fast
    comparisons."""

    today: date
    today_iso: str               # today as YYYY-MM-DD
    past_iso: str                # a creation date before this is in the past in every zone
    now: datetime
    clock_skew: timedelta

    @property
    def latest(self) -> datetime:
        """The latest acceptable creation time."""
        return self.now + self.clock_skew

    @classmethod
    def at(cls, now: datetime, clock_skew: timedelta) -> "RuleContext":
        """The context for a check made at `now`."""
        # with a skew of zero or more, latest.date() >= today, so today's margin is safe
        today = now.date()
        day = today if clock_skew >= _NO_SKEW else (now + clock_skew).date()
        today, today_iso, past_iso = _days(today, day)
        return tuple.__new__(cls, (today, today_iso, past_iso, now, clock_skew))  # no Python __new__


@lru_cache(maxsize=64)  # the dates change once a day
def _days(today: date, latest_day: date) -> tuple[date, str, str]:
    return today, today.isoformat(), (latest_day - _ZONE_MARGIN).isoformat()


def iban_valid(iban: str) -> bool:
    """ISO 13616 IBAN check: format and mod-97 remainder of 1."""
    iban = iban.replace(" ", "").upper()
    if not _IBAN_RE.fullmatch(iban):
        return False
    return int((iban[4:] + iban[:4]).translate(_LETTER_DIGITS)) % 97 == 1


@lru_cache(maxsize=4096)  # checks of the element text as it stands: cached by that text
def _iban(text: str | None) -> str | None:
    value = (text or "").strip()
    if iban_valid(value):
        return None
    return f"'{value}' is not a valid IBAN (check digits do not match)" \
        if _IBAN_RE.fullmatch(value.replace(" ", "").upper()) else f"'{value}' is not a valid IBAN"


@lru_cache(maxsize=4096)
def _bic(text: str | None) -> str | None:
    value = (text or "").strip()
    if _BIC_RE.fullmatch(value):
        return None
    return f"'{value}' is not a valid BIC (8 or 11 letters and digits, e.g. COBADEFFXXX)"


@lru_cache(maxsize=4096)  # the same few authorities appear in message after message
def authority_id_problem(kennung: str) -> str | None:
    """Why a kennung is not a valid authority id (`prefix:id`), or None when it is."""
    prefix, sep, rest = kennung.partition(":")
    if not sep:
        return f"'{kennung}' is not an authority id (write prefix:id, e.g. ags:09162000)"
    rx = _AUTHORITY_RE.get(prefix.lower())
    if rx is None:
        return f"'{kennung}' has an unknown authority id prefix '{prefix}' (known: {', '.join(AUTHORITY_IDS)})"
    if not rx.fullmatch(rest):
        return f"'{kennung}' is not a valid {prefix} id: expected {AUTHORITY_IDS[prefix.lower()][1]}"
    return None


def _geburtsdatum(text: str | None, ctx: RuleContext) -> str | None:
    value = text.strip() if text else ""
    try:
        born = date.fromisoformat(value[:10])
    except ValueError:
        return None  # the schema layer judges the format
    if born > ctx.today:
        return f"date of birth {value} lies in the future"
    return None


def _erstellungszeitpunkt(text: str | None, ctx: RuleContext) -> str | None:
    value = text.strip() if text else ""
    try:
        created = datetime.fromisoformat(value)
    except ValueError:
        return None
    latest = ctx.latest
    if (created.tzinfo is None) != (latest.tzinfo is None):
        created = created.replace(tzinfo=latest.tzinfo)  # a local time is read in now's zone
    if created > latest:
        return f"creation time {value} lies in the future"
    return None


@lru_cache(maxsize=4096)
def _kennung(text: str | None) -> str | None:
    return authority_id_problem(text.strip() if text else "")


def _is_address(kennung: etree._Element) -> bool:
    """A kennung under erreichbarkeit is an address (e-mail, phone), not an authority id."""
    parent = kennung.getparent()
    return parent is not None and local_name(parent.tag) in NOT_AUTHORITY_PARENTS


_HEADER = "nachrichtentyp"       # the header check, in check_rules
_BY_TEXT: dict[str, Callable[[str | None], str | None]] = {"iban": _iban, "bic": _bic, "kennung": _kennung}
_NAMES = ("iban", "bic", "kennung", "geburtsdatum", "erstellungszeitpunkt", _HEADER)


_TAGS_BY_SKIP: dict[frozenset[str], tuple[str, ...]] = {}


def _tags(skip: frozenset[str]) -> tuple[str, ...]:
    tags = _TAGS_BY_SKIP.get(skip)
    if tags is None:             # a handful of skip sets per process
        tags = _TAGS_BY_SKIP[skip] = tuple("{*}" + name for name in _NAMES if name not in skip)
    return tags


def _text(el: etree._Element) -> str | None:
    """The element's text; with comments or processing instructions inside, all of it."""
    if not len(el) or any(isinstance(c.tag, str) for c in el):
        return el.text
    return "".join(el.itertext())


def check_rules(root: etree._Element, ctx: RuleContext, skip: frozenset[str] = frozenset()) -> list[Issue]:
    """Run every business rule on the tree in one pass; one Issue per violation. `skip`:
    element names whose rule the schema already enforced (ruleschema.py).

    Written for the valid message, which is the common one: each branch first tries the
    cheap exact test (a cached verdict on the text, a string comparison of the date) and
    only then the full check."""
    issues = []
    header_seen = False
    today_iso, past_iso = ctx.today_iso, ctx.past_iso
    for el in root.iter(*_tags(skip)):
        name = el.tag
        if name[0] == "{":       # qualified standards; ours are unqualified below the root
            name = local_name(name)
        if name == "geburtsdatum":
            text = el.text
            if len(text or "") > 9 and text[:10] <= today_iso and text[7] == "-" == text[4]:
                continue         # YYYY-MM-DD strings sort like the dates they name
            problem = _geburtsdatum(_text(el), ctx)
        elif name == "erstellungszeitpunkt":
            text = el.text
            if len(text or "") > 9 and text[:10] < past_iso and text[7] == "-" == text[4]:
                continue         # days before now in whatever zone it is written
            problem = _erstellungszeitpunkt(_text(el), ctx)
        elif name == _HEADER:
            if not header_seen:  # the header's comes first; others may name other messages
                header_seen = True
                header = _header_problem(root, el)
                if header:
                    issues.append(header)
            continue
        else:
            text = _text(el) if len(el) else el.text
            problem = _BY_TEXT[name](text)
            if problem is not None and name == "kennung" and _is_address(el):
                continue
        if problem:
            issues.append(Issue(problem, element_path(el), el.sourceline, "rule"))
    return issues


def _header_problem(root: etree._Element, typ: etree._Element) -> Issue | None:
    """The header's nachrichtentyp code must name the root element (the message type)."""
    if len(typ):                 # fast path: a first child <code> naming the root exactly
        code = typ[0]
        tag, root_tag = code.tag, root.tag
        if (tag == "code" or isinstance(tag, str) and local_name(tag) == "code") \
                and code.text == root_tag[root_tag.rfind("}") + 1:]:
            return None
    for code in typ:             # the first child element named code (cheaper than a tag filter)
        tag = code.tag
        if isinstance(tag, str) and local_name(tag) == "code":
            break
    else:
        return None
    expected = local_name(root.tag)
    value = (code.text or "").strip()
    if value == expected:
        return None
    return Issue(f"message type '{value}' in the header does not match the root element '{expected}'",
                 element_path(code), code.sourceline, "rule")
