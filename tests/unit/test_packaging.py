"""Packaging: the Dockerfile's build stage, replayed (copy exactly what it copies into an
empty folder, `pip wheel` it), builds a wheel with every package and data folder and
without setuptools' "Package would be ignored" warnings."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def build_stage() -> list[str]:
    """The instructions of the Dockerfile's build stage (FROM ... AS build up to the next FROM)."""
    lines, stage = [], None
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            stage = "build" if line.rstrip().endswith(" AS build") else "other"
            continue
        if stage == "build" and line.strip() and not line.startswith("#"):
            lines.append(line.strip())
    return lines


def replay_copies(dest: Path) -> None:
    """Copy what the build stage's COPY lines copy, relative to WORKDIR, into dest."""
    for line in build_stage():
        if not line.startswith("COPY "):
            continue
        *sources, target = line.split()[1:]
        for source in sources:
            src = ROOT / source
            assert src.exists(), f"Dockerfile copies {source}, which does not exist"
            if src.is_dir():
                shutil.copytree(src, dest / target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                (dest / target).mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / target / src.name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    src = tmp_path_factory.mktemp("docker-build-src")
    out = tmp_path_factory.mktemp("wheels")
    replay_copies(src)
    assert any(line.startswith("RUN pip wheel") for line in build_stage())
    # The image's pip builds with an isolated, fresh setuptools; here the same backend
    # from the test extra, offline (--no-build-isolation).
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-v", "--wheel-dir", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = list(out.glob("xoev_gateway-*.whl"))
    assert len(wheels) == 1
    return wheels[0], proc.stdout + proc.stderr


def test_the_build_stage_copies_the_examples():
    copies = [line.split()[1] for line in build_stage() if line.startswith("COPY ")]
    assert {"gateway", "adapters", "xsd", "examples"} <= set(copies)


def test_the_build_stage_builds_a_wheel_without_ignored_packages(wheel):
    _, output = wheel
    ignored = re.findall(r"'([\w.]+)' as an importable package", output)
    assert ignored == []
    assert "would be ignored" not in output


def test_the_wheel_holds_schemas_examples_migrations_and_the_api_description(wheel):
    path, _ = wheel
    names = set(zipfile.ZipFile(path).namelist())
    for folder in ("basis", "codelists", "soap", "messages/personenstand", "messages/akte"):
        shipped = {p.name for p in (ROOT / "xsd" / folder).iterdir() if p.is_file() and p.suffix != ".py"}
        in_wheel = {Path(n).name for n in names if n.startswith(f"gateway/xsd/{folder}/")}
        assert shipped and shipped <= in_wheel, folder
    examples = {p.name for p in (ROOT / "examples").glob("*.json")}
    assert examples and {f"gateway/examples/{n}" for n in examples} <= names
    assert "gateway/backend/api/openapi.json" in names
    assert any(n.startswith("gateway/migrations/versions/0001") for n in names)
    assert "adapters/xta/__init__.py" in names


def test_every_package_folder_is_declared():
    """Every folder with Python or shipped data under gateway/ and adapters/ is a declared package."""
    import tomllib

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in (("gateway", "gateway"), ("adapters", "adapters"), ("xsd", "gateway.xsd"),
                      ("examples", "gateway.examples")):
        for folder in [ROOT / top, *(ROOT / top).rglob("*")]:
            if folder.is_dir() and folder.name != "__pycache__" and any(
                    f.is_file() and f.suffix not in (".pyc",) for f in folder.iterdir()):
                rel = folder.relative_to(ROOT / top).parts
                found.add(".".join((name, *rel)))
    assert found - declared == set()
