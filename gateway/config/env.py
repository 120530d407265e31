"""Configuration from the environment: it wins over gateway.toml for the scalar keys.

Every key of a plain section whose value is a string, number, boolean or list of strings
can be set as an environment variable: `GATEWAY_<KEY>` for [gateway] (GATEWAY_DATA_DIR,
GATEWAY_AUTHORITY_ID, ...), `GATEWAY_<SECTION>_<KEY>` for the others (GATEWAY_STORE_URL,
GATEWAY_SERVER_PORT, ...). Lists are comma-separated; booleans are true/false (also 1/0,
yes/no). A relative path is read like one in the file: from the config file's folder (the
current folder without a file). Tables (partners, folders, [[keys.own]], retention) come
from the file only. GATEWAY_CONFIG names the file itself (read by the CLI).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from ..errors import ConfigError
from .sections import SECTIONS

PREFIX = "GATEWAY_"
SCALARS = {"str", "int", "float", "bool", "tuple[str, ...]"}
OTHER_VARIABLES = {
    "GATEWAY_CONFIG": "the configuration file, when --config is not given",
    "GATEWAY_DEBUG": "1: print a traceback with every CLI error",
}


def variable(section: str, key: str) -> str:
    """The environment variable of one key."""
    return PREFIX + (key if section == "gateway" else f"{section}_{key}").upper()


def variables() -> dict[str, tuple[str, str, str]]:
    """NAME -> (section, key, type) of every key settable from the environment."""
    found = {}
    for section, cls in SECTIONS.items():
        if not dataclasses.is_dataclass(cls):
            continue
        for f in dataclasses.fields(cls):
            if str(f.type) in SCALARS:
                found[variable(section, f.name)] = (section, f.name, str(f.type))
    return found


def apply_environment(raw: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[dict, dict[str, str]]:
    """(raw with the environment's values merged in, {"section.key": "environment NAME"})."""
    merged = {name: dict(table) if isinstance(table, Mapping) else table for name, table in raw.items()}
    origins = {}
    for name, (section, key, kind) in variables().items():
        if name not in environ:
            continue
        table = merged.setdefault(section, {})
        if not isinstance(table, dict):
            continue                     # from_dict names the broken section
        table[key] = _parse(environ[name], kind, name)
        origins[f"{section}.{key}"] = f"environment {name}"
    return merged, origins


def _parse(text: str, kind: str, name: str) -> Any:
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise ConfigError(f"environment {name}={text!r}: expected {kind}") from None
    if kind == "bool":
        value = text.strip().lower()
        if value not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"environment {name}={text!r}: expected true or false")
        return value in ("true", "1", "yes")
    if kind.startswith("tuple"):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text
