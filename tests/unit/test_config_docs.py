"""docs/configuration.md documents every key (it is generated: `python -m gateway.config.docs`),
every key has its comment in sections.py, and `gateway init`'s commented gateway.toml loads
and lists every section."""
from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from gateway import config as configuration
from gateway.config import docs, sections
from gateway.config.describe import SUBTABLES, tables
from gateway.config.env import variables
from gateway.config.template import render

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
REGENERATE = "docs/configuration.md is missing keys: run `python -m gateway.config.docs` in the checkout"


def documented() -> dict[str, set[str]]:
    """heading -> keys in the doc's table under `## `[heading]``."""
    found: dict[str, set[str]] = {}
    heading = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"## `\[(.+)\]`$", line)
        if m:
            heading = m.group(1)
            found[heading] = set()
        elif heading and line.startswith("| `"):
            found[heading].add(line.split("`")[1])
    return found


def test_every_key_of_every_section_is_in_the_doc():
    doc = documented()
    missing = [f"[{t.heading}] {k.name}" for t in tables() for k in t.keys if k.name not in doc.get(t.heading, ())]
    assert missing == [], REGENERATE


def test_the_doc_lists_no_key_that_is_gone():
    known = {t.heading: {k.name for k in t.keys} for t in tables()}
    stale = [f"[{h}] {k}" for h, keys in documented().items() for k in keys - known.get(h, set())]
    assert stale == [], "run `python -m gateway.config.docs`"


def test_every_section_class_is_described():
    from gateway.config.describe import TABLES

    classes = {c for c in vars(sections).values() if isinstance(c, type) and dataclasses.is_dataclass(c)
               and c.__module__ == sections.__name__}
    # a section class is documented by itself (tables() appends it); a nested table's class
    # ([console.units."NAME"], ...) must be listed
    missing = classes - {cls for _, cls, _ in TABLES} - set(sections.SECTIONS.values())
    assert missing == set(), "add the table to TABLES in gateway/config/describe.py"


def test_every_key_has_its_comment():
    silent = [f"[{t.heading}] {k.name}" for t in tables() for k in t.keys if not k.meaning]
    assert silent == []


def test_environment_variables_in_the_doc_exist():
    named = set(re.findall(r"`(GATEWAY_[A-Z_]+)`", DOC.read_text(encoding="utf-8")))
    assert named - set(variables()) - {"GATEWAY_CONFIG", "GATEWAY_DEBUG"} == set()
    assert {"GATEWAY_DATA_DIR", "GATEWAY_STORE_URL", "GATEWAY_CONFIG"} <= named


def test_no_two_keys_share_an_environment_variable():
    names = [(s, k) for s, k, _ in variables().values()]
    assert len(names) == len(set(names)) == len(variables())


def test_the_generator_says_how_to_regenerate():
    text = docs.render()
    assert "python -m gateway.config.docs" in text.split("\n## ", 1)[0]


def test_the_init_template_loads_and_has_every_section(tmp_path):
    text = render({"gateway": {"authority_id": "psw:09162000", "authority_name": "Standesamt",
                               "data_dir": "data"}, "server": {"public_url": "https://x.example", "port": 8443}})
    raw = tomllib.loads(text)
    assert set(raw) <= set(sections.SECTIONS)
    (tmp_path / "gateway.toml").write_text(text, encoding="utf-8")
    cfg = configuration.load(tmp_path / "gateway.toml", environ={})
    assert (cfg.gateway.authority_id, cfg.server.port, cfg.server.public_url) == ("psw:09162000", 8443,
                                                                                 "https://x.example")
    for table in tables():
        assert f"[{table.heading}]" in text
        for key in table.keys:
            assert re.search(rf"^(# )?{key.name} = ", text, flags=re.M), (table.heading, key.name)
    # what is not set stays at its default: commented out
    assert cfg.origin("delivery", "timeout") == "default"
    assert not [k for k in raw.get("delivery", {})]


def test_subtables_are_not_keys():
    for cls_name, field in SUBTABLES:
        cls = getattr(sections, cls_name)
        assert field in {f.name for f in dataclasses.fields(cls)}, (cls_name, field)
