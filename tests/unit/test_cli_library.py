"""CLI contract of `gateway types|schema|build|parse`: output, exit codes, error lines."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from gateway.cli import main
from gateway.mapping.registry import shipped_registry

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "vectors" / "messages"
EXAMPLE = ROOT / "examples" / "personenstand.urkundenantrag.0100.json"
TYPE = "personenstand.urkundenantrag.0100"


@pytest.fixture(autouse=True)
def no_config(monkeypatch):
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def bad_record(tmp_path: Path) -> Path:
    record = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    record["antragsteller"]["anschrift"]["postleitzahl"] = "803"
    record["antragsteller"]["vorname"] = "Anna"
    path = tmp_path / "antrag.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def test_types_prints_one_line_per_type(capsys):
    code, out, _ = run(capsys, "types")
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(shipped_registry().types())
    assert any(line.split()[:3] == [TYPE, "XGateway-Personenstand", "1.0"] for line in lines)
    assert all(len(line.split()) > 3 for line in lines)              # description present


def test_types_json(capsys):
    code, out, _ = run(capsys, "types", "--json")
    assert code == 0 and {t["id"] for t in json.loads(out)} == {t.id for t in shipped_registry().types()}


def test_schema_prints_the_json_schema(capsys):
    code, out, _ = run(capsys, "schema", TYPE)
    assert code == 0 and json.loads(out)["title"] == TYPE


def test_unknown_type_is_a_usage_error_with_a_hint(capsys):
    code, _, err = run(capsys, "schema", "personenstand.urkundenantrag.010")
    assert code == 2 and "did you mean personenstand.urkundenantrag.0100" in err


def test_missing_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["build", TYPE])
    assert info.value.code == 2


def test_build_writes_valid_xml_to_stdout(capsys):
    code, out, err = run(capsys, "build", TYPE, str(EXAMPLE))
    assert code == 0 and err == ""
    type_id, record = shipped_registry().parse(out.encode("utf-8"))
    assert type_id == TYPE
    assert record["antragsteller"]["anschrift"]["postleitzahl"] == "80337"
    assert record["nachrichtenkopfG2g"]["autor"]["kennung"] == "ags:00000000"   # config default


def test_build_takes_the_author_from_the_config(capsys, tmp_path):
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\nauthority_id = "psw:09162000"\nauthority_name = "Standesamt X"\n')
    code, out, _ = run(capsys, "--config", str(config), "build", TYPE, str(EXAMPLE))
    autor = shipped_registry().parse(out.encode())[1]["nachrichtenkopfG2g"]["autor"]
    assert code == 0 and (autor["kennung"], autor["name"]) == ("psw:09162000", "Standesamt X")


def test_build_to_file(capsys, tmp_path):
    target = tmp_path / "out.xml"
    code, out, _ = run(capsys, "build", TYPE, str(EXAMPLE), "-o", str(target))
    assert code == 0 and out == ""
    assert shipped_registry().parse(target.read_bytes())[0] == TYPE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xml"]


def test_build_errors_are_field_path_lines_and_leave_no_file(capsys, tmp_path):
    record = bad_record(tmp_path)
    target = tmp_path / "out.xml"
    code, out, err = run(capsys, "build", TYPE, str(record), "-o", str(target))
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert f"{record}: antragsteller.anschrift.postleitzahl: '803' does not match the required pattern [0-9]{{5}}" in lines
    assert any(line.startswith(f"{record}: antragsteller.vorname: unknown field") for line in lines)
    assert not target.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["antrag.json"]


def test_build_reports_code_list_errors_at_the_record_path(capsys, tmp_path):
    record = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    record["urkundenart"]["code"] = "XYZ"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record))
    code, _, err = run(capsys, "build", TYPE, str(path))
    assert code == 1 and f"{path}: urkundenart.code: code 'XYZ' is not in code list" in err


def test_build_refuses_broken_json_and_missing_files(capsys, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "a": \n')
    code, _, err = run(capsys, "build", TYPE, str(broken))
    assert code == 1 and err.startswith(f"{broken}:3: not valid JSON")
    code, _, err = run(capsys, "build", TYPE, str(tmp_path / "none.json"))
    assert code == 1 and "none.json" in err and "Traceback" not in err


def test_build_reads_stdin(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(EXAMPLE.read_bytes())))
    code, out, _ = run(capsys, "build", TYPE, "-")
    assert code == 0 and out.startswith("<?xml")


def test_parse_prints_the_record(capsys):
    code, out, _ = run(capsys, "parse", str(GOLDEN / f"{TYPE}.xml"))
    assert code == 0
    assert json.loads(out) == json.loads((GOLDEN / f"{TYPE}.json").read_text(encoding="utf-8"))


def test_parse_errors_name_file_line_and_path(capsys, tmp_path):
    xml = (GOLDEN / f"{TYPE}.xml").read_bytes().replace(b">80337<", b">803<", 1)
    path = tmp_path / "bad.xml"
    path.write_bytes(xml)
    code, out, err = run(capsys, "parse", str(path))
    line = next(i for i, text in enumerate(xml.splitlines(), 1) if b">803<" in text)
    assert code == 1 and out == ""
    assert err.startswith(f"{path}:{line}: {TYPE}/antragsteller/anschrift/postleitzahl: ")
    path.write_bytes(b"<a><b></a>")
    code, _, err = run(capsys, "parse", str(path))
    assert code == 1 and err.startswith(f"{path}:1: not well-formed XML")


def test_console_script_in_a_real_process(tmp_path):
    script = shutil.which("gateway", path=str(Path(sys.executable).parent)) or shutil.which("gateway")
    assert script, "the gateway console script is not installed"
    env = {k: v for k, v in os.environ.items() if k != "GATEWAY_CONFIG"}
    ok = subprocess.run([script, "build", TYPE, str(EXAMPLE), "-o", "m.xml"], cwd=tmp_path,
                        capture_output=True, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert etree.fromstring((tmp_path / "m.xml").read_bytes()).get("standard") == "XGateway-Personenstand"
    bad = subprocess.run([script, "build", TYPE, str(bad_record(tmp_path)), "-o", "n.xml"],
                         cwd=tmp_path, capture_output=True, env=env, timeout=60)
    err = bad.stderr.decode()
    assert bad.returncode == 1 and "Traceback" not in err
    assert "antragsteller.anschrift.postleitzahl" in err and not (tmp_path / "n.xml").exists()
