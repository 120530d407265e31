"""Folders as a transport edge: which files are complete, atomic writes, moving files aside,
and `FolderSource`, a Source over a shared folder partners leave signed messages in.

A file is complete (ready to be taken) when, by the folder's `completion` mode:
- "rename": it has its final name; writers write under a temporary name first (a dot-file,
  `*.tmp`, `*.part`: the `ignore` patterns) and rename it when done;
- "done-file": a marker `NAME.done` exists beside `NAME` (written after `NAME` is closed).
Either way it must also be at least `min_age` seconds old (for writers that cannot rename).

Writes are durable and atomic (gateway.files: a temp file in the same folder, fsync, rename,
fsync of the folder). Only OSError is raised here; callers decide what it means.
"""
from __future__ import annotations

import asyncio
import fnmatch
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from gateway import files
from gateway.errors import RetryLater
from gateway.ports import ERROR_SUFFIX, Incoming

DONE_SUFFIX = ".done"


@dataclass(frozen=True, slots=True)
class Pickup:
    """How to recognise complete files in one folder (from a folder spec)."""

    folder: Path
    completion: str = "rename"
    ignore: tuple[str, ...] = (".*", "*.tmp", "*.part")
    min_age: float = 0.0
    limit: int = 100

    def ignored(self, name: str) -> bool:
        """True for names never picked up: ignore patterns, done markers, error notes."""
        return (name.endswith((DONE_SUFFIX, ERROR_SUFFIX))
                or any(fnmatch.fnmatchcase(name, pattern) for pattern in self.ignore))

    def complete_files(self, now: float | None = None) -> list[Path]:
        """Complete regular files, oldest first (then by name), at most `limit`."""
        now = time.time() if now is None else now
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        names = {e.name for e in entries}
        found = []
        for entry in entries:
            if self.ignored(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            if self.completion == "done-file" and entry.name + DONE_SUFFIX not in names:
                continue
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue  # taken by another node meanwhile
            if now - mtime >= self.min_age:
                found.append((mtime, entry.name))
        return [self.folder / name for _, name in sorted(found)[:self.limit]]

    def marker(self, path: Path) -> Path | None:
        """The done-file of `path` (done-file mode), else None."""
        return path.with_name(path.name + DONE_SUFFIX) if self.completion == "done-file" else None


def read_limited(path: Path, max_bytes: int) -> bytes | None:
    """The file's bytes, or None when it is larger than `max_bytes` (not read)."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


def write_atomic(folder: Path, name: str, data: bytes) -> Path:
    """Write `folder/name` (mode 0640, the folder made if missing) durably and atomically
    (gateway.files.write_atomic); an existing file of that name is replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    return files.write_atomic(folder / name, data, mode=0o640)


def free_name(folder: Path, name: str) -> str:
    """`name`, or `name.1`, `name.2`... when a file of that name is already in `folder`."""
    candidate, n = name, 0
    while (folder / candidate).exists() or (folder / (candidate + ERROR_SUFFIX)).exists():
        n += 1
        candidate = f"{name}.{n}"
    return candidate


def move_aside(path: Path, dest_dir: Path, *, note_suffix: str, note: bytes,
               marker: Path | None = None) -> Path | None:
    """Move `path` into `dest_dir` (a free name), writing `note` beside it first
    (NAME+note_suffix) and removing the done `marker`. Returns the new path, or None when
    the file was gone (another node moved it first; its note is removed again)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    name = free_name(dest_dir, path.name)
    note_path = write_atomic(dest_dir, name + note_suffix, note)
    try:
        os.rename(path, dest_dir / name)
    except FileNotFoundError:
        note_path.unlink(missing_ok=True)
        return None
    files.fsync_dir(dest_dir)
    files.fsync_dir(path.parent)
    if marker is not None:
        marker.unlink(missing_ok=True)
    return dest_dir / name


def resolve(base: Path, sub: str) -> Path:
    """`sub` inside `base` unless it is absolute."""
    p = Path(sub)
    return p if p.is_absolute() else base / p


class FolderSource:
    """A Source over a shared folder: complete files are offered as Incoming (handle = file
    name); `settle` moves them to done/ (accepted) or failed/ only after the caller stored
    (or audited) them. Nothing is moved by `fetch`, so a crash loses nothing."""

    def __init__(self, spec, *, base: Path | None = None):
        self.name = spec.name
        path = resolve(base or Path.cwd(), spec.path)
        self.pickup = Pickup(path, spec.completion, tuple(spec.ignore), spec.min_age)
        self.max_bytes = spec.max_bytes
        self.done = resolve(path, spec.done_dir)
        self.failed = resolve(path, spec.failed_dir)

    async def fetch(self, limit: int) -> Sequence[Incoming]:
        """Up to `limit` complete files (RetryLater if the folder cannot be read)."""
        try:
            return await asyncio.to_thread(self._fetch, limit)
        except OSError as exc:
            raise RetryLater(f"source folder {self.name}: {exc.strerror or exc}", code="folder") from None

    def _fetch(self, limit: int) -> list[Incoming]:
        out = []
        for path in self.pickup.complete_files()[:limit]:
            try:
                data = read_limited(path, self.max_bytes)
            except FileNotFoundError:
                continue
            if data is None:
                self._set_aside(path, False, f"larger than {self.max_bytes} bytes; not read\n")
                continue
            out.append(Incoming(data, path.name, sender_hint=f"folder:{self.name}"))
        return out

    async def settle(self, item: Incoming, accepted: bool, note: str = "") -> None:
        """Move the file to done/ (accepted) or failed/ with `note` as NAME.error.txt."""
        path = self.pickup.folder / item.handle
        try:
            await asyncio.to_thread(self._set_aside, path, accepted, note)
        except OSError as exc:
            raise RetryLater(f"source folder {self.name}: {exc.strerror or exc}", code="folder") from None

    def _set_aside(self, path: Path, accepted: bool, note: str) -> None:
        if accepted:
            move_aside(path, self.done, note_suffix=".result.txt", note=(note or "stored\n").encode(),
                       marker=self.pickup.marker(path))
        else:
            move_aside(path, self.failed, note_suffix=ERROR_SUFFIX, note=note.encode(),
                       marker=self.pickup.marker(path))

    async def aclose(self) -> None:
        """Nothing to close."""
