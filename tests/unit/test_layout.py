"""The house layout stays true: every import in gateway/ and adapters/ (lazy ones inside
functions included) obeys the floors of docs/architecture.md. A lower floor never imports a
higher one; adapters see only the ground floor; only the shell imports everything."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GROUND = {"gateway", "gateway.errors", "gateway.model", "gateway.ports", "gateway.xml", "gateway.files",
          "gateway.resources", "gateway.config", "gateway.logcontext"}
SHELL = {"gateway.bootstrap", "gateway.cli", "gateway.commands", "gateway.demo", "gateway.__main__"}
PACKAGES = ("mapping", "validation", "crypto", "store", "exchange", "backend", "operations", "server",
            "migrations", "console")

# floor -> the floors it may import (always itself too)
ALLOWED: dict[str, set[str]] = {
    "ground": {"ground"},
    "validation": {"ground"},
    "mapping": {"ground", "validation"},
    "crypto": {"ground"},
    "store": {"ground"},
    "migrations": {"ground", "store"},
    "server": {"ground"},
    "adapters": {"ground"},
    "exchange": {"ground", "mapping", "validation", "crypto", "store"},
    "backend": {"ground", "mapping", "validation", "crypto", "store", "exchange", "server", "adapters.folder"},
    "operations": {"ground", "mapping", "validation", "crypto", "store", "exchange", "backend", "server",
                   "adapters", "adapters.folder"},
    "console": {"ground", "mapping", "validation", "crypto", "store", "exchange", "backend", "server",
                "adapters", "adapters.folder", "operations"},
    "shell": {"*"},
}
# What an adapter may take from the ground floor ("ports, errors and config", plus the hardened
# XML parser, atomic files and packaged resources); never the model or anything higher.
ADAPTER_GROUND = {"gateway", "gateway.ports", "gateway.errors", "gateway.config", "gateway.xml",
                  "gateway.files", "gateway.resources"}


def floor(module: str) -> str:
    """The floor a module (or a module a name is imported from) lives on."""
    if module == "adapters.folder" or module.startswith("adapters.folder."):
        return "adapters.folder"
    if module == "adapters" or module.startswith("adapters."):
        return "adapters"
    top = ".".join(module.split(".")[:2])
    if top in SHELL:
        return "shell"
    if top in GROUND or module == "gateway":
        return "ground"
    part = module.split(".")[1]
    if part in PACKAGES:
        return part
    raise AssertionError(f"{module}: no floor for this module; add it to docs/architecture.md and here")


def modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in [*ROOT.glob("gateway/**/*.py"), *ROOT.glob("adapters/**/*.py")]:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return found


def imports(module: str, path: Path, is_pkg: bool) -> list[tuple[int, str]]:
    """(line, imported module) for every gateway/adapters import in one file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            known = modules()
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((node.lineno, sub if sub in known else target))
    return [(line, m) for line, m in out if m.split(".")[0] in ("gateway", "adapters")]


def violations() -> list[str]:
    found = []
    for module, (path, is_pkg) in sorted(modules().items()):
        own = floor(module)
        allowed = ALLOWED["adapters" if own == "adapters.folder" else own]
        for line, target in imports(module, path, is_pkg):
            theirs = floor(target)
            if "*" in allowed or theirs == own or (own == "adapters.folder" and theirs == "adapters"):
                continue
            if own in ("adapters", "adapters.folder") and theirs == "adapters.folder":
                continue
            if theirs not in allowed:
                found.append(f"{path.relative_to(ROOT)}:{line}: {own} imports {target} ({theirs})")
            elif own in ("adapters", "adapters.folder") and target not in ADAPTER_GROUND:
                found.append(f"{path.relative_to(ROOT)}:{line}: an adapter imports {target} "
                             f"(only {', '.join(sorted(ADAPTER_GROUND))})")
    return found


def test_every_import_obeys_the_floors():
    assert violations() == []


def test_every_module_has_a_floor():
    for module in modules():
        floor(module)  # raises for a module outside every floor


def test_every_subpackage_says_what_it_may_import():
    for init in [*ROOT.glob("gateway/*/__init__.py"), *ROOT.glob("adapters/**/__init__.py")]:
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if init.parent.name in ("migrations", "versions"):
            continue
        assert "import" in doc.lower(), f"{init.relative_to(ROOT)}: the docstring must say what it may import"


@pytest.mark.parametrize("source, floor_name", [
    ("from gateway.store import Store\n", "crypto"),
    ("from gateway.exchange.service import Gateway\n", "store"),
    ("from gateway.model import State\n", "adapters"),
    ("import gateway.bootstrap\n", "backend"),
])
def test_a_forbidden_import_is_found(tmp_path, monkeypatch, source, floor_name):
    """The checker itself: a planted forbidden import is reported."""
    target = {"crypto": "gateway/crypto", "store": "gateway/store", "adapters": "adapters/xta",
              "backend": "gateway/backend"}[floor_name]
    for rel in ("gateway", target):
        (tmp_path / rel).mkdir(parents=True, exist_ok=True)
        (tmp_path / rel / "__init__.py").write_text('"""Imports: nothing."""\n')
    (tmp_path / target / "planted.py").write_text(source)
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    found = violations()
    assert len(found) == 1 and "planted.py:1" in found[0]
