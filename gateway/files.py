"""Durable, atomic file writes: the one place for temp file, fsync, rename, fsync of the folder.

A reader never sees a half-written file: data goes to a temporary `.NAME.<random>.tmp` in
the same folder (created exclusively, so two writers never share one; dot-file and `*.tmp`,
so folder readers skip it) and is renamed over NAME only when complete. With `fsync` the
file is flushed before the rename and the folder after it, so the new name survives a crash.
Only OSError is raised; callers decide what it means.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename or new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600, fsync: bool = True) -> Path:
    """Replace `path` by `data` atomically (same-folder temp file, fsync, rename, fsync of the
    folder; no fsyncs with fsync=False). A new file gets `mode` (less the umask). The folder
    must exist. Returns `path`."""
    path = Path(path)
    tmp, fd = _create_temp(path, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        fsync_dir(path.parent)
    return path


def publish(src: Path, dest: Path) -> str:
    """Make a finished file durable and move it to `dest` atomically (fsync, rename, fsync of
    dest's folder); return its SHA-256 (hex)."""
    with open(src, "rb+") as fh:
        sha = hashlib.file_digest(fh, "sha256").hexdigest()
        os.fsync(fh.fileno())
    os.replace(src, dest)
    fsync_dir(Path(dest).parent)
    return sha


def create_new(path: Path, data: bytes, *, mode: int) -> None:
    """Create `path` exclusively with `mode` (FileExistsError when it exists; never replaces)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _create_temp(path: Path, mode: int) -> tuple[Path, int]:
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
