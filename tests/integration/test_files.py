"""gateway.files: atomic writes, publishing a finished file, exclusive creation."""
import hashlib
import os
import stat

import pytest

from gateway.files import create_new, publish, write_atomic


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("fsync", [True, False])
def test_write_atomic_replaces_and_leaves_no_temp(tmp_path, fsync):
    target = tmp_path / "out.xml"
    target.write_bytes(b"old")
    assert write_atomic(target, b"<new/>", fsync=fsync) == target
    assert target.read_bytes() == b"<new/>"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xml"]


def test_write_atomic_mode_of_a_new_file(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "secret.bin", b"x")
        write_atomic(tmp_path / "shared.txt", b"y", mode=0o640)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "secret.bin") == 0o600
    assert _mode(tmp_path / "shared.txt") == 0o640


def test_write_atomic_failure_keeps_the_old_file_and_removes_the_temp(tmp_path):
    target = tmp_path / "out.xml"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")          # fails while writing the temp file
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xml"]


def test_write_atomic_into_a_missing_folder_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "out.xml", b"x")


def test_publish_moves_the_file_and_returns_its_sha256(tmp_path):
    src, dest = tmp_path / "a.tmp", tmp_path / "sub" / "a.zip"
    dest.parent.mkdir()
    src.write_bytes(b"archive")
    assert publish(src, dest) == hashlib.sha256(b"archive").hexdigest()
    assert not src.exists() and dest.read_bytes() == b"archive"


def test_create_new_never_replaces(tmp_path):
    path = tmp_path / "key.pem"
    create_new(path, b"first", mode=0o600)
    with pytest.raises(FileExistsError):
        create_new(path, b"second", mode=0o600)
    assert path.read_bytes() == b"first"
