"""Genericode 1.0 code lists read once: (listURI, listVersionID) -> [(code, name)]."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import xml as hardened
from ..errors import ConfigError, XmlSecurityError

GC = "{http://docs.oasis-open.org/codelist/ns/genericode/1.0/}"


@dataclass(frozen=True, slots=True)
class CodeList:
    """One genericode list: its URI, version and (code, name) rows in file order."""

    uri: str
    version: str
    short_name: str
    rows: tuple[tuple[str, str], ...]


def load_codelists(folder: Path) -> dict[tuple[str, str], CodeList]:
    """Every `*.gc` file in `folder`, keyed by (CanonicalUri, Version); {} if there is none."""
    lists: dict[tuple[str, str], CodeList] = {}
    if not folder.is_dir():
        return lists
    for path in sorted(folder.glob("*.gc")):
        code_list = read_codelist(path)
        lists[(code_list.uri, code_list.version)] = code_list
    return lists


def read_codelist(path: Path) -> CodeList:
    """Read one genericode file; ConfigError naming the file if it is unusable."""
    try:
        root = hardened.parse(path.read_bytes()).getroot()
    except (OSError, XmlSecurityError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    ident = root.find("Identification")
    if ident is None:
        raise ConfigError(f"{path}: genericode Identification is missing")
    uri = (ident.findtext("CanonicalUri") or "").strip()
    version = (ident.findtext("Version") or "").strip()
    rows = []
    for row in root.iter("Row"):
        cells = {v.get("ColumnRef"): (v.findtext("SimpleValue") or "") for v in row.iter("Value")}
        if "code" in cells:
            rows.append((cells["code"].strip(), cells.get("name", "").strip()))
    if not uri or not version:
        raise ConfigError(f"{path}: CanonicalUri and Version are required")
    return CodeList(uri=uri, version=version,
                    short_name=(ident.findtext("ShortName") or "").strip(), rows=tuple(rows))
