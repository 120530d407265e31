"""What every configuration key is: table, name, type, default and its one-line meaning.

Read from the section dataclasses themselves: the meaning is the comment beside the field
in `sections.py` (continued on comment-only lines below it), the table's explanation the
first docstring line. One source for docs/configuration.md (`python -m gateway.config.docs`),
the commented gateway.toml of `gateway init` and `gateway config show`.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass
from typing import Any

from . import sections as S
from .env import variable, variables

# (heading as written in gateway.toml, class, section name or "" for repeated tables)
TABLES: tuple[tuple[str, type, str], ...] = (
    ("gateway", S.GatewaySection, "gateway"),
    ("schemas", S.SchemasSection, "schemas"),
    ('partners."ID"', S.PartnerSpec, ""),
    ('partners."ID".trust', S.TrustSpec, ""),
    ("server", S.ServerSection, "server"),
    ("delivery", S.DeliverySection, "delivery"),
    ("keys", S.KeysSection, "keys"),
    ("[keys.own]", S.OwnKeySpec, ""),
    ("[keys.decryption]", S.DecryptionKeySpec, ""),
    ("store", S.StoreSection, "store"),
    ("folders.outbound.\"NAME\"", S.OutboundFolderSpec, ""),
    ("folders.inbound.\"NAME\"", S.InboundFolderSpec, ""),
    ("folders.source.\"NAME\"", S.SourceFolderSpec, ""),
    ("scheduler", S.SchedulerSection, "scheduler"),
    ("api", S.ApiSection, "api"),
    ("webhooks", S.WebhooksSection, "webhooks"),
    ("console", S.ConsoleSection, "console"),
    ('console.units."NAME"', S.ConsoleUnitSpec, ""),
)
# Tables whose keys are names the operator chooses (documented by NOTES, not as keys).
NOTES = {
    "partners.\"ID\"": "[partners.\"ID\".options] holds transport-specific settings "
                       "(string keys and values, e.g. the XTA provider; see docs/xta.md).",
    "store": "[store.retention] maps a final state to the days its messages are kept, e.g. "
             "`acknowledged = 365`; a state not listed is kept for ever (docs/store.md).",
}
# Fields that are written as their own tables, not as keys.
SUBTABLES = {("PartnerSpec", "trust"), ("PartnerSpec", "options"), ("KeysSection", "own"), ("KeysSection", "decryption"),
             ("StoreSection", "retention"), ("FoldersSection", "outbound"), ("FoldersSection", "inbound"),
             ("FoldersSection", "source"), ("ConsoleSection", "units")}
NO_DEFAULT = object()


@dataclass(frozen=True)
class Key:
    """One configuration key."""

    name: str
    type: str           # TOML type: string, integer, float, boolean, list of strings, table
    default: Any        # NO_DEFAULT when the key is required
    meaning: str
    env: str = ""       # environment variable that overrides it, if any


@dataclass(frozen=True)
class Table:
    """One table of gateway.toml and its keys."""

    heading: str
    about: str
    section: str
    keys: tuple[Key, ...]


def tables() -> list[Table]:
    """Every table with its keys, in the order of TABLES; extra sections of SECTIONS (added
    later by someone) are appended, so nothing goes undocumented."""
    listed = [cls for _, cls, _ in TABLES] + [S.PartnersSection, S.FoldersSection]
    extra = [(name, cls, name) for name, cls in S.SECTIONS.items()
             if cls not in listed and dataclasses.is_dataclass(cls)]
    settable = variables()
    out = []
    for heading, cls, section in (*TABLES, *extra):
        comments = field_comments(cls)
        keys = []
        for f in dataclasses.fields(cls):
            if (cls.__name__, f.name) in SUBTABLES or toml_type(str(f.type)) == "table" or (
                    section == "" and f.name in ("id", "name")
                                                        and _default(f) is NO_DEFAULT):   # the table's name
                continue
            env = variable(section, f.name) if section else ""
            keys.append(Key(f.name, toml_type(str(f.type)), _default(f), comments.get(f.name, ""),
                            env if env in settable else ""))
        out.append(Table(heading, (inspect.getdoc(cls) or "").splitlines()[0], section, tuple(keys)))
    return out


def about(table: Table) -> str:
    """The table's explanation without its leading "[heading]: "."""
    text = table.about
    for prefix in (f"[{table.heading}]: ", f"[[{table.heading[1:-1]}]]: "):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def field_comments(cls: type) -> dict[str, str]:
    """field name -> its comment in the class source (continuation comment lines joined)."""
    found: dict[str, str] = {}
    last = None
    for line in inspect.getsource(cls).splitlines():
        m = re.match(r"\s+(\w+): [^#]*?#\s?(.*)$", line)
        if m:
            last = m.group(1)
            found[last] = m.group(2).strip()
            continue
        c = re.match(r"\s+#\s?(.*)$", line)
        if c and last:
            found[last] += " " + c.group(1).strip()
        else:
            last = None
    return found


def toml_type(annotation: str) -> str:
    """The TOML type of a field annotation."""
    return {"str": "string", "int": "integer", "float": "float", "bool": "boolean",
            "tuple[str, ...]": "list of strings"}.get(annotation, "table")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:   # type: ignore[misc]
        return f.default_factory()                      # type: ignore[misc]
    return NO_DEFAULT


def toml_value(value: Any) -> str:
    """A value as written in gateway.toml."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
