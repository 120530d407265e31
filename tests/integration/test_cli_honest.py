"""An honest CLI, as real processes: a missing config file is an error, read-only commands
never create a store, an invalid own authority id is refused at start-up, a closed pipe
ends quietly, `-o` never replaces a FIFO or a symlink (nor a device), and
GATEWAY_DATA_DIR wins over the config file's folder, also for a non-root user."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway import config as configuration
from gateway.files import output_target, write_output

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "personenstand.urkundenantrag.0100.json"
TYPE = "personenstand.urkundenantrag.0100"


def gateway(*args: str, cwd: Path, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") or k.startswith("GATEWAY_TEST")}
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**environ, **(env or {})}, **kw)


def test_a_missing_config_file_is_a_usage_error(tmp_path):
    for env, args in (({"GATEWAY_CONFIG": str(tmp_path / "nonexistent.toml")}, ()),
                      ({}, ("--config", str(tmp_path / "nonexistent.toml")))):
        proc = gateway(*args, "types", cwd=tmp_path, env=env)
        assert proc.returncode == 2
        assert "nonexistent.toml: no such file" in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("args", [("messages", "list"), ("messages", "show", "abc"), ("audit", "verify"),
                                  ("audit", "export", "a.zip"), ("tokens", "list"),
                                  ("status",), ("nodes",)])
def test_read_only_commands_never_create_a_store(tmp_path, args):
    proc = gateway(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert ("no store at ./data/gateway.db \u2014 run in the gateway's folder or pass --config"
            in proc.stderr)
    assert list(tmp_path.iterdir()) == []


def test_db_current_reports_a_missing_store_without_making_one(tmp_path):
    proc = gateway("db", "current", cwd=tmp_path)
    assert proc.returncode == 0 and "none (empty) \u2014 no store at" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_own_authority_id_is_refused_at_start_up(tmp_path):
    (tmp_path / "gateway.toml").write_text('[gateway]\nauthority_id = "ags:123"\n')
    proc = gateway("--config", "gateway.toml", "serve", "--port", "0", cwd=tmp_path)
    assert proc.returncode == 2
    assert "[gateway] authority_id (file): 'ags:123' is not a valid ags id" in proc.stderr
    proc = gateway("serve", "--port", "0", cwd=tmp_path, env={"GATEWAY_AUTHORITY_ID": "xyz:1"})
    assert proc.returncode == 2
    assert "environment GATEWAY_AUTHORITY_ID" in proc.stderr and "unknown authority id prefix" in proc.stderr


def test_a_closed_pipe_ends_quietly(tmp_path):
    read, write = os.pipe()
    os.close(read)                       # the reader is gone before the first line
    try:
        proc = subprocess.run([sys.executable, "-m", "gateway", "schema", TYPE], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120, cwd=tmp_path)
    finally:
        os.close(write)
    assert proc.stderr == ""
    assert proc.returncode == 1


def test_build_into_a_fifo_writes_through_it(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    proc = gateway("build", TYPE, str(EXAMPLE), "-o", str(fifo), cwd=tmp_path)
    reader.join(60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and received[0].startswith(b"<?xml") and b"urkundenantrag" in received[0]
    assert [p.name for p in tmp_path.iterdir()] == ["out.fifo"]     # no temp file left


def test_build_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "real.xml"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.xml"
    link.symlink_to(target)
    proc = gateway("build", TYPE, str(EXAMPLE), "-o", str(link), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes().startswith(b"<?xml")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640          # an existing file keeps its mode


def test_a_dangling_symlink_gets_its_target_made(tmp_path):
    link = tmp_path / "link.xml"
    link.symlink_to(tmp_path / "made.xml")
    assert write_output(link, b"<x/>") == tmp_path / "made.xml"
    assert link.is_symlink() and (tmp_path / "made.xml").read_bytes() == b"<x/>"


def test_a_character_device_is_written_through_never_replaced():
    # Only inspected, never written: which way a write to /dev/null would go.
    assert output_target(Path("/dev/null")) == (Path("/dev/null"), "through")


def test_a_folder_is_refused_as_output(tmp_path):
    proc = gateway("build", TYPE, str(EXAMPLE), "-o", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    assert "cannot write output here: a folder" in proc.stderr


def test_audit_export_into_a_fifo(tmp_path):
    assert gateway("db", "upgrade", cwd=tmp_path).returncode == 0
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    proc = gateway("audit", "export", str(fifo), cwd=tmp_path)
    reader.join(60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and received[0][:2] == b"PK"


def test_the_environment_wins_over_the_file_and_says_so(tmp_path):
    (tmp_path / "gateway.toml").write_text('[gateway]\ndata_dir = "state"\n[server]\nport = 9000\n')
    cfg = configuration.load(tmp_path / "gateway.toml",
                             environ={"GATEWAY_DATA_DIR": "/srv/data", "GATEWAY_STORE_AUTO_UPGRADE": "false",
                                      "GATEWAY_WEBHOOKS_TYPES": "a, b"})
    assert cfg.data_dir == Path("/srv/data")
    assert cfg.store.auto_upgrade is False and cfg.webhooks.types == ("a", "b")
    assert cfg.origin("gateway", "data_dir") == "environment GATEWAY_DATA_DIR"
    assert cfg.origin("server", "port") == "file" and cfg.origin("server", "host") == "default"


def test_a_bad_environment_value_names_the_variable(tmp_path):
    with pytest.raises(Exception, match="GATEWAY_SERVER_PORT='x': expected int"):
        configuration.load(None, environ={"GATEWAY_SERVER_PORT": "x"})


def as_user(uid: int, argv: list[str], env: dict[str, str], cwd: Path, out: Path) -> int:
    """Run `gateway ARGV` in a forked child as `uid` (the interpreter's own files may be out of
    that user's reach, e.g. under /root: the child reuses the parent's loaded modules).
    Returns the exit code; stdout+stderr go to `out`."""
    from gateway import cli

    pid = os.fork()
    if pid == 0:                         # pragma: no cover - child
        code = 70
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = sys.stderr = open(1, "w", closefd=False)   # not pytest's capture
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(env)
            code = cli.main(argv)
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to an unprivileged user; needs root to do so")
def test_data_dir_from_the_environment_for_a_non_root_user_with_a_root_owned_config(capsys):
    """The container's case: gateway.toml mounted in a root-owned folder, GATEWAY_DATA_DIR a
    volume the unprivileged user owns; the data never goes next to the config."""
    import tempfile

    from gateway import cli

    with tempfile.TemporaryDirectory(prefix="gateway-nonroot-") as folder:   # reachable by any user
        run_as_nobody(Path(folder), cli)


def run_as_nobody(tmp_path: Path, cli) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "gateway.toml").write_text('[gateway]\nauthority_id = "ags:09162000"\n')
    etc.chmod(0o755)
    data, warm = tmp_path / "data", tmp_path / "warm"
    data.mkdir()
    warm.mkdir()
    os.chown(data, 65534, 65534)
    tmp_path.chmod(0o755)
    env = {"GATEWAY_CONFIG": str(etc / "gateway.toml"), "GATEWAY_DATA_DIR": str(data), "HOME": str(data)}
    steps = [["db", "upgrade"], ["keys", "init"], ["messages", "list", "--json"]]
    with pytest.MonkeyPatch.context() as mp:   # load every module the steps need, as root, elsewhere
        mp.chdir(warm)
        mp.setenv("GATEWAY_CONFIG", str(etc / "gateway.toml"))
        mp.setenv("GATEWAY_DATA_DIR", str(warm))
        for argv in steps:
            assert cli.main(argv) == 0
    for argv in steps:
        code = as_user(65534, argv, env, data, tmp_path / "out.txt")
        assert code == 0, (tmp_path / "out.txt").read_text()
    assert (data / "gateway.db").exists() and (data / "keys" / "signing.key.pem").exists()
    assert (data / "gateway.db").stat().st_uid == 65534
    assert sorted(p.name for p in etc.iterdir()) == ["gateway.toml"]
    assert json.loads((tmp_path / "out.txt").read_text()) == []
