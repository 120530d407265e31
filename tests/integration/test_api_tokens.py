"""API tokens in the store (SQLite and PostgreSQL) and the `gateway tokens` commands."""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from gateway import cli
from gateway.backend.tokens import OPERATOR_GRANT, Authenticator, Grant, Tokens
from gateway.errors import MessageError, NotFound
from gateway.store import Store
from gateway.store.tables import api_tokens


@pytest.fixture
async def store(db_url, tmp_path):
    s = await Store.open(db_url, tmp_path)
    yield s
    await s.aclose()


async def test_tokens_are_stored_hashed_scoped_revocable_and_audited(store):
    tokens = Tokens(store)
    token = await tokens.create("efile", types=["personenstand.*"], partners=["ags:0916*", "psw:1"], actor="cli:alice")
    assert token.startswith("gwt_") and len(token) >= 40
    async with store.reading() as conn:
        rows = (await conn.execute(select(api_tokens))).mappings().all()
    assert len(rows) == 1 and token not in json.dumps([{k: str(v) for k, v in r.items()} for r in rows])
    assert rows[0]["digest"] == hashlib.sha256(token.encode()).hexdigest()

    grant = await tokens.lookup(token)
    assert grant == Grant("efile", ("personenstand.*",), ("ags:0916*", "psw:1"))
    assert grant.allows("personenstand.urkundenantrag.0100", "ags:09162001")
    assert not grant.allows("korrespondenz.schreiben.0200", "ags:09162001")
    assert not grant.allows("personenstand.urkundenantrag.0100", "psw:12")
    assert not grant.operator
    for wrong in (token[:-1], token + "x", "", "gwt_", token.upper()):
        assert await tokens.lookup(wrong) is None

    with pytest.raises(MessageError, match="exists"):
        await tokens.create("efile", types=["*"], partners=["*"], actor="cli:alice")
    rotated = await tokens.create("efile", types=["*"], partners=["*"], actor="cli:alice", replace=True)
    assert await tokens.lookup(token) is None and (await tokens.lookup(rotated)).types == ("*",)

    info = await tokens.revoke("efile", actor="cli:bob")
    assert not info.active and await tokens.lookup(rotated) is None
    with pytest.raises(NotFound):
        await tokens.revoke("efile", actor="cli:bob")
    again = await tokens.create("efile", types=["x"], partners=["y"], actor="cli:alice")   # after revoking
    assert (await tokens.lookup(again)).name == "efile"
    assert [(i.name, i.active) for i in await tokens.list()] == [("efile", True)]

    events = [(e.event, e.actor, e.details.get("name")) async for e in store.audit_entries()]
    assert events == [("api.token.created", "cli:alice", "efile"), ("api.token.created", "cli:alice", "efile"),
                      ("api.token.revoked", "cli:bob", "efile"), ("api.token.created", "cli:alice", "efile")]
    assert (await store.verify_audit()).broken is None


@pytest.mark.parametrize("name, types, partners", [
    ("operator", ["*"], ["*"]), ("", ["*"], ["*"]), ("a b", ["*"], ["*"]), ("x" * 101, ["*"], ["*"]),
    ("ok", [], ["*"]), ("ok", ["*"], [" "]),
])
async def test_bad_names_and_empty_scopes_are_refused(store, name, types, partners):
    with pytest.raises(MessageError):
        await Tokens(store).create(name, types=types, partners=partners, actor="t")
    assert await Tokens(store).list() == []


async def test_authenticator_operator_and_stored_tokens(store):
    tokens = Tokens(store)
    stored = await tokens.create("portal", types=["*"], partners=["*"], actor="t")
    auth = Authenticator(tokens, b"operator-secret")
    assert await auth.authenticate("operator-secret") is OPERATOR_GRANT
    assert (await auth.authenticate(stored)).name == "portal"
    assert await auth.authenticate("operator-secreT") is None and await auth.authenticate("") is None
    assert await Authenticator(tokens, None).authenticate("operator-secret") is None


def test_cli_create_list_revoke(tmp_path, capsys):
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\ndata_dir = "data"\n')
    base = ["--config", str(config), "tokens"]
    assert cli.main([*base, "create", "portal", "--types", "korrespondenz.*", "--partners", "ags:09162001"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("gwt_") and "shown only now" in err
    assert cli.main([*base, "create", "portal", "--types", "*", "--partners", "*"]) == 1
    assert "exists" in capsys.readouterr().err
    assert cli.main([*base, "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["name"] == "portal" and listed[0]["types"] == ["korrespondenz.*"]
    assert listed[0]["revoked_at"] is None and token not in json.dumps(listed)
    assert cli.main([*base, "revoke", "portal"]) == 0
    assert "revoked portal" in capsys.readouterr().out
    assert cli.main([*base, "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert cli.main([*base, "revoke", "portal"]) == 1
    assert "no active token" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([*base, "create", "x", "--types", "*"])           # --partners is required
