"""deploy/compose.yaml uses only what exists: every gateway command parses with the real
CLI, every GATEWAY_ variable is a configuration variable, every mounted host path exists,
the mounted configuration loads with each node's environment (data in the volume, the
shared PostgreSQL store), and the image it builds is this repository's Dockerfile."""
from __future__ import annotations

from pathlib import Path

import yaml

from gateway import config as configuration
from gateway.cli import build_parser
from gateway.config.env import OTHER_VARIABLES, variables

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def services() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]


def gateway_services() -> dict:
    return {name: s for name, s in services().items() if s.get("image") == "xoev-gateway"}


def test_two_gateway_nodes_and_postgresql():
    assert len(gateway_services()) == 2
    assert any(str(s.get("image", "")).startswith("postgres") for s in services().values())


def test_the_image_is_built_from_this_repository():
    for s in gateway_services().values():
        context = (DEPLOY / s["build"]["context"]).resolve()
        assert (context / s["build"].get("dockerfile", "Dockerfile")).is_file()


def test_every_command_parses_with_the_cli():
    parser = build_parser()
    for name, s in gateway_services().items():
        command = s["command"]
        assert command[0] == "gateway", name
        args = parser.parse_args(command[1:])
        assert callable(args.func), name
    image_cmd = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    assert image_cmd and callable(parser.parse_args(yaml.safe_load(image_cmd[0][4:])[1:]).func)


def test_every_gateway_variable_exists():
    known = set(variables()) | set(OTHER_VARIABLES)
    for name, s in gateway_services().items():
        unknown = {k for k in s["environment"] if k.startswith("GATEWAY_")} - known
        assert unknown == set(), name


def mounts(s: dict) -> dict[str, Path]:
    """container path -> host path of the service's bind mounts."""
    out = {}
    for volume in s.get("volumes", []):
        host, target = volume.split(":")[:2]
        if host.startswith(("./", "../", "/")):
            out[target] = (DEPLOY / host).resolve()
    return out


def test_every_mounted_path_exists_and_the_config_is_mounted():
    for name, s in gateway_services().items():
        binds = mounts(s)
        assert binds and all(p.exists() for p in binds.values()), name
        config = s["environment"]["GATEWAY_CONFIG"]
        folder = next(t for t in binds if config.startswith(t + "/"))
        assert (binds[folder] / config[len(folder) + 1:]).is_file(), name
        data = s["environment"]["GATEWAY_DATA_DIR"]
        named = [v.split(":")[1] for v in s["volumes"] if not v.startswith(("./", "../", "/"))]
        assert data in named, f"{name}: GATEWAY_DATA_DIR is not a volume"


def test_the_mounted_config_loads_with_each_nodes_environment():
    for name, s in gateway_services().items():
        env = {k: str(v).replace("${DB_PASSWORD:?set DB_PASSWORD}", "pw") for k, v in s["environment"].items()}
        binds = mounts(s)
        folder = next(t for t in binds if env["GATEWAY_CONFIG"].startswith(t + "/"))
        cfg = configuration.load(binds[folder] / "gateway.toml", environ=env)
        assert cfg.data_dir == Path("/data")
        assert cfg.store.url.startswith("postgresql://") and cfg.origin("store", "url") == "environment GATEWAY_STORE_URL"
        assert cfg.gateway.node_id == env["GATEWAY_NODE_ID"]
        # a payload accepted by one node must be readable by the other: in the database
        assert cfg.store.payload_inline_max >= cfg.server.max_body_bytes, name
        for key in cfg.keys.own:   # keys are inside the mounted config folder
            assert cfg.path(key.file).resolve().is_relative_to(binds[folder])
    nodes = [s["environment"]["GATEWAY_NODE_ID"] for s in gateway_services().values()]
    assert len(set(nodes)) == 2


def test_the_deployment_doc_points_at_the_compose_file():
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    assert "deploy/compose.yaml" in text and "docker compose up" in text
