"""Property tests: records generated from the plans (respecting every facet) survive
record -> XML -> record unchanged, the XML is schema-valid, and the JSON Schema accepts them."""
from __future__ import annotations

import base64
import re
import string
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.mapping import Registry
from gateway.mapping.plan import ElementPlan, GroupPlan, TypePlan
from gateway.mapping.registry import shipped_registry
from gateway.mapping.simple import SimpleType, collapse, replace

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
# Text a clerk might type, plus XML's awkward characters (markup, CR, tabs, non-BMP).
TEXT = st.text(alphabet=st.sampled_from(list(string.ascii_letters + string.digits + " äöüßÄÖÜ-.,/&<>\"'\t\n\r")
                                        + ["\u20ac", "\U0001F600", "\u00a0"]), max_size=30)


def simple_values(st_: SimpleType):
    """Strategy for record values of one simple type (already in whitespace-normal form)."""
    f = st_.facets
    if st_.kind == "boolean":
        return st.booleans()
    if f.enumeration is not None:
        values = [int(v) for v in f.enumeration] if st_.kind == "integer" else list(f.enumeration)
        return st.sampled_from(values)
    if st_.kind == "integer":
        low = f.min_inclusive if f.min_inclusive is not None else -10**12
        high = f.max_inclusive if f.max_inclusive is not None else 10**12
        return st.integers(int(low), int(high))
    b = st_.builtin
    if b == "date":
        base = st.dates().map(lambda d: d.isoformat())
    elif b == "dateTime":
        base = st.tuples(st.datetimes(), st.sampled_from(["Z", "+01:00", ""])).map(
            lambda p: p[0].strftime("%Y-%m-%dT%H:%M:%S") + p[1])
    elif b == "gYear":
        base = st.integers(1000, 9999).map(str)
    elif b == "decimal":
        places = f.fraction_digits if f.fraction_digits is not None else 3
        low = Decimal(f.min_inclusive) if f.min_inclusive is not None else Decimal("-1e9")
        high = Decimal(f.max_inclusive) if f.max_inclusive is not None else Decimal("1e9")
        base = st.decimals(low, high, places=places, allow_nan=False, allow_infinity=False).map(
            lambda d: format(d, "f"))
    elif b == "base64Binary":
        base = st.binary(max_size=40).map(lambda data: base64.b64encode(data).decode())
    elif b == "anyURI":
        base = st.from_regex(r"https://[a-z]{1,8}\.example/[a-z0-9]{0,8}", fullmatch=True)
    elif f.regexes:
        inner = f.regexes[-1][0].pattern.removeprefix("^(?:").removesuffix(r")$(?!\n\Z)")
        base = st.from_regex(re.compile(inner, re.ASCII), fullmatch=True)   # libxml2's \d is ASCII-ish
    else:
        low = f.length if f.length is not None else (f.min_length or 0)
        high = f.length if f.length is not None else min(f.max_length or 30, 30)
        normal = {"collapse": collapse, "replace": replace}.get(st_.whitespace, lambda s: s)
        base = TEXT.map(normal).filter(lambda s: low <= len(s) <= high)
    normal = {"collapse": collapse, "replace": replace}.get(st_.whitespace, lambda s: s)
    return base.filter(lambda text: normal(text) == text and st_.check(text)[0] is None)


@st.composite
def type_records(draw, tp: TypePlan, codelists):
    if tp.kind == "simple":
        return draw(simple_values(tp.value))
    record = {}
    fixed = {a.name: a.fixed for a in tp.attributes}
    code_list = codelists.get(fixed.get("listURI") or "", fixed.get("listVersionID"))
    for a in tp.attributes:
        if a.fixed is not None:
            record[a.name] = a.fixed
        elif a.required or draw(st.booleans()):
            record[a.name] = draw(simple_values(a.type))
    if tp.kind == "simplecontent":
        record["value"] = draw(simple_values(tp.value))
    elif tp.content is not None:
        draw(group_records(tp.content, record, codelists, required=True))
    if code_list is not None:
        record["code"] = draw(st.sampled_from(sorted(code_list.codes)))
    return record


@st.composite
def group_records(draw, group: GroupPlan, record: dict, codelists, required: bool):
    if group.min == 0 and not draw(st.booleans()):
        return
    if not required and group.min == 0:
        return
    particles = group.particles
    if group.model == "choice":
        particles = (draw(st.sampled_from(particles)),)
    for p in particles:
        if isinstance(p, GroupPlan):
            draw(group_records(p, record, codelists, required=True))
        elif p.min >= 1 or group.model == "choice" or draw(st.booleans()):
            record[p.key] = draw(element_values(p, codelists))


def element_values(plan: ElementPlan, codelists):
    item = type_records(plan.type, codelists)
    if plan.max == 1:
        return item
    return st.lists(item, min_size=max(1, plan.min), max_size=min(plan.max or 3, 3))


REGISTRY = shipped_registry()
DEMO = Registry.load(ROOT / "tests" / "vectors" / "mapping")
CASES = [(REGISTRY, t.id) for t in REGISTRY.types()] + [(DEMO, t.id) for t in DEMO.types()]


@pytest.mark.parametrize("registry, type_id", CASES, ids=[c[1] for c in CASES])
def test_record_xml_record_is_identity_and_xml_is_schema_valid(registry, type_id):
    message_type = registry.get(type_id)
    validator = jsonschema.Draft202012Validator(registry.json_schema(type_id))

    @SETTINGS
    @given(type_records(message_type.plan.type, registry.codelists))
    def check(record):
        xml = registry.to_xml(type_id, record, defaults=False)
        assert message_type.schema.validate(etree.fromstring(xml)), message_type.schema.error_log
        assert registry.parse(xml) == (type_id, record)
        assert list(validator.iter_errors(record)) == []

    check()
