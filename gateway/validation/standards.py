"""Standards the gateway validates: its own (under `xsd_dir()`) and third-party ones by config.

A third-party standard is a folder with a `standard.toml` (reference in docs/validation.md):

    name = "XTermin"
    catalog = "catalog.xml"              # optional OASIS XML catalog
    codelists = ["codelisten"]           # optional genericode folders
    schematron = ["regeln/xtermin.sch"]  # optional ISO Schematron for every schema
    rules = false                        # also run the gateway's business rules
    version_attribute = "version"        # root attribute that selects the version
    codelist_policy = "known"            # strict | known (unknown lists: warnings) | off
    header = "xoev-g2g"                  # header profile: "xoev-g2g", "xdomea" or a [header] table

    [header]                             # instead of a built-in profile: one XPath per fact
    namespaces = { m = "urn:example:meldung" }
    message_id = "m:kopf/m:id"           # every fact is required: message_id, message_type,
    message_type = "m:kopf/m:typ"        #   created, author, reader (author/reader: the
    created = "m:kopf/m:erstellt"        #   authority ids of the partner directory)
    author = "m:kopf/m:von"
    reader = "m:kopf/m:an"

    [[schemas]]
    file = "xtermin-1.0/xtermin.xsd"
    namespace = "urn:example:xtermin"    # default: the schema's targetNamespace
    version = "1.0"                      # default: the schema's version attribute
    schematron = []                      # extra Schematron for this version only

Loading reads and checks the description only; compiling happens in `SchemaCatalog`.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lxml import etree

from ..config import build_dataclass
from ..errors import ConfigError

XS = "http://www.w3.org/2001/XMLSchema"
OWN_NAME = "xoev-gateway"
POLICIES = ("strict", "known", "off")
BUILTIN_HEADERS = ("xoev-g2g", "xdomea")
HEADER_FACTS = ("message_id", "message_type", "created", "author", "reader")


@dataclass(frozen=True, slots=True)
class HeaderSpec:
    """How a standard's messages carry their routing facts: a built-in profile by name, or
    (profile "xpath") one XPath expression per fact with the namespace prefixes they use.
    Compiled (and checked) at start-up by gateway.exchange.header."""

    profile: str = "xoev-g2g"
    namespaces: tuple[tuple[str, str], ...] = ()
    facts: tuple[tuple[str, str], ...] = ()          # (fact, XPath), in HEADER_FACTS order


@dataclass(frozen=True, slots=True)
class SchemaSpec:
    """One schema of a standard: the file, and the (namespace, version) it validates."""

    file: str
    namespace: str = ""
    version: str = ""
    schematron: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Standard:
    """A described standard: schemas, catalog, Schematron and code lists, paths absolute."""

    name: str
    folder: str = ""
    schemas: tuple[SchemaSpec, ...] = ()
    catalog: str = ""
    codelists: tuple[str, ...] = ()
    schematron: tuple[str, ...] = ()
    rules: bool = False
    version_attribute: str = "version"
    codelist_policy: str = "known"
    header: HeaderSpec = HeaderSpec()


def load_standard(folder: str | os.PathLike) -> Standard:
    """Read `standard.toml` of a folder; raises ConfigError naming the file and key."""
    base = Path(folder).resolve()
    file = base / "standard.toml"
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"standard {base}: cannot read standard.toml: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    raw = dict(raw)
    schemas_raw = raw.pop("schemas", None)
    if not isinstance(schemas_raw, list) or not schemas_raw:
        raise ConfigError(f"{file}: needs at least one [[schemas]] table with a file")
    if isinstance(raw.get("codelists"), str):
        raw["codelists"] = [raw["codelists"]]
    header = _header_spec(raw.pop("header", "xoev-g2g"), file)
    std = build_dataclass(Standard, raw, str(file))
    if not std.name:
        raise ConfigError(f"{file}: name is required")
    if std.codelist_policy not in POLICIES:
        raise ConfigError(f"{file}: codelist_policy must be one of {', '.join(POLICIES)}, "
                          f"not {std.codelist_policy!r}")
    schemas = tuple(_schema_spec(s, i, file, base) for i, s in enumerate(schemas_raw))
    return replace(
        std, folder=str(base), schemas=schemas, header=header,
        catalog=str(_existing(base, std.catalog, file, "catalog")) if std.catalog else "",
        codelists=tuple(str(_existing(base, c, file, "codelists")) for c in std.codelists),
        schematron=tuple(str(_existing(base, s, file, "schematron")) for s in std.schematron),
    )


def _schema_spec(data: Any, index: int, file: Path, base: Path) -> SchemaSpec:
    where = f"{file} [[schemas]] #{index + 1}"
    if not isinstance(data, dict) or not data.get("file"):
        raise ConfigError(f"{where}: needs a file")
    spec = build_dataclass(SchemaSpec, data, where)
    path = _existing(base, spec.file, file, "file")
    ns, version = schema_identity(path)
    return replace(spec, file=str(path), namespace=spec.namespace or ns,
                   version=spec.version or version,
                   schematron=tuple(str(_existing(base, s, file, "schematron")) for s in spec.schematron))


def _header_spec(value: Any, file: Path) -> HeaderSpec:
    """`header = "NAME"` (a built-in profile) or a `[header]` table of namespaces and XPaths."""
    if isinstance(value, str):
        if value not in BUILTIN_HEADERS:
            raise ConfigError(f"{file}: header must be one of {', '.join(BUILTIN_HEADERS)} or a "
                              f"[header] table of XPaths, not {value!r}")
        return HeaderSpec(profile=value)
    if not isinstance(value, dict):
        raise ConfigError(f"{file}: header must be a profile name or a [header] table")
    table = dict(value)
    namespaces = table.pop("namespaces", {})
    if not isinstance(namespaces, dict) or not all(isinstance(v, str) for v in namespaces.values()):
        raise ConfigError(f"{file}: [header] namespaces must be a table of prefix = \"URI\"")
    unknown = sorted(set(table) - set(HEADER_FACTS))
    if unknown:
        raise ConfigError(f"{file}: [header] unknown key {unknown[0]!r} (facts: {', '.join(HEADER_FACTS)})")
    facts = []
    for fact in HEADER_FACTS:
        expr = table.get(fact)
        if not isinstance(expr, str) or not expr.strip():
            raise ConfigError(f"{file}: [header] {fact} needs an XPath expression")
        facts.append((fact, expr))
    return HeaderSpec(profile="xpath", namespaces=tuple(sorted(namespaces.items())), facts=tuple(facts))


def own_standard(xsd_root: Path) -> Standard:
    """The gateway's own message library: `messages/<family>/<family>.xsd`, with code lists
    (other .xsd files in a family folder are parts included by that schema)."""
    messages = xsd_root / "messages"
    families = sorted(d for d in messages.iterdir() if d.is_dir()) if messages.is_dir() else []
    files = [d / f"{d.name}.xsd" for d in families if (d / f"{d.name}.xsd").is_file()]
    schemas = []
    for f in files:
        ns, version = schema_identity(f)
        if ns:
            schemas.append(SchemaSpec(file=str(f), namespace=ns, version=version))
    codelists = xsd_root / "codelists"
    return Standard(name=OWN_NAME, folder=str(xsd_root), schemas=tuple(schemas),
                    codelists=(str(codelists),) if codelists.is_dir() else (), rules=True,
                    codelist_policy="strict")


def schema_identity(path: Path) -> tuple[str, str]:
    """(targetNamespace, version) declared on a schema's xs:schema element."""
    try:
        for _event, el in etree.iterparse(str(path), events=("start",), resolve_entities=False,
                                          load_dtd=False, no_network=True):
            if el.tag != f"{{{XS}}}schema":
                raise ConfigError(f"schema {path}: root is not xs:schema")
            return el.get("targetNamespace", ""), el.get("version", "")
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"schema {path}: not well-formed: {exc.msg}") from None
    raise ConfigError(f"schema {path}: empty")


def _existing(base: Path, rel: str, file: Path, key: str) -> Path:
    path = (base / rel).resolve()
    if not path.exists():
        raise ConfigError(f"{file}: {key} {rel!r} does not exist ({path})")
    return path
