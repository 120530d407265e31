"""Payload files under the data dir: written durably before the row that names them commits,
verified against their SHA-256 on every read."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import StoreCorrupted

SUBDIR = "payloads"


def digest(data: bytes) -> str:
    """SHA-256 of the payload, hex."""
    return hashlib.sha256(data).hexdigest()


class PayloadFiles:
    """Payload files named by message id: data_dir/payloads/<id[:2]>/<id>.bin."""

    def __init__(self, data_dir: Path):
        self.root = Path(data_dir)

    def relative(self, msg_id: str) -> str:
        """The path stored in the row (relative to the data dir, '/' separated)."""
        return f"{SUBDIR}/{msg_id[-2:]}/{msg_id}.bin"

    def write(self, msg_id: str, data: bytes) -> str:
        """Write durably (temp file, fsync, rename, fsync dir); return the relative path."""
        rel = self.relative(msg_id)
        path = self.root / rel
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
            _fsync_dir(path.parent.parent)      # the new folder's entry must survive too
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        return rel

    def read(self, rel: str, expected: str) -> bytes:
        """Read a payload file and check its SHA-256; StoreCorrupted on any mismatch."""
        path = self.root / rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreCorrupted(f"payload file {path} is missing") from None
        actual = digest(data)
        if actual != expected:
            raise StoreCorrupted(f"payload file {path}: SHA-256 {actual} does not match the "
                                 f"stored digest {expected}")
        return data

    def remove(self, rel: str) -> None:
        """Delete a payload file (missing is fine: purge may run twice)."""
        try:
            (self.root / rel).unlink()
        except FileNotFoundError:
            pass


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, dest: Path) -> str:
    """Make a finished temp file durable and move it to `dest` atomically; return its SHA-256."""
    with open(tmp, "rb+") as fh:
        sha = hashlib.file_digest(fh, "sha256").hexdigest()
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    _fsync_dir(Path(dest).parent)
    return sha
