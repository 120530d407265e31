"""Gateway configuration: frozen dataclasses loaded from TOML; the only reader of the environment.

`load(path, environ)` reads `gateway.toml` (or nothing: embedded defaults), refuses unknown
sections and keys (with the closest known name), and resolves relative paths against the
file's folder. The environment wins over the file for the scalar keys of the plain
sections (`env.py`: `GATEWAY_DATA_DIR`, `GATEWAY_STORE_URL`, ...); `Config.origins` says
where each value came from (file, environment, default). Each section is a frozen dataclass in `sections.py` (re-exported here, so
`from gateway.config import X` works for every name); add a field there and it becomes a
documented, checked configuration key. Secrets are never in the file: a key names an
environment variable or a file that holds them.

Imports: the ground floor only (errors, model).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from .sections import (
    SECTIONS,
    ApiSection,
    ConsoleSection,
    ConsoleUnitSpec,
    DecryptionKeySpec,
    DeliverySection,
    FoldersSection,
    GatewaySection,
    InboundFolderSpec,
    KeysSection,
    LoggingSection,
    OutboundFolderSpec,
    OwnKeySpec,
    PartnerSpec,
    PartnersSection,
    SanitizerSection,
    SchedulerSection,
    SchemasSection,
    ServerSection,
    SourceFolderSpec,
    StoreSection,
    TrustSpec,
    WebhooksSection,
)
from .env import apply_environment
from .tables import _hint, build_dataclass

__all__ = [
    "Config", "load", "from_dict", "build_dataclass", "SECTIONS",
    "GatewaySection", "SchemasSection", "TrustSpec", "PartnerSpec", "PartnersSection", "ServerSection",
    "DeliverySection", "OwnKeySpec", "DecryptionKeySpec", "KeysSection", "StoreSection", "ApiSection", "WebhooksSection",
    "OutboundFolderSpec", "InboundFolderSpec", "SourceFolderSpec", "FoldersSection", "SchedulerSection",
    "ConsoleSection", "ConsoleUnitSpec",
    "LoggingSection",
    "SanitizerSection",
]


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration: one attribute per section, plus where it came from."""

    sections: Mapping[str, Any]
    base_dir: Path
    source: str = "<embedded defaults>"
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    origins: Mapping[str, str] = field(default_factory=dict, repr=False)   # "section.key" -> origin

    def origin(self, section: str, key: str) -> str:
        """Where a value came from: "file", "environment NAME" or "default"."""
        return self.origins.get(f"{section}.{key}", "default")

    def __getattr__(self, name: str) -> Any:
        try:
            return self.sections[name]
        except KeyError:
            raise AttributeError(name) from None

    def path(self, value: str) -> Path:
        """A configured path, relative ones taken from the config file's folder."""
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else self.base_dir / p

    @property
    def data_dir(self) -> Path:
        return self.path(self.sections["gateway"].data_dir)

    def secret(self, spec: str) -> bytes | None:
        """Resolve a secret reference: 'env:NAME', 'file:PATH' or '' (none)."""
        if not spec:
            return None
        kind, _, ref = spec.partition(":")
        if kind == "env":
            if ref not in self.environ:
                raise ConfigError(f"secret {spec!r}: environment variable {ref} is not set")
            return self.environ[ref].encode()
        if kind == "file":
            try:
                return self.path(ref).read_bytes().rstrip(b"\r\n")
            except OSError as exc:
                raise ConfigError(f"secret {spec!r}: {exc.strerror}") from None
        raise ConfigError(f"secret {spec!r}: write 'env:VARIABLE' or 'file:PATH'")


def load(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load and check the configuration; no path means embedded defaults in ./ ."""
    environ = dict(os.environ if environ is None else environ)
    if path is None:
        raw: dict[str, Any] = {}
        base, source = Path.cwd(), "<embedded defaults>"
    else:
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{p}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: {exc}") from None
        base, source = p.resolve().parent, str(p)
    origins = {f"{name}.{key}": "file" for name, table in raw.items() if isinstance(table, Mapping)
               for key in table}
    raw, from_env = apply_environment(raw, environ)
    origins.update(from_env)
    raw, path = _with_partners_file(raw, base)
    if path is not None:
        origins.update({f"partners.{pid}": f"file {path}" for pid in raw["partners"]
                        if f"partners.{pid}" not in origins})
    return from_dict(raw, base_dir=base, source=source, environ=environ, origins=origins)


def _with_partners_file(raw: dict, base: Path) -> tuple[dict, Path | None]:
    """Merge the [partners] of [gateway] partners_file (written by `gateway partners add`),
    when it exists, into those of gateway.toml; an id in both is refused. Returns the merged
    tables and the file's path (None when there is none)."""
    gateway = raw.get("gateway", {})
    name = gateway.get("partners_file", GatewaySection().partners_file) if isinstance(gateway, Mapping) else ""
    if not isinstance(name, str) or not name:
        return raw, None
    path = Path(os.path.expanduser(name))
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        return raw, None
    try:
        extra = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if set(extra) - {"partners"} or not isinstance(extra.get("partners", {}), Mapping):
        raise ConfigError(f"{path}: may hold [partners.\"ID\"] tables only")
    mine = raw.get("partners", {})
    if not isinstance(mine, Mapping):
        return raw, None                 # from_dict names the broken section
    both = sorted(set(mine) & set(extra.get("partners", {})))
    if both:
        raise ConfigError(f"{path}: partner {both[0]} is also in the configuration file; keep one entry")
    return {**raw, "partners": {**mine, **extra.get("partners", {})}}, path


def from_dict(raw: Mapping[str, Any], *, base_dir: Path, source: str = "<dict>",
              environ: Mapping[str, str] | None = None, origins: Mapping[str, str] | None = None) -> Config:
    """Build a Config from already parsed TOML data."""
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(f"{source}: unknown section [{name}]{_hint(name, SECTIONS)}")
    sections = {name: _section(name, cls, raw.get(name, {}), source) for name, cls in SECTIONS.items()}
    return Config(sections=sections, base_dir=base_dir, source=source, environ=dict(environ or {}),
                  origins=dict(origins or {}))


def _section(name: str, cls: type, data: Any, source: str) -> Any:
    if hasattr(cls, "from_config"):
        return cls.from_config(data, f"{source}: [{name}]")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: [{name}] must be a table")
    return build_dataclass(cls, data, f"{source}: [{name}]")
