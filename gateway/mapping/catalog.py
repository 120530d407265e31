"""The message-type catalog (types and their records' JSON Schemas) cached on disk, so
`gateway types` and `gateway schema` start without compiling every XSD with xmlschema.

The cache file is keyed by the SHA-256 of every shipped schema and code-list file plus the
gateway's version: any change to them makes a new key, so a stale catalog is never read.
It lives in the user's cache folder ($XDG_CACHE_HOME or ~/.cache, then xoev-gateway/); when
that cannot be written the catalog is computed each time (correct, only slower). Building,
parsing and validating still load the registry (`shipped_registry`).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .. import __version__
from ..files import write_atomic
from ..resources import xsd_dir


def cache_folder(environ: os._Environ | dict | None = None) -> Path:
    """$XDG_CACHE_HOME/xoev-gateway, else ~/.cache/xoev-gateway."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xoev-gateway"


def digest(root: Path | None = None) -> str:
    """SHA-256 over the names and contents of every file under the schema folder, and the
    gateway's version."""
    root = Path(root or xsd_dir())
    h = hashlib.sha256(f"xoev-gateway {__version__}\n".encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(f"{path.relative_to(root).as_posix()}\n".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def catalog(folder: Path | None = None) -> dict[str, Any]:
    """{"types": [{id, standard, version, description, namespace}], "schemas": {id: JSON Schema}},
    from the cache when its key matches, else computed from the registry (and cached)."""
    folder = cache_folder() if folder is None else folder
    path = folder / f"catalog-{digest()}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    from .registry import shipped_registry

    registry = shipped_registry()
    data = {"types": [{"id": t.id, "standard": t.standard, "version": t.version,
                       "description": t.description, "namespace": t.namespace} for t in registry.types()],
            "schemas": {t.id: registry.json_schema(t.id) for t in registry.types()}}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data, ensure_ascii=False).encode("utf-8"), mode=0o644, fsync=False)
    except OSError:
        pass                             # no writable cache folder: computed every time
    return data
