"""Two gateway configurations that trust each other (dev keys made per test), for the
in-process exchange tests and the e2e tests."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from gateway import config as cfg
from gateway.bootstrap import ensure_dev_keys

PORTAL = "ags:09162000"     # the citizen portal's authority
OFFICE = "ags:09162001"     # the registry office


def make_keys(folder: Path, authority: str, name: str) -> Path:
    """Dev keys for one gateway in folder/data/keys; returns its signing certificate."""
    raw = {"gateway": {"data_dir": "data", "authority_id": authority, "authority_name": name}}
    ensure_dev_keys(cfg.from_dict(raw, base_dir=folder), datetime.now(timezone.utc))
    return folder / "data" / "keys" / "signing.cert.pem"


def pair_tables(root: Path, *, transport: str, endpoint_a: str, endpoint_b: str,
                accepts: tuple[str, ...] = ("*",)) -> tuple[dict, dict]:
    """Raw config tables for gateway A (portal) and B (office), each trusting the other."""
    a_dir, b_dir = root / "a", root / "b"
    a_dir.mkdir(parents=True, exist_ok=True)
    b_dir.mkdir(parents=True, exist_ok=True)
    a_cert = make_keys(a_dir, PORTAL, "Bürgerportal")
    b_cert = make_keys(b_dir, OFFICE, "Standesamt")

    def table(me: str, name: str, other: str, other_name: str, endpoint: str, other_cert: Path) -> dict:
        return {
            "gateway": {"data_dir": "data", "authority_id": me, "authority_name": name, "node_id": name},
            "server": {"port": 0},
            "delivery": {"timeout": 10, "connect_timeout": 5, "backoff_initial": 0.2, "max_attempts": 3},
            "partners": {other: {"name": other_name, "endpoints": [endpoint], "transport": transport,
                                 "accepts": list(accepts),
                                 "trust": {"certificates": [str(other_cert)]}}},
        }

    return (table(PORTAL, "Bürgerportal", OFFICE, "Standesamt", endpoint_b, b_cert),
            table(OFFICE, "Standesamt", PORTAL, "Bürgerportal", endpoint_a, a_cert))
