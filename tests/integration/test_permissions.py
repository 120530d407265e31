"""Issue 14, item 4: everything the gateway writes is 0600 / 0700 (or 0640 / 0750 with
[gateway] file_group), whatever the umask: database, WAL, payload files, keys, token,
archives, folders. A real gateway on a real SQLite file."""
from __future__ import annotations

import grp
import json
import os
import stat
from pathlib import Path

import pytest
from exchange_pair import OFFICE, pair_tables

from adapters.memory import MemoryNetwork, MemorySender
from gateway import bootstrap
from gateway import config as cfg
from gateway import files
from gateway.errors import ConfigError
from gateway.ports import ClientSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LETTER = "korrespondenz.schreiben.0200"


def letter() -> dict:
    record = json.loads((EXAMPLES / f"{LETTER}.json").read_text())
    record["nachrichtenkopfG2g"].pop("leser", None)
    return record


async def run_gateway(tmp_path: Path, group: str = "") -> Path:
    raw, _ = pair_tables(tmp_path, transport="memory", endpoint_a="memory://a", endpoint_b="memory://b")
    raw.setdefault("gateway", {})["file_group"] = group
    raw.setdefault("store", {})["payload_inline_max"] = 0           # payloads as files
    config = cfg.from_dict(raw, base_dir=tmp_path / "a")
    gw = await bootstrap.build(config, senders={"memory": MemorySender(ClientSettings(), MemoryNetwork())})
    try:
        msg = await gw.submit(LETTER, letter(), to=OFFICE)
        await gw.store.archive([msg.id], config.data_dir / "archive" / "a.zip", actor="test")
    finally:
        await gw.aclose()
        files.set_group("")
    return config.data_dir


def modes(data_dir: Path) -> dict[str, tuple[int, int]]:
    found = {".": (stat.S_IMODE(data_dir.stat().st_mode), data_dir.stat().st_gid)}
    for path in data_dir.rglob("*"):
        st = path.lstat()
        found[str(path.relative_to(data_dir)) + ("/" if path.is_dir() else "")] = (stat.S_IMODE(st.st_mode), st.st_gid)
    return found


@pytest.mark.parametrize("umask", [0o000, 0o022])
async def test_everything_written_is_owner_only_whatever_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        data_dir = await run_gateway(tmp_path)
    finally:
        os.umask(old)
    found = modes(data_dir)
    assert any(name.startswith("gateway.db") for name in found)
    assert any(name.endswith(".bin") for name in found), found          # a payload file
    assert "archive/a.zip" in found
    wrong = {name: oct(mode) for name, (mode, _) in found.items()
             if mode != (0o700 if name.endswith("/") or name == "." else 0o600)}
    assert wrong == {}


async def test_with_a_group_files_are_0640_and_folders_0750(tmp_path):
    group = grp.getgrgid(os.getgid()).gr_name
    old = os.umask(0o000)
    try:
        data_dir = await run_gateway(tmp_path, group)
    finally:
        os.umask(old)
    found = modes(data_dir)
    secrets = {"keys/", "api-token"}
    wrong = {name: oct(mode) for name, (mode, gid) in found.items()
             if not any(name.startswith(s) for s in secrets)
             and (mode != (0o750 if name.endswith("/") or name == "." else 0o640) or gid != os.getgid())}
    assert wrong == {}
    # private keys and the API token stay owner-only even then
    assert all(mode & 0o077 == 0 for name, (mode, _) in found.items() if name.endswith("key.pem"))


async def test_an_unknown_group_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="file_group"):
        await run_gateway(tmp_path, "no-such-group-xyz")
