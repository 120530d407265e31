"""The console over real HTTP (aiohttp client, cookies as a browser keeps them) against the
office's full application on 127.0.0.1 with its real store: accounts and argon2id hashes,
sessions and cookie flags, CSRF, roles, login throttling, escaping, auditing, languages, the
answer form, tokens, audit export, and `gateway users`."""
from __future__ import annotations

import json
import re
import zipfile

import aiohttp
import pytest
from api_support import OFFICE, PORTAL, example, start_pair
from sqlalchemy import select

from gateway.cli import main as cli_main
from gateway.console.accounts import Accounts
from gateway.errors import MessageError
from gateway.model import Direction, State
from gateway.store.audit import verify_export
from gateway.store.tables import console_users

PASSWORD = "correct horse battery staple"
UNITS = {"standesamt": {"title": "Standesamt", "types": ["personenstand.*"]},
         "bauamt": {"types": ["korrespondenz.*"]}}
APPLICATION = "personenstand.urkundenantrag.0100"


@pytest.fixture
async def pair(tmp_path):
    p = await start_pair(tmp_path, office_extra={"console": {"units": UNITS, "login_failures": 3}})
    accounts = Accounts(p.b.store)
    for name, role, units in (("olga", "operator", ()), ("clara", "clerk", ("standesamt",)),
                              ("bernd", "clerk", ("bauamt",)), ("anton", "auditor", ())):
        await accounts.add(name, role, PASSWORD, units=units, actor="test")
    yield p
    await p.aclose()


class Browser:
    """A cookie-keeping client that reads the CSRF token from each page it gets."""

    def __init__(self, base: str, lang: str = "en"):
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             headers={"Accept-Language": lang})
        self.csrf = ""
        self.last = None

    async def get(self, path: str, **kw) -> tuple[int, str]:
        async with self.session.get(self.base + path, **kw) as r:
            text = await r.text()
            self.last = r
        found = re.search(r'name="csrf" value="([^"]+)"', text)
        if found:
            self.csrf = found.group(1)
        return r.status, text

    async def post(self, path: str, data: dict, *, csrf: bool = True) -> tuple[int, str]:
        body = {**data, **({"csrf": self.csrf} if csrf else {})}
        async with self.session.post(self.base + path, data=body) as r:
            text = await r.text()
            self.last = r
        found = re.search(r'name="csrf" value="([^"]+)"', text)
        if found:
            self.csrf = found.group(1)
        return r.status, text

    async def login(self, name: str, password: str = PASSWORD) -> tuple[int, str]:
        await self.get("/console/login")
        return await self.post("/console/login", {"user": name, "password": password})

    async def close(self):
        await self.session.close()


@pytest.fixture
async def browser(pair):
    made = []

    def make(lang: str = "en") -> Browser:
        made.append(Browser(pair.url, lang))
        return made[-1]
    yield make
    for b in made:
        await b.close()


async def test_passwords_are_argon2id_hashes_and_accounts_are_checked(pair):
    async with pair.b.store.reading() as conn:
        rows = (await conn.execute(select(console_users))).all()
    assert {r.name for r in rows} == {"olga", "clara", "bernd", "anton"}
    assert all(r.password.startswith("$argon2id$") and PASSWORD not in r.password for r in rows)
    accounts = Accounts(pair.b.store)
    for args, kwargs, match in ((("x", "clerk", PASSWORD), {}, "at least one mailbox unit"),
                                (("x", "operator", "short"), {}, "at least 12"),
                                (("x", "boss", PASSWORD), {}, "role"),
                                (("olga", "operator", PASSWORD), {}, "exists"),
                                (("x", "clerk", PASSWORD), {"units": ["nowhere"], "known_units": ["bauamt"]},
                                 "not configured")):
        with pytest.raises(MessageError, match=match):
            await accounts.add(*args, actor="test", **kwargs)
    assert await accounts.authenticate("olga", PASSWORD) is not None
    assert await accounts.authenticate("olga", PASSWORD + "x") is None
    assert await accounts.authenticate("nobody", PASSWORD) is None
    events = [e.event async for e in pair.b.store.audit_entries()]
    assert events.count("console.user_added") == 4


