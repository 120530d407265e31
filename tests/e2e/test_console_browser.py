"""The console in a real browser: Debian's Chromium driven by Playwright against two real
`gateway serve` processes over HTTP (portal A, registry office B), accounts made with
`gateway users add`. The scenarios of issue 16: the operator retries a dead message and sees
it acknowledged; the clerk opens the citizen's application as a form, takes it over and
answers, and the portal's gateway shows the answer received; a clerk gets 403 on another
unit's message and on operator pages; a form without its CSRF token is refused; a message
whose text holds <script> renders inert. Screenshots are taken and checked non-empty (with
CONSOLE_SCREENSHOTS=DIR they are also written there, e.g. docs/)."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from exchange_pair import OFFICE, PORTAL, pair_tables
from gateways import GATEWAY, Process
from peer_double import free_port


def _need():
    """tests/conftest.py's need() (tests/ is no package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_console_root_conftest",
                                                  Path(__file__).resolve().parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.need


need = _need()

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery staple"
APPLICATION = "personenstand.urkundenantrag.0100"
ANSWER = "personenstand.urkundenantragAntwort.0101"
LETTER = "korrespondenz.schreiben.0200"
EVIL = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'


def example(type_id: str, **changes) -> dict:
    record = json.loads((EXAMPLES / f"{type_id}.json").read_text())
    record["nachrichtenkopfG2g"].pop("leser", None)
    record.update(changes)
    return record


