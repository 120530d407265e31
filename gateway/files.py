"""Durable, atomic file writes: the one place for temp file, fsync, rename, fsync of the folder.

A reader never sees a half-written file: data goes to a temporary `.NAME.<random>.tmp` in
the same folder (created exclusively, so two writers never share one; dot-file and `*.tmp`,
so folder readers skip it) and is renamed over NAME only when complete. With `fsync` the
file is flushed before the rename and the folder after it, so the new name survives a crash.
Only OSError is raised; callers decide what it means.

A path the *user* names (`-o FILE`, `audit export FILE`) goes through `write_output`: the
atomic replace is only for a regular file or a new one. A symlink is followed (its target
gets the same rule, the link stays); a FIFO or character device (`-o /dev/null`,
`-o /dev/stdout`, a named pipe) is written through and never replaced; anything else
(folder, socket, block device) is refused with a clear error.

Permissions, whatever the umask: everything the gateway writes into its data directory is
0600 and every folder it makes 0700 (owner only), or 0640/0750 with the group set by
`set_group` (`[gateway] file_group`), so a backup or monitoring account in that group can
read. Modes are set with fchmod/chmod after creation, never left to the umask.
"""
from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from pathlib import Path

_GROUP: list[int] = []       # the gid of [gateway] file_group, when set


def set_group(name: str) -> None:
    """Make what is written from now on readable by group `name` ('' = owner only);
    KeyError for an unknown group."""
    _GROUP.clear()
    if name:
        import grp
        _GROUP.append(grp.getgrnam(name).gr_gid)


def file_mode() -> int:
    """The mode of data files: 0600, or 0640 with a group."""
    return 0o640 if _GROUP else 0o600


def dir_mode() -> int:
    """The mode of data folders: 0700, or 0750 with a group."""
    return 0o750 if _GROUP else 0o700


def _own(path_or_fd, mode: int) -> None:
    """Set `mode` (and the group, when set) on a path or an open descriptor."""
    if isinstance(path_or_fd, int):
        os.fchmod(path_or_fd, mode)
        if _GROUP:
            os.fchown(path_or_fd, -1, _GROUP[0])
    else:
        os.chmod(path_or_fd, mode)
        if _GROUP:
            os.chown(path_or_fd, -1, _GROUP[0])


def make_dirs(path: Path) -> Path:
    """Create `path` and any missing parents with the data folder mode (existing ones are
    left as they are). Returns `path`."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        _own(folder, dir_mode())
    return path


def secure(path: Path, *, folder: bool = False) -> None:
    """Give an existing file (or folder) of ours the data mode, e.g. a store created
    before, or the data directory itself at start-up."""
    _own(Path(path), dir_mode() if folder else file_mode())


def create_private(path: Path) -> None:
    """Create `path` empty with the data file mode unless it exists (then only its mode is
    set): a file another library fills, such as the SQLite database (SQLite gives its WAL
    and shared-memory files the database file's mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secure(path)
        return
    try:
        _own(fd, file_mode())
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename or new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int | None = None, fsync: bool = True) -> Path:
    """Replace `path` by `data` atomically (same-folder temp file, fsync, rename, fsync of the
    folder; no fsyncs with fsync=False). The file gets `mode` (default: the data file mode),
    whatever the umask. The folder must exist. Returns `path`."""
    path = Path(path)
    tmp, fd = create_temp(path, mode)
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


def write_output(path: Path, data: bytes, *, mode: int = 0o600) -> Path:
    """Write `data` to a user-given output path: atomic replace for a regular or new file
    (an existing file keeps its permission bits; a new one gets `mode` less the umask),
    written through for a FIFO or character device, refused otherwise. Returns the path
    written (a symlink's target)."""
    target, kind = output_target(Path(path))
    if kind == "through":
        fd = os.open(target, os.O_WRONLY | os.O_NOCTTY)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        return target
    if kind == "replace":
        mode = stat.S_IMODE(os.stat(target).st_mode)
    written = write_atomic(target, data, mode=mode)
    if kind == "replace":
        os.chmod(written, mode)          # the umask may have narrowed the temp file's bits
    return written


def output_target(path: Path) -> tuple[Path, str]:
    """(where to write, how) for a user-given output path: "new" (no file yet), "replace" (a
    regular file), "through" (FIFO or character device: open and write, never rename over
    it); a symlink is resolved first. OSError for a folder, socket or block device."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path, "new"
    if stat.S_ISLNK(st.st_mode):
        try:
            return output_target(Path(os.path.realpath(path, strict=True)))
        except FileNotFoundError:        # a dangling link: its target is made
            return Path(os.path.realpath(path)), "new"
    if stat.S_ISREG(st.st_mode):
        return path, "replace"
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return path, "through"
    kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file, FIFO or character device"
    raise OSError(errno.EINVAL, f"cannot write output here: {kind}", str(path))


def publish(src: Path, dest: Path) -> str:
    """Make a finished file durable and move it to `dest` atomically (fsync, rename, fsync of
    dest's folder); return its SHA-256 (hex)."""
    with open(src, "rb+") as fh:
        sha = hashlib.file_digest(fh, "sha256").hexdigest()
        os.fsync(fh.fileno())
    os.replace(src, dest)
    fsync_dir(Path(dest).parent)
    return sha


def create_new(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Create `path` exclusively with `mode` (default: the data file mode), whatever the
    umask (FileExistsError when it exists; never replaces)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    _own(fd, file_mode() if mode is None else mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def create_temp(path: Path, mode: int | None = None) -> tuple[Path, int]:
    """A new, exclusively created temporary file beside `path` (`.NAME.<random>.tmp`, the
    data file mode unless `mode` is given) and its open descriptor."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        try:
            _own(fd, file_mode() if mode is None else mode)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        return tmp, fd
