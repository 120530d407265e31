"""End to end with content encryption (issue 17): two `gateway serve` processes whose partner
entries say `encrypt = true` exchange the citizen's application over HTTP and SOAP (through a
recording TCP relay: the bytes on the wire), through a drop folder (the file a partner leaves)
and an XTA 2 mailbox (tests/e2e/test_xta_e2e.py's fake provider). Nowhere is the citizen's
personal data readable; the receiver decrypts, verifies, stores the decrypted message for
processing and the encrypted one as evidence. Refused with a negative receipt: a message
encrypted for another recipient, a tampered GCM tag, a downgrade to AES-CBC ("cannot decrypt",
audited) and a message in clear from a partner that must encrypt."""
from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography import x509
from exchange_pair import OFFICE, PORTAL, pair_tables
from gateways import GATEWAY, Process, toml
from lxml import etree
from peer_double import free_port
from support.xta_fake import FakeProvider

from gateway import config as cfg
from gateway.crypto import devca
from gateway.crypto import encryption as enc
from gateway.exchange.receipts import read
from gateway.model import Direction
from gateway.store import Store
from tests.e2e.test_two_gateways import EXAMPLES, Forger, post, send

APPLICATION = "personenstand.urkundenantrag.0100"
XTA_SERVICE = "urn:xoev-de:xpersonenstand:test:antrag"


