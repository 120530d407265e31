"""End to end over mutual TLS: two `gateway serve` processes serve HTTPS with certificates
made here, demand client certificates from a test CA, present their own per-partner client
certificate and pin the other's (`options.client_cert_sha256`); over HTTP and over SOAP.

Checked: the civil-status application goes A -> B and back with signed receipts (which also
proves the pin matched, because B refuses A's messages over any other client cert); a
client without a certificate gets a clear 403 (`client-certificate-required`, a SOAP fault on
/soap) on every route; one with a certificate from another CA fails the handshake; a client
with a certificate
from the right CA but not the pinned one gets a negative receipt (1201) naming the pin and
nothing is stored; a partner server whose certificate A does not trust leaves the message
in `retry_wait` with a `tls-certificate` error.
"""
from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest
import requests
from exchange_pair import OFFICE, PORTAL, pair_tables
from gateways import Process
from lxml import etree
from peer_double import free_port
from test_two_gateways import Forger, record_file
from tlscerts import TestCA

from gateway.crypto import tls
from gateway.exchange.receipts import read

ROGUE = "ags:09162099"   # a partner whose HTTPS server shows a certificate A does not trust


class RogueServer:
    """A TLS listener with a certificate from a CA nobody trusts; counts handshake attempts."""

    def __init__(self, pair):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(pair.cert), str(pair.key))
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.attempts = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.attempts += 1
            try:
                with self.ctx.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module", params=["http", "soap"])
def mtls(request, tmp_path_factory):
    """(A, B, pki): both gateways on HTTPS with mandatory, pinned client certificates."""
    transport = request.param
    path = "/soap" if transport == "soap" else ""
    root = tmp_path_factory.mktemp(f"e2e-mtls-{transport}")
    pki_dir = root / "pki"
    pki_dir.mkdir()
    ca = TestCA(pki_dir, "Partner TLS CA")
    rogue_ca = TestCA(pki_dir, "Rogue CA")
    certs = {
        "a_server": ca.issue("a-server", "portal.test", server=True),
        "b_server": ca.issue("b-server", "standesamt.test", server=True),
        "a_client": ca.issue("a-client", PORTAL, server=False),
        "b_client": ca.issue("b-client", OFFICE, server=False),
        "intruder": ca.issue("intruder", "ags:01001000", server=False),
        "rogue_server": rogue_ca.issue("rogue-server", "rogue.test", server=True),
    }
    rogue = RogueServer(certs["rogue_server"])
    pa, pb = free_port(), free_port()
    raw_a, raw_b = pair_tables(root, transport=transport, endpoint_a=f"https://127.0.0.1:{pa}{path}",
                               endpoint_b=f"https://127.0.0.1:{pb}{path}")
    for raw, me, other, other_id in ((raw_a, "a", "b", OFFICE), (raw_b, "b", "a", PORTAL)):
        raw["server"].update(tls_cert=str(certs[f"{me}_server"].cert), tls_key=str(certs[f"{me}_server"].key),
                             client_ca=str(ca.pem), require_client_cert=True)
        # a long first backoff: a failed attempt stays visible in retry_wait
        raw["delivery"].update(ca_file=str(ca.pem), backoff_initial=120, max_attempts=5)
        partner = raw["partners"][other_id]
        partner.update(client_cert=str(certs[f"{me}_client"].cert), client_key=str(certs[f"{me}_client"].key),
                       options={"client_cert_sha256": tls.fingerprint(certs[f"{other}_client"].der)})
    raw_a["partners"][ROGUE] = {**raw_a["partners"][OFFICE], "name": "Falsches Amt",
                                "endpoints": [f"https://127.0.0.1:{rogue.port}{path}"], "options": {}}
    a = Process(root / "a", raw_a, pa)
    try:
        b = Process(root / "b", raw_b, pb)
    except BaseException:
        a.stop()
        rogue.close()
        raise
    yield a, b, {"ca": ca, "rogue": rogue, **certs}
    codes = (b.stop(), a.stop())
    rogue.close()
    assert codes == (0, 0), "graceful shutdown must exit 0"


