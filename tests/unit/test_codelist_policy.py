"""Code-list policy per standard (strict | known | off) and the XÖV rules for empty listURI
and listVersionID, on a copy of the XTermin test standard (tests/vectors/thirdparty)."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateway.errors import ConfigError, ValidationFailed
from gateway.validation import Validator, load_standard

THIRDPARTY = Path(__file__).resolve().parents[1] / "vectors" / "thirdparty"
VALID = (THIRDPARTY / "documents" / "xtermin-1.0-valid.xml").read_bytes()
NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
UNKNOWN_LIST = VALID.replace(b'listURI="urn:example:codeliste:terminart" listVersionID="1"',
                             b'listURI="urn:example:codeliste:other" listVersionID="1"', 1)
BAD_CODE = VALID.replace(b"<b:code>SPRECH</b:code>", b"<b:code>NOPE</b:code>", 1)


def validator_with(tmp_path: Path, policy: str | None) -> Validator:
    folder = tmp_path / "xtermin"
    shutil.copytree(THIRDPARTY / "xtermin", folder)
    toml = folder / "standard.toml"
    if policy is not None:
        toml.write_text(f'codelist_policy = "{policy}"\n' + toml.read_text())
    return Validator.from_standards([load_standard(folder)])


@pytest.mark.parametrize("policy, severity", [(None, "warning"), ("known", "warning"), ("strict", "error")])
def test_a_list_that_is_not_loaded(tmp_path, policy, severity):
    v = validator_with(tmp_path, policy)
    (issue,) = v.validate(UNKNOWN_LIST, now=NOW)
    assert (issue.check, issue.severity, issue.line) == ("codelist", severity, 4)
    assert issue.message == "unknown code list urn:example:codeliste:other version 1"
    if severity == "error":
        with pytest.raises(ValidationFailed):
            v.check(UNKNOWN_LIST, now=NOW)
    else:
        v.check(UNKNOWN_LIST, now=NOW)   # a warning is never a reason to refuse


@pytest.mark.parametrize("policy", ["known", "strict"])
def test_a_code_outside_a_loaded_list_is_an_error_under_known_and_strict(tmp_path, policy):
    (issue,) = validator_with(tmp_path, policy).validate(BAD_CODE, now=NOW)
    assert (issue.check, issue.severity, issue.path) == ("codelist", "error", "terminmeldung/termin[1]/art/code")
    assert issue.message == "code 'NOPE' is not in code list urn:example:codeliste:terminart version 1"


def test_off_skips_the_layer(tmp_path):
    v = validator_with(tmp_path, "off")
    assert v.validate(BAD_CODE, now=NOW) == [] and v.validate(UNKNOWN_LIST, now=NOW) == []


def test_empty_list_version_means_the_newest_loaded_version(tmp_path):
    v = validator_with(tmp_path, "strict")
    online = VALID.replace(b'listVersionID="1"><b:code>SPRECH', b'listVersionID=""><b:code>ONLINE', 1)
    assert v.validate(online, now=NOW) == []           # ONLINE is only in version 2, the newest
    bad = VALID.replace(b'listVersionID="1"><b:code>SPRECH', b'listVersionID=" "><b:code>NOPE', 1)
    (issue,) = v.validate(bad, now=NOW)
    assert issue.message == "code 'NOPE' is not in code list urn:example:codeliste:terminart version 2"


@pytest.mark.parametrize("policy, severity", [("known", "warning"), ("strict", "error")])
def test_empty_list_uri_names_no_list_and_never_an_empty_name(tmp_path, policy, severity):
    xml = VALID.replace(b'listURI="urn:example:codeliste:terminart"', b'listURI=""', 1)
    (issue,) = validator_with(tmp_path, policy).validate(xml, now=NOW)
    assert (issue.severity, issue.path, issue.line) == (severity, "terminmeldung/termin[1]/art", 4)
    assert issue.message == "no code list named (listURI is empty), the code is not checked"
    assert issue.format(layer=True).endswith(f" [codelist{', warning' * (severity == 'warning')}]")


def test_unknown_policy_is_a_config_error_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"standard.toml: codelist_policy must be one of strict, known, off"):
        validator_with(tmp_path, "lenient")


def test_our_own_standard_stays_strict():
    from gateway.resources import xsd_dir
    from gateway.validation import own_standard
    assert own_standard(xsd_dir()).codelist_policy == "strict"
