"""Configuration: strict keys with hints, partner entries, secrets from env or file."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway import config
from gateway.errors import ConfigError


def test_embedded_defaults_need_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.load(None, environ={})
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.partners == {}


def test_data_dir_from_environment(tmp_path):
    cfg = config.load(None, environ={"GATEWAY_DATA_DIR": str(tmp_path / "d")})
    assert cfg.data_dir == tmp_path / "d"


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "gateway.toml").write_text('[gateway]\ndata_dir = "state"\n')
    cfg = config.load(tmp_path / "gateway.toml", environ={})
    assert cfg.data_dir == tmp_path / "state"


@pytest.mark.parametrize("toml, fragment", [
    ('[gateway]\ndata_dri = "x"\n', "unknown key 'data_dri' (did you mean 'data_dir'?)"),
    ('[gatway]\n', "unknown section [gatway] (did you mean 'gateway'?)"),
    ('[gateway]\ndata_dir = 5\n', "expected str, got int"),
    ('[partners."ags:1"]\nendpoint = "x"\n', "unknown key 'endpoint' (did you mean 'endpoints'?)"),
    ('[partners."ags:1".trust]\ncas = "one.pem"\n', "expected a list"),
    ('[gateway\n', "gateway.toml"),
])
def test_bad_config_is_refused_with_a_pointer(tmp_path, toml, fragment):
    path = tmp_path / "gateway.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    assert fragment in str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="No such file"):
        config.load(tmp_path / "nope.toml", environ={})


def test_partner_entry(tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[partners."ags:09162000"]\nname = "Standesamt München"\n'
        'endpoints = ["https://127.0.0.1:8443/"]\ntransport = "soap"\n'
        'accepts = ["personenstand.urkundenantrag.0100"]\n'
        '[partners."ags:09162000".trust]\ncertificates = ["muc.pem"]\n'
        '[partners."ags:09162000".options]\nversion = 3\n'
    )
    partner = config.load(path, environ={}).partners["ags:09162000"]
    assert partner.transport == "soap"
    assert partner.trust.certificates == ("muc.pem",)
    assert partner.options == (("version", "3"),)


def test_secrets_from_env_and_file(tmp_path):
    (tmp_path / "pw").write_text("s3cret\n")
    cfg = config.from_dict({}, base_dir=tmp_path, environ={"KEY_PW": "abc"})
    assert cfg.secret("env:KEY_PW") == b"abc"
    assert cfg.secret("file:pw") == b"s3cret"
    assert cfg.secret("") is None
    with pytest.raises(ConfigError, match="MISSING is not set"):
        cfg.secret("env:MISSING")
    with pytest.raises(ConfigError, match="env:VARIABLE"):
        cfg.secret("plain-password")
