"""End to end: two `gateway serve` processes on 127.0.0.1 exchange messages over HTTP and
SOAP, each with its own store and keys, and sign/verify each other's receipts."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from exchange_pair import OFFICE, PORTAL, make_keys
from lxml import etree

from gateway import config as cfg
from gateway.crypto.keys import KeyRing
from gateway.crypto.signing import Signer, Verifier
from gateway.exchange.receipts import Receipts, read
from gateway.mapping import Authority, Registry, complete_record

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def record_file(folder: Path, type_id: str, **changes) -> Path:
    """An example record without reader (the gateway fills it from the directory)."""
    record = json.loads((EXAMPLES / f"{type_id}.json").read_text())
    record["nachrichtenkopfG2g"].pop("leser", None)
    record.update(changes)
    path = folder / f"{type_id}-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(record, ensure_ascii=False))
    return path


def send(gw, type_id: str, to: str, **changes) -> tuple[str, str]:
    """`gateway send --wait` on gateway `gw`; returns (id, message uuid) after checking it was acknowledged."""
    done = gw.cli("send", type_id, str(record_file(gw.folder, type_id, **changes)), "--to", to, "--wait",
                  "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    first, last = done.stdout.strip().splitlines()[0].split("\t"), done.stdout.strip().splitlines()[-1]
    assert "acknowledged" in last
    return first[0], first[1]


def inbound_state(gw, message_uuid: str) -> dict:
    reply = requests.get(f"{gw.url}/messages/{message_uuid}", timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def outbound(gw, msg_id: str) -> dict:
    reply = requests.get(f"{gw.url}/api/messages/{msg_id}", headers={"Authorization": f"Bearer {gw.token}"},
                         timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


class Forger:
    """Signs messages like gateway A would (or with someone else's key) to post by hand."""

    def __init__(self, gw, *, authority: str = PORTAL, folder: Path | None = None):
        config = cfg.load(gw.config)
        if folder is not None:  # another party with its own dev keys
            make_keys(folder, authority, "Fremde Behörde")
            config = cfg.from_dict({"gateway": {"data_dir": "data", "authority_id": authority}}, base_dir=folder)
        self.registry = Registry.load()
        self.signer = Signer.from_config(config, KeyRing.from_config(config))
        self.authority = Authority(authority, "Bürgerportal")
        self.a_config = cfg.load(gw.config)

    def message(self, type_id: str, to: str) -> tuple[bytes, str]:
        record = json.loads((EXAMPLES / f"{type_id}.json").read_text())
        record["nachrichtenkopfG2g"] = {"leser": {"verzeichnisdienst": {"code": "DVDV"}, "kennung": to,
                                                  "name": "Standesamt"}}
        now = datetime.now(timezone.utc)
        record = complete_record(self.registry.get(type_id).plan, type_id, record, authority=self.authority, now=now)
        root = self.registry.build(type_id, record)
        xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        return self.signer.sign(xml, now=now), root.findtext(".//nachrichtenUUID")

    def verify_receipt(self, xml: bytes, refers_to: str):
        """Verify B's receipt with A's trust (A trusts B)."""
        receipts = Receipts(self.registry, self.signer, Verifier.from_config(self.a_config), self.authority)
        return receipts.verify(xml, partner=OFFICE, refers_to=refers_to, now=datetime.now(timezone.utc))


def post(gw, xml: bytes) -> requests.Response:
    return requests.post(f"{gw.url}/messages", data=xml, headers={"Content-Type": "application/xml"}, timeout=30)


def test_civil_status_application_and_answer_back(gateways):
    a, b = gateways
    _, application = send(a, "personenstand.urkundenantrag.0100", OFFICE)
    assert inbound_state(b, application) == {"message_uuid": application, "state": "verified", "receipt": True}
    answer_id, answer = send(b, "personenstand.urkundenantragAntwort.0101", PORTAL, referenzUUID=application)
    assert inbound_state(a, answer)["state"] == "verified"
    detail = outbound(b, answer_id)
    assert detail["state"] == "acknowledged"
    assert [r["positive"] for r in detail["receipts"]] == [True]


def test_letter_with_attachments(gateways):
    a, b = gateways
    msg_id, letter = send(a, "korrespondenz.schreiben.0200", OFFICE)
    assert inbound_state(b, letter)["state"] == "verified"
    assert outbound(a, msg_id)["receipts"][0]["positive"] is True


def test_file_hand_over(gateways):
    a, b = gateways
    _, handover = send(a, "akte.abgabe.0300", OFFICE)
    assert inbound_state(b, handover)["state"] == "verified"


def test_duplicate_is_acknowledged_again_and_receipt_verifies_at_the_sender(gateways):
    a, b = gateways
    forger = Forger(a)
    xml, message_uuid = forger.message("korrespondenz.schreiben.0200", OFFICE)
    first, again = post(b, xml), post(b, xml)
    assert first.status_code == again.status_code == 200
    assert first.headers["X-Receipt"] == again.headers["X-Receipt"] == "positive"
    info = forger.verify_receipt(again.content, message_uuid)
    assert info.accepted and info.codes == ("0000",)
    changed = xml.replace(b"</betreff>", b" (neu)</betreff>")
    # same UUID, different (re-signed) content: rejected with 1300
    resigned = forger.signer.sign(_unsigned(changed), now=datetime.now(timezone.utc))
    conflict = post(b, resigned)
    assert conflict.headers["X-Receipt"] == "negative"
    assert forger.verify_receipt(conflict.content, message_uuid).codes == ("1300",)


def _unsigned(xml: bytes) -> bytes:
    root = etree.fromstring(xml)
    for sig in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        root.remove(sig)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_wrong_signature_is_rejected(gateways):
    a, b = gateways
    forger = Forger(a)
    xml, message_uuid = forger.message("korrespondenz.schreiben.0200", OFFICE)
    reply = post(b, xml.replace(b"</betreff>", b" manipuliert</betreff>"))
    assert reply.headers["X-Receipt"] == "negative"
    info = forger.verify_receipt(reply.content, message_uuid)
    assert not info.accepted and info.codes == ("1100",)
    assert requests.get(f"{b.url}/messages/{message_uuid}", timeout=10).status_code == 404


def test_key_not_trusted_for_the_claimed_partner_is_rejected(gateways, tmp_path):
    a, b = gateways
    forger = Forger(a, authority=PORTAL, folder=tmp_path)  # claims to be A, signs with another key
    xml, message_uuid = forger.message("korrespondenz.schreiben.0200", OFFICE)
    reply = post(b, xml)
    assert reply.headers["X-Receipt"] == "negative"
    assert read(etree.fromstring(reply.content)).codes == ("1101",)
    assert requests.get(f"{b.url}/messages/{message_uuid}", timeout=10).status_code == 404


def test_unknown_partner_is_rejected(gateways, tmp_path):
    a, b = gateways
    forger = Forger(a, authority="ags:01001000", folder=tmp_path)
    xml, message_uuid = forger.message("korrespondenz.schreiben.0200", OFFICE)
    reply = post(b, xml)
    assert reply.headers["X-Receipt"] == "negative"
    assert read(etree.fromstring(reply.content)).codes == ("1201",)
    assert requests.get(f"{b.url}/messages/{message_uuid}", timeout=10).status_code == 404


def test_zeep_client_from_the_served_wsdl(gateways):
    import zeep

    a, b = gateways
    forger = Forger(a)
    xml, message_uuid = forger.message("akte.beteiligung.0301", OFFICE)
    client = zeep.Client(f"{b.url}/soap?wsdl")
    result = client.service.deliverMessage(message=xml)
    assert result.accepted is True and result.messageUUID == message_uuid
    assert forger.verify_receipt(result.receipt, message_uuid).accepted
    status = client.service.getMessageStatus(messageUUID=message_uuid)
    assert status.state == "verified" and status.receipt == result.receipt
    with pytest.raises(zeep.exceptions.Fault) as info:
        client.service.getMessageStatus(messageUUID="no-such-message")
    assert "no message" in info.value.message


def test_partners_command_lists_the_directory(gateways):
    a, _ = gateways
    done = a.cli("partners", "--check")
    assert done.returncode == 0, done.stderr
    assert OFFICE in done.stdout and "Standesamt" in done.stdout