def api(gw, pki, path: str, who: str) -> dict:
    """GET an /api path of `gw` over mutual TLS with the client certificate `who`."""
    pair = pki[who]
    reply = requests.get(f"{gw.url}/api{path}", headers={"Authorization": f"Bearer {gw.token}"},
                         verify=str(pki["ca"].pem), cert=(str(pair.cert), str(pair.key)), timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def send(gw, type_id: str, to: str, *, wait: bool = True, **changes) -> tuple[str, str, str]:
    """`gateway send` on `gw`; returns (id, message uuid, last output line)."""
    args = ["send", type_id, str(record_file(gw.folder, type_id, **changes)), "--to", to]
    done = gw.cli(*args, *(["--wait", "--timeout", "60"] if wait else []))
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    msg_id, message_uuid, _ = lines[0].split("\t")
    return msg_id, message_uuid, lines[-1]


def inbound_state(gw, pki, message_uuid: str, who: str) -> dict:
    pair = pki[who]
    reply = requests.get(f"{gw.url}/messages/{message_uuid}", verify=str(pki["ca"].pem),
                         cert=(str(pair.cert), str(pair.key)), timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_both_gateways_serve_https_and_publish_an_https_url(mtls):
    a, b, _ = mtls
    assert a.url.startswith("https://127.0.0.1:") and b.url.startswith("https://127.0.0.1:")


def test_civil_status_application_and_answer_over_mutual_tls(mtls):
    a, b, pki = mtls
    app_id, application, last = send(a, "personenstand.urkundenantrag.0100", OFFICE)
    assert "acknowledged" in last, last
    # B accepted it although it pins A's client certificate: A presented it
    assert inbound_state(b, pki, application, "a_client") == {
        "message_uuid": application, "state": "verified", "receipt": True}
    detail = api(a, pki, f"/messages/{app_id}", "a_client")
    assert detail["state"] == "acknowledged"
    assert [r["positive"] for r in detail["receipts"]] == [True]
    answer_id, answer, last = send(b, "personenstand.urkundenantragAntwort.0101", PORTAL,
                                   referenzUUID=application)
    assert "acknowledged" in last, last
    assert inbound_state(a, pki, answer, "b_client")["state"] == "verified"
    assert api(b, pki, f"/messages/{answer_id}", "b_client")["receipts"][0]["positive"] is True


def test_a_client_without_certificate_is_refused_with_a_clear_answer(mtls):
    a, b, pki = mtls
    xml, message_uuid = Forger(a).message("korrespondenz.schreiben.0200", OFFICE)
    ca = str(pki["ca"].pem)
    reply = requests.post(f"{b.url}/messages", data=xml, headers={"Content-Type": "application/xml"},
                          verify=ca, timeout=10)
    assert reply.status_code == 403
    assert reply.json()["code"] == "client-certificate-required"
    assert "TLS client certificate" in reply.json()["reason"]
    soap = requests.post(f"{b.url}/soap", data=b"<x/>", headers={"Content-Type": "application/soap+xml"},
                         verify=ca, timeout=10)
    assert soap.status_code == 400 and b"gw:client-certificate-required" in soap.content
    for path in ("/health", "/api/partners", f"/messages/{message_uuid}"):
        assert requests.get(f"{b.url}{path}", verify=ca, timeout=10).status_code == 403, path
    # nothing arrived: the message is unknown at B
    known = requests.get(f"{b.url}/messages/{message_uuid}", verify=ca,
                         cert=(str(pki["a_client"].cert), str(pki["a_client"].key)), timeout=10)
    assert known.status_code == 404


def test_a_client_certificate_from_another_ca_fails_the_handshake(mtls, tmp_path):
    _, b, pki = mtls
    stranger = TestCA(tmp_path, "Stranger CA").issue("stranger", PORTAL, server=False)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{b.url}/health", verify=str(pki["ca"].pem), cert=(str(stranger.cert), str(stranger.key)),
                     timeout=10)


def test_a_client_certificate_from_the_ca_but_not_pinned_is_refused_by_the_pin(mtls):
    a, b, pki = mtls
    forger = Forger(a)   # a correctly signed message of A ...
    xml, message_uuid = forger.message("korrespondenz.schreiben.0200", OFFICE)
    intruder = pki["intruder"]   # ... delivered with a client cert B does not pin for A
    reply = requests.post(f"{b.url}/messages", data=xml, headers={"Content-Type": "application/xml"},
                          verify=str(pki["ca"].pem), cert=(str(intruder.cert), str(intruder.key)), timeout=10)
    assert reply.status_code == 200 and reply.headers["X-Receipt"] == "negative"
    info = forger.verify_receipt(reply.content, message_uuid)
    assert not info.accepted and info.codes == ("1201",)
    assert f"not one of {PORTAL}'s" in read(etree.fromstring(reply.content)).feedback[0].text
    status = requests.get(f"{b.url}/messages/{message_uuid}", verify=str(pki["ca"].pem),
                          cert=(str(pki["a_client"].cert), str(pki["a_client"].key)), timeout=10)
    assert status.status_code == 404, "a message refused by the pin is never stored"
    # the same bytes with A's own client certificate are accepted
    good = requests.post(f"{b.url}/messages", data=xml, headers={"Content-Type": "application/xml"},
                         verify=str(pki["ca"].pem), cert=(str(pki["a_client"].cert), str(pki["a_client"].key)),
                         timeout=10)
    assert good.headers["X-Receipt"] == "positive"


def test_an_untrusted_partner_server_certificate_leaves_the_message_in_retry_wait(mtls):
    a, _, pki = mtls
    msg_id, _, _ = send(a, "korrespondenz.schreiben.0200", ROGUE, wait=False)
    deadline = time.monotonic() + 30
    detail = api(a, pki, f"/messages/{msg_id}", "a_client")
    while detail["state"] != "retry_wait" and time.monotonic() < deadline:
        time.sleep(0.3)
        detail = api(a, pki, f"/messages/{msg_id}", "a_client")
    assert detail["state"] == "retry_wait", detail
    assert pki["rogue"].attempts >= 1
    error = detail["last_error"]
    assert "certificate" in error.lower() and "verify failed" in error.lower(), error
    assert f"127.0.0.1:{pki['rogue'].port}" in error
    assert "retry in" in detail["timeline"][-1]["detail"]


def test_require_client_cert_without_client_ca_refuses_to_start(tmp_path):
    from gateway import bootstrap
    from gateway import config as cfg
    from gateway.errors import ConfigError

    config = cfg.from_dict({"server": {"tls_cert": "s.pem", "tls_key": "s.key", "require_client_cert": True}},
                           base_dir=tmp_path)
    with pytest.raises(ConfigError, match="require_client_cert needs client_ca"):
        bootstrap.server_ssl(config)


async def test_our_adapters_without_a_client_certificate_are_refused_not_retried(mtls):
    """What a misconfigured sender (no client_cert for this partner) sees: Refused with the reason."""
    from adapters.http import HttpSender
    from adapters.soap import SoapSender
    from gateway import config as cfg
    from gateway.errors import Refused
    from gateway.ports import ClientSettings, Outgoing

    _, b, pki = mtls
    ctx = tls.client_context(ca_file=pki["ca"].pem)
    soap = cfg.load(b.config).partners[PORTAL].transport == "soap"
    sender = (SoapSender if soap else HttpSender)(ClientSettings(timeout=10, ssl_for=lambda partner: ctx))
    msg = Outgoing(message_id="m1", message_uuid="uuid-1", message_type="korrespondenz.schreiben.0200",
                   partner_id=PORTAL, endpoint=b.url + ("/soap" if soap else ""), xml=b"<nachricht/>")
    try:
        with pytest.raises(Refused) as info:
            await sender.send(msg)
    finally:
        await sender.aclose()
    assert info.value.code == ("soap-client-certificate-required" if soap else "http-403")
    assert "TLS client certificate" in str(info.value)
