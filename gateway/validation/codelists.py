"""Code lists in OASIS genericode 1.0, indexed by (CanonicalUri, Version) = (listURI, listVersionID).

`CodeLists.load(folder, ...)` reads every `*.gc` / `*.xml` genericode file of the folders once;
`.get(list_uri, version)` returns the `CodeList` (codes -> names) or None. Used by the
validator's code-list layer and by the JSON Schema generator (enums with names).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping

from lxml import etree

from ..errors import ConfigError, XmlSecurityError
from ..xml import Limits, parse

GC_NS = "http://docs.oasis-open.org/codelist/ns/genericode/1.0/"
_SUFFIXES = (".gc", ".xml")
_LIMITS = Limits(max_bytes=64 * 1024 * 1024, max_depth=32)


@dataclass(frozen=True, slots=True)
class CodeList:
    """One version of one code list: its identification and the codes with their names."""

    uri: str                              # CanonicalUri = listURI in messages
    version: str                          # Version = listVersionID in messages
    short_name: str = ""
    version_uri: str = ""                 # CanonicalVersionUri
    codes: Mapping[str, str] = field(default_factory=dict)  # code -> name ("" if none)
    source: str = ""                      # file it came from

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def name(self, code: str) -> str | None:
        """The display name of a code, or None when the code is not in the list."""
        return self.codes.get(code)


class CodeLists:
    """An immutable index (listURI, listVersionID) -> CodeList."""

    __slots__ = ("_by_key", "_versions")

    def __init__(self, lists: Iterable[CodeList] = ()):
        by_key: dict[tuple[str, str], CodeList] = {}
        for cl in lists:
            key = (cl.uri, cl.version)
            old = by_key.get(key)
            if old is not None and dict(old.codes) != dict(cl.codes):
                raise ConfigError(
                    f"code list {cl.uri} version {cl.version} is defined twice with different "
                    f"codes: {old.source} and {cl.source}")
            by_key.setdefault(key, cl)
        self._by_key = by_key
        versions: dict[str, list[str]] = {}
        for uri, version in by_key:
            versions.setdefault(uri, []).append(version)
        self._versions = {uri: tuple(sorted(v, key=_version_key)) for uri, v in versions.items()}

    @classmethod
    def load(cls, *folders: str | os.PathLike) -> "CodeLists":
        """Read every genericode file (*.gc, *.xml) in the folders (not recursive)."""
        lists = []
        for folder in folders:
            path = Path(folder)
            if not path.is_dir():
                raise ConfigError(f"code list folder {path} does not exist")
            for file in sorted(path.iterdir()):
                if file.suffix in _SUFFIXES and file.is_file():
                    lists.append(read_genericode(file))
        return cls(lists)

    def merged(self, other: "CodeLists") -> "CodeLists":
        """A new index holding the lists of both (the same list twice must agree)."""
        return CodeLists([*self, *other])

    def get(self, list_uri: str, version: str | None = None) -> CodeList | None:
        """The list with that URI and version; version None means the latest version."""
        if version is None:
            known = self._versions.get(list_uri)
            return self._by_key[(list_uri, known[-1])] if known else None
        return self._by_key.get((list_uri, version))

    def versions(self, list_uri: str) -> tuple[str, ...]:
        """The known versions of a list, oldest first (empty when the list is unknown)."""
        return self._versions.get(list_uri, ())

    def __iter__(self) -> Iterator[CodeList]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __repr__(self) -> str:
        return f"CodeLists({len(self)} lists)"


def read_genericode(file: str | os.PathLike) -> CodeList:
    """Parse one genericode 1.0 file; raises ConfigError naming the file when it is not one."""
    path = Path(file)
    try:
        root = parse(path.read_bytes(), _LIMITS).getroot()
    except OSError as exc:
        raise ConfigError(f"code list {path}: {exc.strerror}") from None
    except XmlSecurityError as exc:
        raise ConfigError(f"code list {path}: {exc}") from None
    if root.tag != f"{{{GC_NS}}}CodeList":
        raise ConfigError(f"code list {path}: not a genericode 1.0 CodeList (root is {root.tag})")
    ident = _child(root, "Identification")
    uri = _text(ident, "CanonicalUri")
    version = _text(ident, "Version")
    if not uri or not version:
        raise ConfigError(f"code list {path}: Identification needs CanonicalUri and Version")
    key_col, name_col, columns = _columns(root, path)
    codes: dict[str, str] = {}
    rows = _child(root, "SimpleCodeList")
    for row in (rows.iterfind("{*}Row") if rows is not None else ()):
        values = _row_values(row, columns)
        code = values.get(key_col)
        if code is None:
            raise ConfigError(f"code list {path}: row on line {row.sourceline} has no value "
                              f"for key column {key_col!r}")
        codes[code] = values.get(name_col, "") if name_col else ""
    return CodeList(uri=uri, version=version, short_name=_text(ident, "ShortName"),
                    version_uri=_text(ident, "CanonicalVersionUri"),
                    codes=MappingProxyType(codes), source=str(path))


def _columns(root: etree._Element, path: Path) -> tuple[str, str | None, list[str]]:
    """(key column id, name column id or None, all column ids in order)."""
    colset = _child(root, "ColumnSet")
    if colset is None:
        raise ConfigError(f"code list {path}: no ColumnSet")
    columns = [c.get("Id", "") for c in colset.iterfind("{*}Column")]
    if not columns:
        raise ConfigError(f"code list {path}: ColumnSet has no Column")
    ref = colset.find("{*}Key/{*}ColumnRef")
    key_col = ref.get("Ref") if ref is not None else columns[0]
    lowered = {c.lower(): c for c in columns}
    name_col = lowered.get("name") or next((c for c in columns if c != key_col), None)
    return key_col, name_col, columns


def _row_values(row: etree._Element, columns: list[str]) -> dict[str, str]:
    """Column id -> simple value; a Value without ColumnRef takes the next column (spec 1.0)."""
    values: dict[str, str] = {}
    pos = 0
    for value in row.iterfind("{*}Value"):
        col = value.get("ColumnRef")
        if col is None:
            col = columns[pos] if pos < len(columns) else ""
        else:
            pos = columns.index(col) if col in columns else pos
        pos += 1
        simple = value.find("{*}SimpleValue")
        if simple is not None:
            values[col] = (simple.text or "").strip()
    return values


def _child(el: etree._Element | None, name: str) -> etree._Element | None:
    return None if el is None else el.find("{*}" + name)


def _text(el: etree._Element | None, name: str) -> str:
    child = _child(el, name)
    return (child.text or "").strip() if child is not None else ""


def _version_key(version: str) -> tuple:
    """Sort '1.10' after '1.9'; non-numeric parts compare as text."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.replace("-", ".").split("."))
