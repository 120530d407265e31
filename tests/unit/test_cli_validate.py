"""`gateway validate`: exit codes, `FILE:LINE: path: message` lines, --json, config standards."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
GOLDEN = sorted((VECTORS / "messages").glob("*.xml"))
IBAN = VECTORS / "invalid" / "rule-iban-checksum.xml"
XTERMIN = VECTORS / "thirdparty" / "xtermin"


@pytest.fixture(autouse=True)
def _no_env_config(monkeypatch):
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)


def test_all_valid_exits_0_and_prints_no_issues(capsys):
    assert GOLDEN, "golden vectors absent"
    assert main(["validate", *map(str, GOLDEN)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{len(GOLDEN)} files checked, {len(GOLDEN)} valid, 0 invalid" in err


def test_invalid_exits_1_with_file_line_path_message(capsys):
    assert main(["validate", str(GOLDEN[0]), str(IBAN)]) == 1
    out, _ = capsys.readouterr()
    assert out == (f"{IBAN}:86: personenstand.urkundenantrag.0100/sepaLastschrift/iban: "
                   "'DE89370400440532013001' is not a valid IBAN (check digits do not match) [rule]\n")


def test_unreadable_file_is_invalid_not_a_crash(capsys, tmp_path):
    assert main(["validate", str(tmp_path / "missing.xml"), str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert f"{tmp_path / 'missing.xml'}: cannot read the file: No such file or directory" in out
    assert f"{tmp_path}: cannot read the file: Is a directory" in out
    assert "Traceback" not in err


def test_json_prints_one_object_per_file(capsys):
    assert main(["validate", "--json", str(GOLDEN[0]), str(IBAN)]) == 1
    lines = capsys.readouterr().out.splitlines()
    first, second = map(json.loads, lines)
    assert first == {"file": str(GOLDEN[0]), "valid": True, "issues": []}
    assert second["valid"] is False
    assert second["issues"] == [{"path": "personenstand.urkundenantrag.0100/sepaLastschrift/iban",
                                 "line": 86, "check": "rule",
                                 "message": "'DE89370400440532013001' is not a valid IBAN (check digits do not match)",
                                 "severity": "error"}]


def test_no_files_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2


def test_bad_config_is_a_usage_error(capsys, tmp_path):
    cfg = tmp_path / "gateway.toml"
    cfg.write_text('[schemas]\nstandards = ["nowhere"]\n')
    assert main(["--config", str(cfg), "validate", str(GOLDEN[0])]) == 2
    assert "cannot read standard.toml" in capsys.readouterr().err


def test_oversized_file_is_refused_without_reading_it(capsys, tmp_path):
    cfg = tmp_path / "gateway.toml"
    cfg.write_text("[schemas]\nmax_bytes = 100\n")
    assert main(["--config", str(cfg), "validate", str(GOLDEN[0])]) == 1
    assert "over the limit of 100" in capsys.readouterr().out


def test_third_party_standard_from_config(capsys, tmp_path):
    shutil.copytree(XTERMIN, tmp_path / "xtermin")
    cfg = tmp_path / "gateway.toml"
    cfg.write_text('[schemas]\nstandards = ["xtermin"]\n')
    docs = VECTORS / "thirdparty" / "documents"
    assert main(["--config", str(cfg), "validate", str(docs / "xtermin-2.0-valid.xml")]) == 0
    bad = docs / "xtermin-1.0-end-before-start.xml"
    assert main(["--config", str(cfg), "validate", str(bad)]) == 1
    assert capsys.readouterr().out.startswith(f"{bad}:10: terminmeldung/termin[2]/zeitraum: Das Ende")


def test_hundreds_of_files_in_one_run(capsys, tmp_path):
    files = []
    for i in range(300):
        f = tmp_path / f"m{i}.xml"
        shutil.copyfile(GOLDEN[i % len(GOLDEN)] if i % 50 else IBAN, f)
        files.append(str(f))
    assert main(["validate", *files]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 6 and "300 files checked, 294 valid, 6 invalid" in err


def test_standard_input_and_console_script_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "gateway", "validate", "-"], input=b"<a><b></a>",
                          capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("-:1: not well-formed XML")
    assert b"Traceback" not in proc.stderr
