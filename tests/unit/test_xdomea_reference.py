"""The real xdomea 2.4.0 schema set, code lists and messages (../shared/reference), configured
by files only (gateway.toml + standard.toml) and checked through `gateway validate`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main
from tests.conftest import need
from tests.support.xdomea import messages, write_xdomea_standard, xdomea_dir


@pytest.fixture
def xdomea_config(tmp_path, reference_dir, monkeypatch) -> Path:
    need(xdomea_dir(reference_dir).is_dir(), f"xdomea 2.4.0 reference set not found in {reference_dir}")
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    write_xdomea_standard(tmp_path / "xdomea", reference_dir)
    config = tmp_path / "gateway.toml"
    config.write_text('[schemas]\nstandards = ["xdomea"]\n')
    return config


def test_the_four_real_messages_validate_with_warnings_only(xdomea_config, reference_dir, capsys):
    files = messages(reference_dir)
    assert len(files) == 4
    assert main(["--config", str(xdomea_config), "validate", *map(str, files)]) == 0
    out, err = capsys.readouterr()
    assert "4 files checked, 4 valid, 0 invalid (0 issues, 16 warnings)" in err
    # the Behoerdenkennung codes carry listURI="" (code type 4 without a list): warned, never "unknown code list "
    lines = out.splitlines()
    assert len(lines) == 16 and all(line.endswith("[codelist, warning]") for line in lines)
    assert f"{files[2]}:16: Aussonderung.Aussonderung.0503/Kopf/Absender/Behoerdenkennung/Kennung: " \
           "no code list named (listURI is empty), the code is not checked [codelist, warning]" in lines


def test_json_marks_warnings_and_the_file_valid(xdomea_config, reference_dir, capsys):
    file = messages(reference_dir)[2]
    assert main(["--config", str(xdomea_config), "validate", "--json", str(file)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["valid"] is True
    assert {(i["check"], i["severity"]) for i in record["issues"]} == {("codelist", "warning")}


MUTATIONS = {
    "required element removed": (
        lambda x: x.replace(x[x.index("<xdomea:ProzessID>"):x.index("</xdomea:ProzessID>") + 19], ""),
        10, "Aussonderung.Aussonderung.0503/Kopf/Nachrichtentyp",
        "unexpected element 'Nachrichtentyp', expected 'ProzessID'"),
    "code outside its list": (
        lambda x: x.replace("<code>0503</code>", "<code>0999</code>", 1),
        11, "Aussonderung.Aussonderung.0503/Kopf/Nachrichtentyp/code",
        "'0999' is not one of the allowed values"),
    "wrong order": (
        lambda x: x.replace(
            "<xdomea:Erstellungszeitpunkt>2018-07-24T17:25:39</xdomea:Erstellungszeitpunkt>", "", 1).replace(
            "<xdomea:Nachrichtentyp>",
            "<xdomea:Erstellungszeitpunkt>2018-07-24T17:25:39</xdomea:Erstellungszeitpunkt><xdomea:Nachrichtentyp>", 1),
        10, "Aussonderung.Aussonderung.0503/Kopf/Erstellungszeitpunkt",
        "unexpected element 'Erstellungszeitpunkt', expected 'Nachrichtentyp'"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutated_copies_fail_with_file_line_path_message(name, xdomea_config, reference_dir, tmp_path, capsys):
    edit, line, path, message = MUTATIONS[name]
    original = messages(reference_dir)[2].read_text(encoding="utf-8")
    mutated = edit(original)
    assert mutated != original
    file = tmp_path / "mutated.xml"
    file.write_text(mutated, encoding="utf-8")
    assert main(["--config", str(xdomea_config), "validate", str(file)]) == 1
    out, err = capsys.readouterr()
    errors = [line_ for line_ in out.splitlines() if not line_.endswith(", warning]")]
    assert errors and errors[0].startswith(f"{file}:{line}: {path}: {message}"), out
    assert "1 invalid" in err