def personal_data() -> list[bytes]:
    """Names, birth data and address of the example application's applicant and child."""
    record = json.loads((EXAMPLES / f"{APPLICATION}.json").read_text())
    record.pop("nachrichtenkopfG2g", None)
    found: list[bytes] = []

    def walk(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and len(value) >= 4 and any(
                word in key.lower() for word in ("name", "geburt", "strasse", "ort", "vorname")):
            found.append(value.encode())
    walk(record)
    assert len(found) >= 3, found
    return found


PERSONAL = personal_data()


def assert_no_personal_data(data: bytes, where: str) -> None:
    leaked = [p.decode() for p in PERSONAL if p in data]
    assert not leaked, f"personal data readable in {where}: {leaked}"


def readable(wire: bytes) -> bytes:
    """The bytes as sent plus every base64 run in them decoded (SOAP carries the message as
    base64, which must not count as hiding anything)."""
    decoded = []
    for run in re.findall(rb"[A-Za-z0-9+/=\r\n]{64,}", wire):
        run = re.sub(rb"\s", b"", run)
        try:
            decoded.append(base64.b64decode(run[: len(run) // 4 * 4]))
        except ValueError:
            pass
    return wire + b"".join(decoded)


def with_encryption(raw: dict, other: str, other_dir: Path) -> dict:
    """raw with `encrypt = true` and the other side's encryption certificate for `other`."""
    partner = raw["partners"][other]
    partner["encrypt"] = True
    partner["encryption_certificates"] = [str(other_dir / "data" / "keys" / "encryption.cert.pem")]
    return raw


class Relay:
    """A TCP relay on 127.0.0.1 that forwards to a port and records every byte both ways."""

    def __init__(self, target_port: int):
        self.target = target_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.seen = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while data := src.recv(65536):
                with self.lock:
                    self.seen += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.server.close()


@pytest.fixture(scope="module", params=["http", "soap"])
def pair(request, tmp_path_factory):
    """(A, B, relay to B): serve processes that encrypt for each other, A reaching B via the relay."""
    transport = request.param
    root = tmp_path_factory.mktemp(f"enc-{transport}")
    pa, pb = free_port(), free_port()
    relay = Relay(pb)
    path = "/soap" if transport == "soap" else ""
    raw_a, raw_b = pair_tables(root, transport=transport, endpoint_a=f"http://127.0.0.1:{pa}{path}",
                               endpoint_b=f"http://127.0.0.1:{relay.port}{path}")
    a = Process(root / "a", with_encryption(raw_a, OFFICE, root / "b"), pa)
    try:
        b = Process(root / "b", with_encryption(raw_b, PORTAL, root / "a"), pb)
    except BaseException:
        a.stop()
        raise
    yield a, b, relay
    relay.close()
    assert (b.stop(), a.stop()) == (0, 0)


def stored(gw, message_uuid: str):
    """B's inbound message, its payload and its receipts-table records, read from its store."""
    async def run():
        store = await Store.from_config(cfg.load(gw.config), upgrade=False)
        try:
            msg = await store.find(Direction.IN, message_uuid)
            return msg, await store.payload(msg.id), await store.receipts(msg.id)
        finally:
            await store.aclose()
    return asyncio.run(run())


def audited(gw, event: str) -> list[dict]:
    async def run():
        store = await Store.from_config(cfg.load(gw.config), upgrade=False)
        try:
            return [e.details async for e in store.audit_entries() if e.event == event]
        finally:
            await store.aclose()
    return asyncio.run(run())


def test_application_travels_encrypted_and_arrives_decrypted_and_verified(pair):
    a, b, relay = pair
    _, message_uuid = send(a, APPLICATION, OFFICE)
    wire = readable(bytes(relay.seen))
    assert b"EncryptedData" in wire and b"aes256-gcm" in wire
    assert_no_personal_data(wire, "the bytes on the wire")
    msg, payload, records = stored(b, message_uuid)
    assert msg.state.value == "verified"
    assert all(p in payload for p in PERSONAL) and b"<ds:Signature" in payload   # for processing
    (evidence,) = [r for r in records if r.kind == "encrypted"]
    assert etree.fromstring(evidence.xml).tag == f"{{{enc.XENC}}}EncryptedData"
    assert_no_personal_data(evidence.xml, "the stored evidence")
    (receipt,) = [r for r in records if r.kind == "receipt-sent"]
    assert b"EncryptedData" not in receipt.xml                           # receipts: signed, not encrypted


def _refusal(a, b, xml: bytes, uuid: str) -> tuple[str, str]:
    reply = post(b, xml)
    info = Forger(a).verify_receipt(reply.content, uuid)
    assert not info.accepted
    (feedback,) = info.feedback
    return feedback.code, feedback.text


def _encrypted(a, b, recipient: x509.Certificate | None = None):
    forger = Forger(a)
    signed, uuid = forger.message(APPLICATION, OFFICE)
    cert = recipient or x509.load_pem_x509_certificates(
        (b.folder / "data" / "keys" / "encryption.cert.pem").read_bytes())[0]
    root = etree.fromstring(signed)
    routing = {"root": etree.QName(root).localname, "uuid": uuid, "author": PORTAL, "reader": OFFICE,
               "type": root.findtext("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp/code")}
    return enc.encrypt(signed, cert, routing=routing), uuid


def test_other_recipient_tampered_tag_and_cbc_downgrade_say_only_cannot_decrypt(pair):
    a, b, _ = pair
    now = datetime.now(timezone.utc)
    ca = devca.make_ca("CN=Elsewhere", now=now)
    other = devca.make_identity(ca, "CN=Another office", now=now, kind="rsa", encryption=True).cert
    for_other, uuid_other = _encrypted(a, b, other)

    tampered, uuid_tag = _encrypted(a, b)
    root = etree.fromstring(tampered)
    value = root.find("xenc:CipherData/xenc:CipherValue", enc._NS)
    raw = bytearray(base64.b64decode(value.text))
    raw[-1] ^= 1
    value.text = base64.b64encode(bytes(raw)).decode()
    tampered = etree.tostring(root)

    cbc, uuid_cbc = _encrypted(a, b)
    root = etree.fromstring(cbc)
    root.find("xenc:EncryptionMethod", enc._NS).set("Algorithm", enc.XENC + "aes256-cbc")
    cbc = etree.tostring(root)

    for xml, uuid in ((for_other, uuid_other), (tampered, uuid_tag), (cbc, uuid_cbc)):
        assert _refusal(a, b, xml, uuid) == ("1103", "cannot decrypt")
    reasons = {d["message_uuid"]: d["reason"] for d in audited(b, "message.undecryptable")}
    assert "not ours" in reasons[uuid_other]
    assert "GCM tag" in reasons[uuid_tag]
    assert "aes256-cbc is not allowed" in reasons[uuid_cbc]


def test_partner_that_must_encrypt_sending_in_clear_is_refused(pair):
    a, b, _ = pair
    signed, uuid = Forger(a).message(APPLICATION, OFFICE)
    code, text = _refusal(a, b, signed, uuid)
    assert code == "1104" and "arrived in clear" in text

    async def nothing_stored():
        store = await Store.from_config(cfg.load(b.config), upgrade=False)
        try:
            return await store.find(Direction.IN, uuid)
        finally:
            await store.aclose()
    assert asyncio.run(nothing_stored()) is None


def test_drop_folder_file_is_encrypted_and_picked_up(tmp_path_factory):
    """A signs and encrypts with `gateway sign` / `gateway encrypt --partner`, leaves the file in
    the shared folder; B's `gateway serve` polls it, decrypts, verifies and stores it."""
    root = tmp_path_factory.mktemp("enc-folder")
    pa, pb = free_port(), free_port()
    share = root / "share"
    share.mkdir()
    raw_a, raw_b = pair_tables(root, transport="http", endpoint_a=f"http://127.0.0.1:{pa}",
                               endpoint_b=f"http://127.0.0.1:{pb}")
    raw_b = with_encryption(raw_b, PORTAL, root / "a")
    raw_b["folders"] = {"source": {"from-portal": {"path": str(share)}}}
    raw_b["scheduler"] = {"poll_interval": 0.2, "certificates_time": ""}
    a_dir = root / "a"
    (a_dir / "gateway.toml").write_text(toml(with_encryption(raw_a, OFFICE, root / "b")))
    b = Process(root / "b", raw_b, pb)
    try:
        a = type("A", (), {"config": a_dir / "gateway.toml", "folder": a_dir})()
        signed, uuid = Forger(a).message(APPLICATION, OFFICE)
        (a_dir / "signed.xml").write_bytes(signed)
        cli = subprocess.run(
            [*GATEWAY, "--config", str(a_dir / "gateway.toml"), "encrypt",
             str(a_dir / "signed.xml"), "--partner", OFFICE, "-o", str(root / "out.xml")],
            capture_output=True, text=True, timeout=120)
        assert cli.returncode == 0, cli.stderr
        dropped = (root / "out.xml").read_bytes()
        assert_no_personal_data(dropped, "the file in the shared folder")
        (root / "out.xml").rename(share / "antrag.xml")
        deadline = time.monotonic() + 60
        while not (share / "done" / "antrag.xml").exists():
            assert time.monotonic() < deadline, (b.folder / "serve.log").read_text()[-3000:]
            time.sleep(0.2)
        assert (share / "done" / "antrag.xml").read_bytes() == dropped
        msg, payload, records = stored(b, uuid)
        assert msg.state.value == "verified" and all(p in payload for p in PERSONAL)
        assert [r.xml for r in records if r.kind == "encrypted"] == [dropped]
    finally:
        assert b.stop() == 0


@pytest.fixture
async def xta(reference_dir):
    """One fake XTA 2 provider (version 5.1.1) with a mailbox for each gateway."""
    async with FakeProvider(reference_dir, "5") as provider:
        for party in (PORTAL, OFFICE):
            provider.add_account(party)
            provider.offer(party, XTA_SERVICE)
        yield provider
        assert provider.rejected == []


async def test_application_travels_encrypted_through_the_xta_mailbox(xta, tmp_path):
    raw_a, raw_b = pair_tables(tmp_path, transport="xta", endpoint_a=xta.url("send"), endpoint_b=xta.url("send"))
    for raw, other, other_dir in ((raw_a, OFFICE, tmp_path / "b"), (raw_b, PORTAL, tmp_path / "a")):
        raw["scheduler"] = {"poll_interval": 0.2, "certificates_time": ""}
        raw["delivery"].update(drain_interval=0.2)
        raw["partners"][other]["options"] = {
            "version": xta.version, "wsdl": str(xta.wsdl), "send_endpoint": xta.url("send"),
            "mailbox_endpoint": xta.url("mailbox"), "management_endpoint": xta.url("management"),
            "business_scenario": "XPERSONENSTAND_TEST", "service": XTA_SERVICE}
        with_encryption(raw, other, other_dir)
    a = await asyncio.to_thread(Process, tmp_path / "a", raw_a, free_port())
    try:
        b = await asyncio.to_thread(Process, tmp_path / "b", raw_b, free_port())
        try:
            _, message_uuid = await asyncio.to_thread(send, a, APPLICATION, OFFICE)
            in_mailbox = [m.content for m in xta.sent.values()]
            assert sum(b"EncryptedData" in readable(c) for c in in_mailbox) == 1
            for content in in_mailbox:
                assert_no_personal_data(readable(content), "the XTA mailbox")
            msg, payload, records = await asyncio.to_thread(stored, b, message_uuid)
            assert msg.state.value == "verified" and all(p in payload for p in PERSONAL)
            assert [r.kind for r in records if r.kind == "encrypted"] == ["encrypted"]
        finally:
            assert await asyncio.to_thread(b.stop) == 0
    finally:
        assert await asyncio.to_thread(a.stop) == 0