def add_user(gw: Process, name: str, role: str, *units: str) -> None:
    args = [*GATEWAY, "--config", str(gw.config), "users", "add", name, "--role", role]
    for unit in units:
        args += ["--unit", unit]
    done = subprocess.run(args, cwd=gw.folder, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GATEWAY_PASSWORD": PASSWORD})
    assert done.returncode == 0, done.stderr


def submit(gw: Process, type_id: str, to: str, record: dict) -> dict:
    reply = requests.post(f"{gw.url}/api/messages", json={"type": type_id, "to": to, "record": record},
                          headers={"Authorization": f"Bearer {gw.token}"}, timeout=30)
    assert reply.status_code == 201, reply.text
    return reply.json()


def wait_state(gw: Process, msg_id: str, state: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        data = requests.get(f"{gw.url}/api/messages/{msg_id}", headers={"Authorization": f"Bearer {gw.token}"},
                            timeout=10).json()
        if data["state"] == state or time.monotonic() > deadline:
            assert data["state"] == state, data
            return data
        time.sleep(0.3)


def inbound_of(gw: Process, type_id: str, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        items = requests.get(f"{gw.url}/api/inbound", params={"type": type_id},
                             headers={"Authorization": f"Bearer {gw.token}"}, timeout=10).json()["items"]
        if items or time.monotonic() > deadline:
            return items
        time.sleep(0.3)


@pytest.fixture(scope="module")
def browser():
    need(Path(CHROMIUM).exists(), "chromium is not installed (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def portal_and_office(tmp_path_factory):
    """A (portal) running, B (office) not yet: its port is reserved in A's directory."""
    root = tmp_path_factory.mktemp("console")
    pa, pb = free_port(), free_port()
    raw_a, raw_b = pair_tables(root, transport="http", endpoint_a=f"http://127.0.0.1:{pa}",
                               endpoint_b=f"http://127.0.0.1:{pb}")
    raw_a["delivery"].update(max_attempts=1, drain_interval=0.5)
    raw_b["delivery"].update(drain_interval=0.5)
    raw_b["console"] = {"units": {"standesamt": {"title": "Standesamt", "types": ["personenstand.*"]},
                                  "bauamt": {"title": "Bauamt", "types": ["korrespondenz.*"]}}}
    a = Process(root / "a", raw_a, pa)
    state = {"a": a, "b": None, "root": root, "raw_b": raw_b, "pb": pb}
    yield state
    codes = [gw.stop() for gw in (state["b"], a) if gw is not None]
    assert codes == [0] * len(codes)


def shot(page, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("CONSOLE_SCREENSHOTS")
    if keep:
        shutil.copy(path, Path(keep) / path.name)
    return path


def login(browser, gw: Process, name: str, lang: str = "en"):
    context = browser.new_context(locale="de-DE" if lang == "de" else "en-GB",
                                  extra_http_headers={"Accept-Language": "de-DE,de;q=0.9" if lang == "de" else "en"},
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{gw.url}/console/")
    assert "/console/login" in page.url
    page.fill("input[name=user]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    return page


def test_operator_retries_a_dead_message_and_sees_it_acknowledged(browser, portal_and_office, tmp_path):
    state = portal_and_office
    a = state["a"]
    add_user(a, "olga", "operator")
    sent = submit(a, APPLICATION, OFFICE, example(APPLICATION))
    wait_state(a, sent["id"], "dead")                        # B is not running: one attempt, dead
    state["b"] = b = Process(state["root"] / "b", state["raw_b"], state["pb"])

    page = login(browser, a, "olga")
    assert page.url.endswith("/console/dashboard")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert "intact" in page.locator("main").inner_text() and "Needs attention" in page.locator("main").inner_text()
    assert "1 outbound message(s) dead" in page.locator("section.attention").inner_text()
    shot(page, tmp_path / "console-dashboard.png")

    page.goto(f"{a.url}/console/messages?state=dead")
    page.click(f"a[href='/console/messages/{sent['id']}']")
    assert "dead" in page.locator("h1").inner_text()
    timeline = page.locator("table.timeline").inner_text()
    assert "dead" in timeline and "sending" in timeline
    page.click("text=Retry")
    assert "/retry" in page.url and sent["id"] in page.locator("main").inner_text()
    page.click("button[type=submit]:has-text('Yes')")
    assert "Message queued for sending again." in page.locator("main").inner_text()
    deadline = time.monotonic() + 60
    while "acknowledged" not in page.locator("h1").inner_text() and time.monotonic() < deadline:
        time.sleep(0.5)
        page.goto(f"{a.url}/console/messages/{sent['id']}")
    assert "acknowledged" in page.locator("h1").inner_text()
    assert "console:olga" in page.locator("table.timeline").inner_text()
    assert page.locator("pre.xml .x-tag").count() > 10              # pretty-printed, highlighted
    shot(page, tmp_path / "console-message.png")
    page.context.close()
    state["application"] = sent


def test_clerk_takes_over_and_answers_and_the_portal_receives_the_answer(browser, portal_and_office, tmp_path):
    state = portal_and_office
    a, b = state["a"], state["b"]
    assert b is not None and "application" in state, "runs after the operator's scenario"
    add_user(b, "clara", "clerk", "standesamt")
    page = login(browser, b, "clara", lang="de")
    assert page.url.endswith("/console/mailbox")
    row = page.locator("table.mailbox tr.unread").first
    assert "ungelesen" in row.inner_text() and APPLICATION in row.inner_text()
    row.locator("a").click()
    form = page.locator("form.application").inner_text()
    assert "Person, die die Urkunde beantragt" in form          # labels from the schema's documentation
    application = page.locator("form.application")
    assert application.locator("input[value='Anna Maria']").count() == 1
    assert application.locator("input[value='GEB – Geburtsurkunde']").count() == 1
    iban = application.locator("input[value$='3000']")
    assert iban.count() == 1 and iban.get_attribute("value") == "•" * 18 + "3000"
    assert "DE89370400440532013000" not in page.content()
    shot(page, tmp_path / "console-application.png")

    page.click("button:has-text('Übernehmen')")
    assert "Übernommen" in page.locator("main").inner_text()
    page.check("input[name=decision][value=accept]")
    page.fill("input[name=fee]", "12,00")
    page.fill("input[name=dispatch]", "2026-12-09")
    page.click("button:has-text('Antwort senden')")
    assert "Antwort gesendet" in page.locator("main").inner_text()
    page.context.close()

    answers = inbound_of(a, ANSWER)
    assert len(answers) == 1
    operator = login(browser, a, "olga")
    operator.goto(f"{a.url}/console/messages?direction=in&type={ANSWER}")
    operator.click(f"a[href='/console/messages/{answers[0]['id']}']")
    values = operator.locator("div.record input").evaluate_all("inputs => inputs.map(i => i.value)")
    assert "12.00" in values and "2026-12-09" in values and state["application"]["message_uuid"] in values
    operator.context.close()


def test_clerk_forbidden_pages_csrf_and_inert_script(browser, portal_and_office, tmp_path):
    state = portal_and_office
    a, b = state["a"], state["b"]
    assert b is not None, "runs after the operator's scenario"
    add_user(b, "bernd", "clerk", "bauamt")
    letter = submit(a, LETTER, OFFICE, example(LETTER, betreff=f"Betreff {EVIL}", inhalt=f"Text {EVIL}"))
    wait_state(a, letter["id"], "acknowledged")
    application = inbound_of(b, APPLICATION)[0]

    page = login(browser, b, "bernd")
    assert page.goto(f"{b.url}/console/mailbox/{application['id']}").status == 403   # another unit's
    assert page.goto(f"{b.url}/console/dashboard").status == 403                      # operator page
    assert page.goto(f"{b.url}/console/messages").status == 403

    page.goto(f"{b.url}/console/mailbox")
    page.click("table.mailbox a")
    assert page.title() != "pwned"
    assert page.locator("main script").count() == 0 and page.locator("main img").count() == 0
    shown = page.locator("form.application input, form.application textarea").evaluate_all(
        "fields => fields.map(f => f.value)")
    assert f"Betreff {EVIL}" in shown and f"Text {EVIL}" in shown          # shown as text, not run
    assert "default-src 'none'" in (page.goto(page.url).headers["content-security-policy"])

    with page.expect_download() as info:
        page.click("ul.files a")
    download = info.value
    expected = base64.b64decode(example(LETTER)["anlage"][0]["inhalt"])
    assert Path(download.path()).read_bytes() == expected

    message_id = re.search(r"/mailbox/([0-9a-f]{32})", page.url).group(1)
    refused = page.request.post(f"{b.url}/console/mailbox/{message_id}/take", form={"note": "x"})
    assert refused.status == 403 and "token" in refused.text()
    forged = page.request.post(f"{b.url}/console/mailbox/{message_id}/take", form={"csrf": "forged"})
    assert forged.status == 403
    page.goto(f"{b.url}/console/mailbox/{message_id}")
    assert page.locator("button:has-text('Take over')").count() == 1        # nothing was taken over
    page.context.close()
