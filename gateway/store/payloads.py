"""Payload files under the data dir: written durably before the row that names them commits,
verified against their SHA-256 on every read."""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import StoreCorrupted
from ..files import fsync_dir, make_dirs, write_atomic

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
            make_dirs(path.parent)
            fsync_dir(path.parent.parent)       # the new folder's entry must survive too
        write_atomic(path, data)
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

