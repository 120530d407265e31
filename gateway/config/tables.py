"""TOML tables to frozen dataclasses: unknown keys refused with the closest known name,
value types checked against the field annotations."""
from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Mapping

from ..errors import ConfigError


def build_dataclass(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """Instantiate a frozen dataclass from a TOML table, refusing unknown keys and wrong types."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"{where}: unknown key {key!r}{_hint(key, fields)}")
    values = {}
    for key, value in data.items():
        expected = fields[key].type
        values[key] = _coerce(value, expected, f"{where} {key}")
    return cls(**values)


def _coerce(value: Any, expected: Any, where: str) -> Any:
    text = str(expected)
    if text.startswith("tuple"):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list")
        return tuple(value)
    checks = {"str": str, "int": int, "float": (int, float), "bool": bool}
    for name, types in checks.items():
        if text == name or text.startswith(name + " |"):
            if value is None and "None" in text:
                return value
            if not isinstance(value, types) or (name == "int" and isinstance(value, bool)):
                raise ConfigError(f"{where}: expected {name}, got {type(value).__name__}")
    return value


def _hint(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
