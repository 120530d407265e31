"""A fast CLI start, checked by what is imported (never by timing; bench/bench_cli.py measures):
`gateway CMD` loads only CMD's module, `--version`/`types`/`schema` load no server, store,
crypto or xmlschema, and the types catalog cache is keyed by the schema files."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from gateway import cli
from gateway.commands import keys
from gateway.crypto import devca
from gateway.mapping import catalog
from gateway.mapping.registry import shipped_registry
from gateway.resources import xsd_dir

HEAVY = ("sqlalchemy", "alembic", "aiohttp", "xmlschema", "cryptography", "signxml", "apscheduler", "zeep")


def test_the_owner_table_names_the_module_that_registers_each_command():
    """A listed command's module registers it (a command not listed still works, through
    the full parser, only slower: add it to COMMAND_OWNERS)."""
    registered = {}
    for module in cli.COMMAND_MODULES:
        parser = cli.build_parser((module,))
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        registered.update({command: module for command in sub.choices})
    wrong = {c: m for c, m in cli.COMMAND_OWNERS.items() if registered.get(c) != m}
    assert wrong == {}
    assert {"types", "schema", "build", "validate", "init", "config"} <= set(cli.COMMAND_OWNERS)


def test_a_bare_version_and_help_choose_their_modules():
    assert cli._modules_for(["--version"]) == ()
    assert cli._modules_for(["--config", "x.toml", "types"]) == ("gateway.commands.library",)
    assert cli._modules_for(["-h"]) == cli.COMMAND_MODULES
    assert cli._modules_for(["no-such-command"]) == cli.COMMAND_MODULES


def imported_by(argv: list[str], tmp_path: Path) -> set[str]:
    code = ("import sys, json\nfrom gateway.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(json.dumps(sorted(sys.modules)))\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=env)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_version_types_and_schema_import_nothing_heavy(tmp_path):
    imported_by(["types"], tmp_path)      # first run fills the catalog cache
    for argv in (["--version"], ["types"], ["schema", "personenstand.urkundenantrag.0100"]):
        loaded = imported_by(argv, tmp_path)
        heavy = sorted({m.split(".")[0] for m in loaded} & set(HEAVY))
        assert heavy == [], (argv, heavy)
        assert "gateway.store.repository" not in loaded and "gateway.server" not in loaded


def test_the_catalog_cache_matches_the_registry_and_is_keyed_by_the_schemas(tmp_path):
    data = catalog.catalog(tmp_path)
    registry = shipped_registry()
    assert [t["id"] for t in data["types"]] == [t.id for t in registry.types()]
    assert data["schemas"]["personenstand.urkundenantrag.0100"] == registry.json_schema(
        "personenstand.urkundenantrag.0100")
    (cached,) = tmp_path.glob("catalog-*.json")
    assert cached.name == f"catalog-{catalog.digest()}.json"
    assert catalog.catalog(tmp_path) == data                       # read back from the file
    copy = tmp_path / "xsd"
    shutil.copytree(xsd_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert catalog.digest(copy) == catalog.digest()
    schema = next(copy.glob("messages/*/*.xsd"))
    schema.write_bytes(schema.read_bytes() + b"\n")
    assert catalog.digest(copy) != catalog.digest()


def test_an_unwritable_cache_folder_still_answers(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    data = catalog.catalog(blocker / "sub")
    assert len(data["types"]) == len(shipped_registry().types())


def test_the_cache_folder_follows_xdg(tmp_path):
    assert catalog.cache_folder({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "xoev-gateway"


def test_the_cli_key_kinds_are_the_devca_ones():
    assert keys.KEY_KINDS == devca.KEY_KINDS
