"""The console's pure parts: login throttle, language choice and label completeness, record
views from the schema (labels, code names, IBAN mask, attachments), the answer form's
checks, the XML view and the units' matching rules."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.console import i18n
from gateway.console.answers import AnswerForm, answer_record
from gateway.console.record_view import RecordView, label_of, mask_iban
from gateway.console.throttle import LoginThrottle
from gateway.console.xml_view import tokens
from gateway.errors import MessageError
from gateway.mapping import Authority, Registry

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "gateway" / "console" / "templates"


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


def example(type_id: str) -> dict:
    return json.loads((ROOT / "examples" / f"{type_id}.json").read_text())


def test_throttle_locks_after_failures_and_unlocks_after_the_lock_time():
    now = [0.0]
    throttle = LoginThrottle(3, 60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.locked("user:a", "addr:1") == 0
        throttle.failed("user:a", "addr:1")
    assert throttle.locked("user:a") == pytest.approx(60)
    assert throttle.locked("addr:1") == pytest.approx(60)
    assert throttle.locked("user:b", "addr:2") == 0
    now[0] = 59
    assert throttle.locked("user:a") == pytest.approx(1)
    now[0] = 61
    assert throttle.locked("user:a", "addr:1") == 0
    throttle.failed("user:a")
    throttle.succeeded("user:a")
    assert throttle.locked("user:a") == 0


def test_throttle_memory_is_bounded():
    throttle = LoginThrottle(3, 60, clock=lambda: 0.0, max_keys=100)
    for i in range(500):
        throttle.failed(f"addr:{i}")
    assert len(throttle._seen) <= 100


@pytest.mark.parametrize("cookie, header, expected", [
    (None, "en-US,en;q=0.9,de;q=0.8", "en"), (None, "de-DE,de;q=0.9,en;q=0.8", "de"),
    (None, "fr-FR,en;q=0.5,de;q=0.7", "de"), (None, "fr", "de"), (None, None, "de"),
    ("en", "de", "en"), ("xx", "en", "en"),
])
def test_language_choice(cookie, header, expected):
    assert i18n.choose(cookie, header) == expected


def test_every_label_used_in_a_template_exists_in_both_languages():
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(["']([a-z_]+)["']\s*[,)]""", path.read_text()))
    used |= {"dir_in", "dir_out", "done_retry", "done_cancel", "confirm_retry", "confirm_cancel", "retry", "cancel"}
    assert used - set(i18n.TEXTS) == set()
    assert all(len(pair) == 2 and all(pair) for pair in i18n.TEXTS.values())


def test_the_application_is_rendered_from_its_schema(registry):
    record = example("personenstand.urkundenantrag.0100")
    plan = registry.get("personenstand.urkundenantrag.0100").plan
    fields = {f.key: f for f in RecordView(plan, registry.codelists).fields(record)}
    assert fields["antragsteller"].label == "Person, die die Urkunde beantragt"
    assert fields["urkundenart"].value == "GEB – Geburtsurkunde"
    sepa = {c.key: c.value for c in fields["sepaLastschrift"].children}
    assert sepa["iban"] == "•" * 18 + "3000" and "DE89" not in json.dumps([sepa])
    kennung = next(c for c in fields["nachrichtenkopfG2g"].children[0].children if c.key == "kennung")
    assert kennung.label == "Kennung der Behörde im Verzeichnisdienst"      # the ", z. B. ..." is no label


def test_every_shipped_type_has_a_view(registry):
    for path in (ROOT / "examples").glob("*.json"):
        type_id = path.stem
        fields = RecordView(registry.get(type_id).plan, registry.codelists).fields(example(type_id))
        assert fields and all(f.label for f in fields), type_id


def test_attachments_are_found_with_their_content(registry):
    view = RecordView(registry.get("korrespondenz.schreiben.0200").plan, registry.codelists)
    view.fields(example("korrespondenz.schreiben.0200"))
    first, second = view.attachments
    assert first.name == "stellungnahme-tiefbauamt.txt" and first.content.startswith(b"Stellungnahme")
    assert second.content is None and second.reference.startswith("https://")


def test_labels_and_masks():
    assert mask_iban("DE89 3704 0044 0532 0130 00") == "•" * 18 + "3000"
    assert mask_iban("123") == "123"

    class Plan:
        name, doc = "anzahlExemplare", ""
        type = type("T", (), {"doc": ""})
    assert label_of(Plan) == "Anzahl exemplare"


def test_answer_record_accepts_and_refuses_and_names_bad_fields():
    authority = Authority("psw:09162000", "Standesamt München")
    accepted = answer_record(AnswerForm("accept", "12,5", "2026-12-09"), reference_uuid="u", authority=authority)
    assert accepted["annahme"] == {"gebuehr": {"value": "12.50"}, "versanddatum": "2026-12-09"}
    assert accepted["standesamt"]["kennung"] == "psw:09162000" and accepted["referenzUUID"] == "u"
    refused = answer_record(AnswerForm("refuse", reason="02", text="nicht hier"), reference_uuid="u",
                            authority=authority, reasons={"01", "02"})
    assert refused["ablehnung"] == {"grund": {"code": "02"}, "begruendung": "nicht hier"}
    for form, field in ((AnswerForm("accept", "12 Euro", "2026-12-09"), "fee"),
                        (AnswerForm("accept", "12", "9.12.2026"), "dispatch"),
                        (AnswerForm("refuse", reason="77", text="x"), "reason"),
                        (AnswerForm("refuse", reason="02", text=" "), "text"),
                        (AnswerForm("maybe"), "decision")):
        with pytest.raises(MessageError, match=field):
            answer_record(form, reference_uuid="u", authority=authority, reasons={"01", "02"})


def test_xml_view_indents_and_keeps_text_as_text():
    found = tokens(b'<a x="1"><b>t &lt;script&gt;</b><!-- c --></a>')
    assert ("tag", "<a") in found and ("attr", " x=") in found and ("value", '"1"') in found
    assert ("text", "t &lt;script&gt;") in found and ("comment", "<!-- c -->") in found
    assert ("text", "\n  ") in found                                        # indented
    assert tokens(b"not xml <b>")[0][1].startswith("not xml")              # shown as stored


def test_a_type_we_do_not_know_is_shown_as_its_element_tree():
    from lxml import etree

    from gateway.console.record_view import tree_fields
    root = etree.fromstring(
        b'<x:nachricht xmlns:x="urn:other" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        b'<kopf><absender>ags:1</absender></kopf><kontoIBAN>DE89370400440532013000</kontoIBAN>'
        b'<text>&lt;script&gt;</text><ds:Signature/></x:nachricht>')
    fields = tree_fields(root)
    assert [f.key for f in fields] == ["kopf", "kontoIBAN", "text"]
    assert fields[0].children[0].label == "Absender" and fields[0].children[0].value == "ags:1"
    assert fields[1].value.endswith("3000") and "DE89" not in fields[1].value
    assert fields[2].value == "<script>"                  # text, escaped by the template
