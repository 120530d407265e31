"""The generated JSON Schemas: valid draft 2020-12, accept every example and golden record,
refuse what the mapper refuses, and carry the descriptions and code lists of the XSDs."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from gateway.mapping import Registry
from gateway.mapping.registry import shipped_registry

ROOT = Path(__file__).resolve().parents[2]
INVALID = ROOT / "tests" / "vectors" / "invalid"
DEMO = "demo.antrag.0001"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return shipped_registry()


@pytest.fixture(scope="module")
def demo() -> Registry:
    return Registry.load(ROOT / "tests" / "vectors" / "mapping")


def validator(registry: Registry, type_id: str) -> jsonschema.Draft202012Validator:
    schema = registry.json_schema(type_id)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_type_has_a_valid_schema_with_title_and_description(registry):
    for t in registry.types():
        schema = registry.json_schema(t.id)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["title"] == t.id and schema["description"] == t.description
        assert schema["additionalProperties"] is False


@pytest.mark.parametrize("folder", ["examples", "tests/vectors/messages"])
def test_examples_and_golden_records_validate(registry, folder):
    files = sorted((ROOT / folder).glob("*.json"))
    assert len(files) == len(registry.types())
    for path in files:
        errors = [e.message for e in validator(registry, path.stem).iter_errors(load(path))]
        assert errors == [], path.name


@pytest.mark.parametrize("vector", sorted(INVALID.glob("json-*.json")), ids=lambda p: p.stem)
def test_invalid_record_vectors_fail_unless_only_a_business_rule_can_tell(registry, vector):
    spec = vector.with_suffix(".expected.txt").read_text(encoding="utf-8")
    type_id = next(line.split(":", 1)[1].strip() for line in spec.splitlines() if line.startswith("type:"))
    valid = validator(registry, type_id).is_valid(load(vector))
    assert valid == ("check: rule" in spec)


def test_code_fields_enumerate_the_genericode_list_with_names(registry):
    schema = registry.json_schema("personenstand.urkundenantrag.0100")
    code = schema["$defs"]["bas:Code.Urkundenart"]["properties"]["code"]
    assert "GEB" in code["enum"] and len(code["x-enumNames"]) == len(code["enum"])
    assert "urn:xoev-gateway:codeliste:urkundenart" in code["description"]


def test_gateway_filled_fields_are_optional_and_say_so(registry):
    schema = registry.json_schema("transport.quittung.0900")
    header = schema["properties"]["nachrichtenkopfG2g"]
    assert "autor" not in header.get("required", []) and "leser" in header["required"]
    assert "Filled in by the gateway" in header["properties"]["autor"]["description"]
    assert "produkt" not in schema.get("required", [])


def test_demo_schema_expresses_facets_arrays_and_choices(demo):
    schema = demo.json_schema(DEMO)
    props = schema["properties"]
    assert props["anlage"]["maxItems"] == 3 and props["anlage"]["minItems"] == 1
    assert props["anzahl"] == {"description": "Wie viele Stück.", "type": "integer",
                               "minimum": 1, "maximum": 10}
    assert props["rueckrufnummer"]["enum"] == ["mobil", "festnetz"]
    assert schema["$defs"]["bas:Anschrift"]["properties"]["ort"]["maxLength"] == 40
    farbe = schema["$defs"]["bas:Code.Farbe"]["properties"]["code"]
    assert farbe["enum"] == ["rot", "gruen"] and farbe["x-enumNames"] == ["Rot", "Grün"]


@pytest.mark.parametrize("change, valid", [
    (lambda r: None, True),
    (lambda r: r.update(zustimmung=True), False),                       # two alternatives
    (lambda r: [r.pop("ablehnungsgrund"), r.pop("jahr")], False),        # none
    (lambda r: r.update(frist="2024-01-01"), False),                    # nested choice: both
    (lambda r: r.pop("rueckrufnummer"), True),                          # optional sequence absent
    (lambda r: [r.pop("rueckrufnummer"), r.update(uri="x:y")], False),  # ... started, head missing
    (lambda r: r["anschrift"].update(postleitzahl="1234"), False),
    (lambda r: r.update(anlage=[]), False),
    (lambda r: r.update(unbekannt=1), False),
    (lambda r: r["farbe"].update(code="blau"), False),
])
def test_demo_schema_agrees_with_the_mapper(demo, change, valid):
    record = load(ROOT / "tests" / "vectors" / "mapping" / f"{DEMO}.json")
    change(record)
    assert validator(demo, DEMO).is_valid(record) == valid
    if not valid and "blau" not in json.dumps(record):
        with pytest.raises(Exception):
            demo.build(DEMO, copy.deepcopy(record))
