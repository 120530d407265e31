"""Transport receipts (`transport.quittung.0900`): built and signed for every message we
receive, verified for every message we send.

A receipt refers to the message it answers by `referenzUUID`, says `angenommen` (accepted)
or not, and carries feedback codes from the code list `rueckmeldung` (xsd/codelists). A
receipt counts only when its signature verifies against the trust of the partner we sent
to, its author is that partner, its reader is us, and it refers to our message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from lxml import etree

from ..errors import MessageError, SignatureError
from ..mapping import Authority, Registry, complete_record

RECEIPT_TYPE = "transport.quittung.0900"

# Feedback codes (code list urn:xoev-gateway:codeliste:rueckmeldung 1.0)
ACCEPTED = "0000"
NOT_XML = "1000"
SCHEMA = "1001"
CODELIST = "1002"
RULE = "1003"
SIGNATURE_INVALID = "1100"
SIGNER_UNTRUSTED = "1101"
NOT_SIGNED = "1102"
CANNOT_DECRYPT = "1103"          # an encrypted message we cannot decrypt (the text says only that)
NOT_ENCRYPTED = "1104"           # a partner with encrypt = true sent in clear
UNKNOWN_READER = "1200"
UNKNOWN_SENDER = "1201"
DUPLICATE_CONFLICT = "1300"
TYPE_UNSUPPORTED = "1301"
TECHNICAL = "9000"

#: Issue.check -> feedback code of a validation failure
CHECK_CODES = {"parse": NOT_XML, "schema": SCHEMA, "codelist": CODELIST, "rule": RULE,
               "schematron": RULE, "mapping": SCHEMA, "signature": SIGNATURE_INVALID}

_S = SignatureError
#: SignatureError.code -> feedback code of a refused signature (the one table; every code
#: has an entry, tests/unit/test_signature_codes.py checks it)
SIGNATURE_FEEDBACK = {
    _S.NOT_SIGNED: NOT_SIGNED,
    _S.MALFORMED: SIGNATURE_INVALID,
    _S.UNSAFE_ALGORITHM: SIGNATURE_INVALID,
    _S.INVALID: SIGNATURE_INVALID,
    _S.UNTRUSTED: SIGNER_UNTRUSTED,
    _S.EXPIRED: SIGNER_UNTRUSTED,
    _S.NOT_YET_VALID: SIGNER_UNTRUSTED,
    _S.REVOKED: SIGNER_UNTRUSTED,
    _S.REVOCATION_UNKNOWN: SIGNER_UNTRUSTED,
    _S.SIGNING_FAILED: TECHNICAL,
}


#: Feedback codes of a refusal before the signature was proven: they say that *a* copy
#: carrying our message's UUID failed, not that the partner judged our message.
COPY_REFUSED = frozenset({SIGNATURE_INVALID, SIGNER_UNTRUSTED, NOT_SIGNED, UNKNOWN_SENDER})


def settles(info: "ReceiptInfo", payload_digest: str) -> bool:
    """Whether a verified receipt settles our message whose payload has this SHA-256: a
    negative one only when it names exactly that digest (`referenzDigest`: the partner
    judged our message, not a forged copy of it that someone else sent under its UUID); a
    positive one unless it names another digest. The one rule for every receipt path
    (synchronous answer, asynchronous receipt message, late receipt)."""
    if info.digest:
        return info.digest == payload_digest
    return info.accepted


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def check_reference(message_uuid: str) -> None:
    """MessageError unless a receipt can refer to this message id (referenzUUID: a UUID in
    lowercase); said before anything else, instead of a schema error about our receipt."""
    if not UUID.fullmatch(message_uuid):
        raise MessageError(f"the message id (nachrichtenUUID) {message_uuid[:80]!r} is not a UUID in "
                           "lowercase (8-4-4-4-12 hexadecimal digits); no receipt can refer to it")


def signature_feedback(error: SignatureError) -> str:
    """The feedback code for a refused signature, from its machine-readable `code`."""
    return SIGNATURE_FEEDBACK.get(error.code, SIGNATURE_INVALID)


def is_receipt(message_type: str) -> bool:
    """True for a receipt (type id or root element name): a receipt settles the message it
    refers to and is never answered with a receipt, stored as a message or delivered."""
    return message_type == RECEIPT_TYPE


@dataclass(frozen=True, slots=True)
class Feedback:
    """One feedback entry of a receipt: code from `rueckmeldung` and an optional text."""

    code: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptInfo:
    """What a verified receipt says."""

    receipt_uuid: str
    refers_to: str
    accepted: bool
    feedback: tuple[Feedback, ...]
    author: str
    reader: str
    digest: str = ""                # referenzDigest: SHA-256 of the judged message, if named

    @property
    def codes(self) -> tuple[str, ...]:
        """The feedback codes, in order."""
        return tuple(f.code for f in self.feedback)

    def summary(self) -> str:
        """One line for a routing slip: positive/negative and the codes with their texts."""
        parts = [f"{f.code} {f.text}".strip() for f in self.feedback]
        return ("positive" if self.accepted else "negative") + (": " + "; ".join(parts) if parts else "")


class Receipts:
    """Builds signed receipts and verifies partners' receipts (keys and schemas loaded once)."""

    def __init__(self, registry: Registry, signer, verifier, authority: Authority):
        self.registry = registry
        self.signer = signer
        self.verifier = verifier
        self.authority = authority
        self._plan = registry.get(RECEIPT_TYPE).plan

    def build(self, *, refers_to: str, reader: str, reader_name: str, accepted: bool,
              feedback: tuple[Feedback, ...], received_at: datetime, now: datetime,
              digest: str = "") -> bytes:
        """A signed receipt for message `refers_to`, addressed to `reader`; `digest` (the
        judged message's SHA-256) only for a message whose signature was verified."""
        entries = [{"schluessel": {"code": f.code}, **({"text": f.text[:2000]} if f.text else {})}
                   for f in feedback] or [{"schluessel": {"code": ACCEPTED}}]
        record = {
            "nachrichtenkopfG2g": {"leser": {"verzeichnisdienst": {"code": "DVDV"}, "kennung": reader,
                                             "name": (reader_name or reader)[:200]}},
            "referenzUUID": refers_to,
            **({"referenzDigest": digest} if digest else {}),
            "angenommen": accepted,
            "rueckmeldung": entries,
            "empfangszeitpunkt": _iso(received_at),
        }
        record = complete_record(self._plan, RECEIPT_TYPE, record, authority=self.authority, now=now)
        root = self.registry.build(RECEIPT_TYPE, record)
        xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        return self.signer.sign(xml, now=now, partner=reader)

    def verify(self, xml: bytes, *, partner: str, refers_to: str, now: datetime) -> ReceiptInfo:
        """Verify a partner's receipt for our message; SignatureError or MessageError if it
        does not count (bad signature, wrong author, reader, type or reference)."""
        verified = self.verifier.verify(xml, partner=partner, now=now)
        info = read(verified.tree)
        if info.author != partner:
            raise SignatureError(f"receipt is from {info.author}, expected {partner}", code=SignatureError.UNTRUSTED)
        if info.reader != self.authority.kennung:
            raise MessageError(f"receipt is addressed to {info.reader}, not to us ({self.authority.kennung})")
        if info.refers_to != refers_to:
            raise MessageError(f"receipt refers to {info.refers_to}, expected {refers_to}")
        return info


def read(root: etree._Element) -> ReceiptInfo:
    """Read a (verified) receipt tree; MessageError naming what is missing."""
    if etree.QName(root).localname != RECEIPT_TYPE:
        raise MessageError(f"expected a {RECEIPT_TYPE}, got {etree.QName(root).localname}")
    head = root.find("nachrichtenkopf.g2g")

    def text(node, path: str) -> str:
        value = node.findtext(path) if node is not None else None
        if not value or not value.strip():
            raise MessageError(f"receipt: {path} is missing")
        return value.strip()

    feedback = tuple(Feedback(text(r, "schluessel/code"), (r.findtext("text") or "").strip())
                     for r in root.findall("rueckmeldung"))
    return ReceiptInfo(
        receipt_uuid=text(head, "identifikation.nachricht/nachrichtenUUID"),
        refers_to=text(root, "referenzUUID"),
        accepted=text(root, "angenommen") in ("true", "1"),
        feedback=feedback,
        author=text(head, "autor/kennung"),
        reader=text(head, "leser/kennung"),
        digest=(root.findtext("referenzDigest") or "").strip(),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
