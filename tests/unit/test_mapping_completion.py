"""Completing backend records and the shell path record -> checked message (incl. the
json-* invalid vectors with their expected check, path and message)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateway import __version__
from gateway.config import from_dict
from gateway.errors import ValidationFailed
from gateway.mapping import Authority, complete_record, prepare_message
from gateway.mapping.registry import shipped_registry
from gateway.validation import Validator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
INVALID = sorted((ROOT / "tests" / "vectors" / "invalid").glob("json-*.json"))
NOW = datetime(2025, 3, 4, 10, 11, 12, 999, tzinfo=timezone.utc)
ME = Authority("ags:09162000", "Landeshauptstadt München", "DVDV")


@pytest.fixture(scope="module")
def registry():
    return shipped_registry()


@pytest.fixture(scope="module")
def validator():
    return Validator.from_config(from_dict({}, base_dir=ROOT))


def complete(registry, type_id, record, **kw):
    return complete_record(registry.get(type_id).plan, type_id, record, authority=ME, now=NOW,
                           new_uuid=lambda: "00000000-0000-4000-8000-000000000001", **kw)


def test_completion_fills_header_product_and_author(registry):
    type_id = "transport.quittung.0900"
    example = json.loads((ROOT / "examples" / f"{type_id}.json").read_text(encoding="utf-8"))
    done = complete(registry, type_id, example)
    ident = done["nachrichtenkopfG2g"]["identifikationNachricht"]
    assert ident == {"nachrichtenUUID": "00000000-0000-4000-8000-000000000001",
                     "erstellungszeitpunkt": "2025-03-04T10:11:12Z",
                     "nachrichtentyp": {"code": type_id}}
    assert done["nachrichtenkopfG2g"]["autor"] == {
        "kennung": "ags:09162000", "name": "Landeshauptstadt München",
        "verzeichnisdienst": {"code": "DVDV"}}
    assert (done["produkt"], done["produktversion"]) == ("xoev-gateway", __version__)
    assert "nachrichtenkopfG2g" not in example or "autor" not in example["nachrichtenkopfG2g"]


def test_completion_never_overwrites_what_the_backend_sent(registry):
    type_id = "transport.quittung.0900"
    golden = json.loads((ROOT / "tests" / "vectors" / "messages" / f"{type_id}.json").read_text("utf-8"))
    assert complete(registry, type_id, golden) == golden


def test_author_comes_from_the_gateway_section_of_the_config():
    config = from_dict({"gateway": {"authority_id": "psw:123", "authority_name": "Amt X",
                                    "directory_service": "DVDV"}}, base_dir=ROOT)
    assert Authority.from_config(config) == Authority("psw:123", "Amt X", "DVDV")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_becomes_a_valid_message(registry, validator, example):
    record = json.loads(example.read_text(encoding="utf-8"))
    root = prepare_message(registry, example.stem, record, authority=ME, validator=validator, now=NOW)
    assert validator.validate_tree(root, now=NOW) == []
    assert registry.parse(root)[0] == example.stem


def _expected(path: Path) -> dict:
    spec: dict = {"message": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "message":
            spec["message"].append(value)
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize("vector", INVALID, ids=lambda p: p.stem)
def test_invalid_record_vectors_fail_with_the_expected_issue(registry, validator, vector):
    spec = _expected(vector.with_suffix(".expected.txt"))
    record = json.loads(vector.read_text(encoding="utf-8"))
    with pytest.raises(ValidationFailed) as info:
        prepare_message(registry, spec["type"], record, authority=ME, validator=validator, now=NOW)
    matching = [i for i in info.value.issues
                if i.path == spec["path"] and all(m in i.message for m in spec["message"])
                and ("check" not in spec or i.check == spec["check"])]
    assert matching, [i.format() + f" [{i.check}]" for i in info.value.issues]


def test_code_list_and_rule_issues_are_moved_to_record_paths(registry, validator):
    type_id = "personenstand.urkundenantrag.0100"
    record = json.loads((ROOT / "examples" / f"{type_id}.json").read_text(encoding="utf-8"))
    record["urkundenart"]["code"] = "XYZ"
    record["betroffenePerson"]["geburt"]["geburtsdatum"] = "2031-01-01"
    with pytest.raises(ValidationFailed) as info:
        prepare_message(registry, type_id, record, authority=ME, validator=validator, now=NOW)
    found = {(i.path, i.check) for i in info.value.issues}
    assert ("urkundenart.code", "codelist") in found
    assert ("betroffenePerson.geburt.geburtsdatum", "rule") in found
    assert all(i.line is None for i in info.value.issues)