async def test_login_sets_strict_httponly_cookies_and_every_page_has_the_security_headers(pair, browser):
    b = browser()
    status, text = await b.get("/console")
    assert status == 200 and str(b.last.url).startswith(pair.url + "/console/login")
    status, text = await b.get("/console/dashboard")
    assert status == 200 and "/console/login" in str(b.last.url)           # redirected to the login
    status, _ = await b.login("olga")
    assert status == 200 and str(b.last.url).endswith("/console/dashboard")
    cookie = next(h for h in b.last.history[0].headers.getall("Set-Cookie") if h.startswith("gw_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert "Path=/console/" in cookie
    csp = b.last.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
    assert b.last.headers["X-Content-Type-Options"] == "nosniff"
    assert b.last.headers["Cache-Control"] == "no-store"
    await b.post("/console/logout", {})
    status, _ = await b.get("/console/dashboard")
    assert "/console/login" in str(b.last.url)                               # the session is gone


async def test_secure_cookies_when_configured(tmp_path):
    p = await start_pair(tmp_path, office_extra={"console": {"secure_cookie": True}})
    try:
        await Accounts(p.b.store).add("olga", "operator", PASSWORD, actor="test")
        async with aiohttp.ClientSession() as s:
            async with s.get(p.url + "/console/login") as r:
                assert "Secure" in r.headers["Set-Cookie"]
    finally:
        await p.aclose()


async def test_login_is_throttled_per_account_and_audited(pair, browser):
    b = browser()
    for _ in range(3):
        status, text = await b.login("olga", "wrong password!!")
        assert status == 401 and "Wrong user name or password." in text
    status, text = await b.login("olga")                                     # right password, locked
    assert status == 429 and "Too many failed logins" in text
    other = browser()
    status, _ = await other.login("clara")                                   # the same address: locked too
    assert status == 429
    entries = [e async for e in pair.b.store.audit_entries()]
    failed = [e for e in entries if e.event == "console.login_failed"]
    assert len(failed) == 3 and failed[0].actor == "console:olga" and failed[0].details["remote"] == "127.0.0.1"
    assert PASSWORD not in json.dumps([e.details for e in entries])


async def test_forms_without_a_valid_csrf_token_are_refused(pair, browser):
    msg = await pair.receive_at_b(APPLICATION)
    b = browser()
    await b.get("/console/login")
    status, text = await b.post("/console/login", {"user": "clara", "password": PASSWORD}, csrf=False)
    assert status == 403 and "security token" in text
    await b.login("clara")
    status, _ = await b.post(f"/console/mailbox/{msg.id}/take", {}, csrf=False)
    assert status == 403
    b.csrf = "forged-token"
    status, _ = await b.post(f"/console/mailbox/{msg.id}/take", {})
    assert status == 403
    assert (await pair.b.store.get(msg.id)).state is State.VERIFIED          # nothing happened
    assert "console.csrf_refused" in [e.event async for e in pair.b.store.audit_entries()]


async def test_roles_decide_the_pages(pair, browser):
    application = await pair.receive_at_b(APPLICATION)
    letter = await pair.receive_at_b("korrespondenz.schreiben.0200")
    clerk = browser()
    await clerk.login("bernd")
    for path in ("/console/dashboard", "/console/messages", f"/console/messages/{letter.id}", "/console/tokens",
                 "/console/audit", "/console/partners", f"/console/mailbox/{application.id}"):
        status, _ = await clerk.get(path)
        assert status == 403, path
    status, text = await clerk.get("/console/mailbox")
    assert status == 200 and letter.id in text and application.id not in text
    auditor = browser()
    await auditor.login("anton")
    assert (await auditor.get("/console/messages"))[0] == 200
    assert (await auditor.get(f"/console/messages/{application.id}"))[0] == 200
    assert (await auditor.get("/console/audit"))[0] == 200
    for path in ("/console/dashboard", "/console/tokens", "/console/mailbox"):
        assert (await auditor.get(path))[0] == 403, path
    status, _ = await auditor.post(f"/console/messages/{application.id}/cancel", {})
    assert status == 403


async def test_message_text_is_escaped_everywhere(pair, browser):
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    msg = await pair.a.submit("korrespondenz.schreiben.0200",
                              example("korrespondenz.schreiben.0200") | {"betreff": evil, "inhalt": evil},
                              to=OFFICE)
    done = await pair.a.wait_final(msg.id, timeout=15)
    received = await pair.b.store.find(Direction.IN, done.message_uuid)
    for name, path in (("bernd", f"/console/mailbox/{received.id}"), ("olga", f"/console/messages/{received.id}")):
        b = browser()
        await b.login(name)
        status, text = await b.get(path)
        assert status == 200
        assert "<script>" not in text and "<img src=x" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


async def test_operator_retry_and_cancel_are_confirmed_and_audited(pair, browser):
    msg = await pair.a.submit(APPLICATION, example(APPLICATION), to=OFFICE)
    await pair.a.store.transition(msg.id, State.FAILED, actor="test", detail="made failed for the test")
    portal = await _console_for(pair.a)
    b = Browser(portal)
    try:
        await b.login("olga")
        status, text = await b.get("/console/dashboard")                     # `gateway status`'s data
        assert status == 200 and "1 outbound message(s) failed" in text and "intact" in text
        assert PORTAL not in text or OFFICE in text                          # the partner row: the office
        status, text = await b.get(f"/console/messages/{msg.id}/retry")
        assert status == 200 and msg.id in text                              # the confirmation page
        assert (await pair.a.store.get(msg.id)).state is State.FAILED        # a GET changes nothing
        status, text = await b.post(f"/console/messages/{msg.id}/retry", {})
        assert status == 200 and "Message queued for sending again." in text
        assert (await pair.a.store.get(msg.id)).state is State.READY
        assert (await pair.a.store.history(msg.id))[-1].actor == "console:olga"
        await b.get(f"/console/messages/{msg.id}/cancel")
        status, text = await b.post(f"/console/messages/{msg.id}/cancel", {})
        assert status == 200 and "Message cancelled." in text
        assert (await pair.a.store.get(msg.id)).state is State.CANCELLED
        status, text = await b.post(f"/console/messages/{msg.id}/retry", {})
        assert status == 409 and "can be retried" in text
        events = [(e.event, e.actor) async for e in pair.a.store.audit_entries() if e.message_id == msg.id]
        assert ("message.cancelled", "console:olga") in events
    finally:
        await b.close()
        await portal.cleanup()  # type: ignore[attr-defined]


async def _console_for(gw):
    """Serve gateway `gw`'s application on 127.0.0.1 with an operator 'olga'; returns its URL
    (a str with a cleanup() to stop it)."""
    from aiohttp import web

    from gateway import bootstrap
    await Accounts(gw.store).add("olga", "operator", PASSWORD, actor="test")
    runner = web.AppRunner(bootstrap.create_app(gw))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()

    class Url(str):
        async def cleanup(self):
            await runner.cleanup()
    return Url(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}")


async def test_languages_by_accept_language_and_by_the_switch(pair, browser):
    de, en = browser("de-DE,de;q=0.9,en;q=0.5"), browser("en-US,en;q=0.9,de;q=0.3")
    assert "Anmelden" in (await de.get("/console/login"))[1]
    assert "Log in" in (await en.get("/console/login"))[1]
    await en.get("/console/lang/de?next=/console/login")
    assert "Anmelden" in (await en.get("/console/login"))[1]
    status, _ = await en.get("/console/lang/de?next=https://evil.example/")
    assert str(en.last.url).endswith("/console/login") or str(en.last.url).startswith(pair.url)


async def test_clerk_answers_refused_with_a_reason_and_bad_input_is_named(pair, browser):
    msg = await pair.receive_at_b(APPLICATION)
    b = browser()
    await b.login("clara")
    status, text = await b.get(f"/console/mailbox/{msg.id}")
    assert status == 200 and "unread" not in text
    status, text = await b.post(f"/console/mailbox/{msg.id}/answer",
                                {"decision": "accept", "fee": "twelve", "dispatch": "2026-12-09"})
    assert status == 400 and "fee" in text
    status, text = await b.post(f"/console/mailbox/{msg.id}/answer",
                                {"decision": "refuse", "reason": "02", "text": "Nicht beurkundet <b>hier</b>."})
    assert status == 200 and "Answer sent" in text
    assert (await pair.b.store.get(msg.id)).state is State.ACKNOWLEDGED
    (answer,) = await pair.b.store.list(direction=Direction.OUT, client_ref=f"answer:{msg.id}")
    _, record = pair.b.registry.received_record(await pair.b.store.payload(answer.id))
    assert record["ablehnung"]["grund"]["code"] == "02"
    assert record["referenzUUID"] == msg.message_uuid and record["standesamt"]["kennung"] == OFFICE
    status, _ = await b.post(f"/console/mailbox/{msg.id}/answer", {"decision": "accept", "fee": "1",
                                                                 "dispatch": "2026-12-09"})
    assert len(await pair.b.store.list(direction=Direction.OUT, client_ref=f"answer:{msg.id}")) == 1
    done = await pair.b.wait_final(answer.id, timeout=15)
    assert done.state is State.ACKNOWLEDGED and done.partner == PORTAL
    actors = {e.actor for e in [e async for e in pair.b.store.audit_entries()] if e.message_id in (msg.id, answer.id)}
    assert "console:clara" in actors


async def test_unread_marks_are_per_user(pair, browser):
    msg = await pair.receive_at_b(APPLICATION)
    b = browser()
    await b.login("clara")
    assert "unread" in (await b.get("/console/mailbox"))[1]
    await b.get(f"/console/mailbox/{msg.id}")
    assert 'class="unread"' not in (await b.get("/console/mailbox"))[1]


async def test_tokens_are_created_shown_once_and_revoked(pair, browser):
    b = browser()
    await b.login("olga")
    status, text = await b.post("/console/tokens", {"name": "efile", "types": "personenstand.*", "partners": "*"})
    token = re.search(r"gwt_[A-Za-z0-9_-]{43}", text).group(0)
    assert status == 200
    async with aiohttp.ClientSession() as s:
        async with s.get(pair.url + "/api/inbound", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
    status, text = await b.get("/console/tokens")
    assert token not in text and "efile" in text
    status, _ = await b.post("/console/tokens/efile/revoke", {})
    async with aiohttp.ClientSession() as s:
        async with s.get(pair.url + "/api/inbound", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 401


async def test_audit_is_verified_and_exported(pair, browser, tmp_path):
    b = browser()
    await b.login("anton")
    status, text = await b.get("/console/audit?verify=1")
    assert status == 200 and "intact" in text
    async with b.session.get(pair.url + "/console/audit/export") as r:
        assert r.status == 200 and r.headers["Content-Type"] == "application/zip"
        (tmp_path / "export.zip").write_bytes(await r.read())
    manifest, broken = verify_export(tmp_path / "export.zip")
    assert broken is None and manifest["count"] > 0
    assert zipfile.ZipFile(tmp_path / "export.zip").namelist() == ["audit.jsonl", "manifest.json"]


def test_users_command(tmp_path, monkeypatch, capsys):
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\ndata_dir = "data"\n[console.units.standesamt]\ntypes = ["personenstand.*"]\n')
    monkeypatch.setenv("GATEWAY_PASSWORD", PASSWORD)
    assert cli_main(["--config", str(config), "users", "add", "clara", "--role", "clerk", "--unit", "standesamt"]) == 0
    assert cli_main(["--config", str(config), "users", "add", "x", "--role", "clerk", "--unit", "bauamt"]) == 1
    assert "not configured" in capsys.readouterr().err
    assert cli_main(["--config", str(config), "users", "passwd", "clara"]) == 0
    assert cli_main(["--config", str(config), "users", "disable", "clara"]) == 0
    capsys.readouterr()
    assert cli_main(["--config", str(config), "users", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["name"] == "clara" and listed["units"] == ["standesamt"] and listed["disabled_at"]
    assert cli_main(["--config", str(config), "users", "list"]) == 0
    out = capsys.readouterr().out
    assert "clara" in out and "disabled" in out and "standesamt" in out and PASSWORD not in out


async def test_messages_are_searched_filtered_and_paged(tmp_path):
    p = await start_pair(tmp_path, office_extra={"console": {"page_size": 2}})
    b = Browser(p.url)
    try:
        await Accounts(p.b.store).add("olga", "operator", PASSWORD, actor="test")
        received = [await p.receive_at_b("korrespondenz.schreiben.0200") for _ in range(3)]
        await b.login("olga")
        status, first = await b.get("/console/messages?direction=in")
        ids = re.findall(r'href="/console/messages/([0-9a-f]{32})"', first)
        assert status == 200 and ids == [received[2].id, received[1].id]          # newest first, 2 a page
        more = re.search(r'href="/console/messages\?([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
        status, second = await b.get(f"/console/messages?{more}")
        assert re.findall(r'href="/console/messages/([0-9a-f]{32})"', second) == [received[0].id]
        status, text = await b.get(f"/console/messages?uuid={received[1].message_uuid}")
        assert re.findall(r'href="/console/messages/([0-9a-f]{32})"', text) == [received[1].id]
        status, text = await b.get("/console/messages?direction=in&since=2999-01-01")
        assert "Nothing found." in text
        status, text = await b.get("/console/messages?until=yesterday")
        assert status == 400 and "until" in text and "not a date" in text
        status, text = await b.get("/console/messages?direction=out&state=dead")
        assert "Nothing found." in text
    finally:
        await b.close()
        await p.aclose()


async def test_units_by_reader_id(tmp_path):
    units = {"ours": {"readers": [OFFICE]}, "elsewhere": {"readers": ["psw:*"], "types": ["korrespondenz.*"]}}
    p = await start_pair(tmp_path, office_extra={"console": {"units": units}})
    try:
        accounts = Accounts(p.b.store)
        await accounts.add("clara", "clerk", PASSWORD, units=["ours"], actor="test")
        await accounts.add("paul", "clerk", PASSWORD, units=["elsewhere"], actor="test")
        msg = await p.receive_at_b(APPLICATION)                  # addressed to the office (leser = OFFICE)
        for name, sees in (("clara", True), ("paul", False)):
            b = Browser(p.url)
            try:
                await b.login(name)
                status, text = await b.get("/console/mailbox")
                assert (msg.id in text) is sees, name
                assert (await b.get(f"/console/mailbox/{msg.id}"))[0] == (200 if sees else 403)
            finally:
                await b.close()
    finally:
        await p.aclose()
