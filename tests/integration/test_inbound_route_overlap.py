"""Start-up refuses a configuration in which received messages could fall to both the
webhook and an inbound drop folder (gateway.backend.routes, called by bootstrap)."""
from __future__ import annotations

import pytest

from gateway import bootstrap, cli
from gateway import config as cfg
from gateway.errors import ConfigError

TYPE = "personenstand.urkundenantrag.0100"


def raw(tmp_path, **folder) -> dict:
    return {"gateway": {"data_dir": str(tmp_path / "data")},
            "webhooks": {"url": "https://efile.example/hooks", "secret": "env:S", "types": [TYPE]},
            "folders": {"inbound": {"registry": {"path": str(tmp_path / "in"), **folder}}}}


async def test_bootstrap_refuses_before_opening_the_store(tmp_path):
    with pytest.raises(ConfigError, match=f"type {TYPE} from partner"):
        await bootstrap.build(cfg.from_dict(raw(tmp_path), base_dir=tmp_path, environ={"S": "x" * 32}))
    assert not (tmp_path / "data" / "gateway.db").exists()


async def test_bootstrap_builds_when_the_overlap_is_marked_as_intended(tmp_path):
    config = cfg.from_dict(raw(tmp_path, allow_webhook_overlap=True), base_dir=tmp_path, environ={"S": "x" * 32})
    gw = await bootstrap.build(config)
    try:
        assert (tmp_path / "data" / "gateway.db").exists()
    finally:
        await gw.aclose()


def test_serve_exits_2_naming_both_routes(tmp_path, capsys, monkeypatch):
    path = tmp_path / "gateway.toml"
    path.write_text(f'[webhooks]\nurl = "https://efile.example/hooks"\nsecret = "env:S"\n'
                    f'[folders.inbound.registry]\npath = "in"\npartners = ["ags:09162000"]\n'
                    f'[gateway]\ndata_dir = "data"\n')
    monkeypatch.setenv("S", "x" * 32)
    assert cli.main(["--config", str(path), "serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gateway serve: [webhooks] and [folders.inbound.\"registry\"]")
    assert "type * (any) from partner ags:09162000" in err
    assert "Traceback" not in err
