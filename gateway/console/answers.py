"""Answers a clerk sends from the mailbox. Today one: the registry office's answer to a
birth-certificate application (personenstand.urkundenantrag.0100 ->
personenstand.urkundenantragAntwort.0101), accepted with fee and dispatch date or refused
with a reason code and a text. The answer is submitted like any other message (built,
validated, signed, stored, delivered by the outbox) with client "console" and client_ref
"answer:<message id>", so a second click answers nothing twice."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from ..errors import MessageError

APPLICATION = "personenstand.urkundenantrag.0100"
ANSWER = "personenstand.urkundenantragAntwort.0101"
REASONS_LIST = "urn:xoev-gateway:codeliste:ablehnungsgrund"
CLIENT = "console"
_FEE = re.compile(r"\d{1,6}([.,]\d{1,2})?")


@dataclass(frozen=True, slots=True)
class AnswerForm:
    """What the clerk filled in (strings as posted)."""

    decision: str = ""          # accept | refuse
    fee: str = ""               # accept: euros, e.g. 12.00 or 12,00
    dispatch: str = ""          # accept: YYYY-MM-DD
    reason: str = ""            # refuse: a code of the ablehnungsgrund list
    text: str = ""              # refuse: the explanation for the applicant


def answerable(message_type: str) -> bool:
    """True when the console can answer messages of this type."""
    return message_type == APPLICATION


def client_ref(msg_id: str) -> str:
    """The client reference of the answer to message `msg_id` (one answer per message)."""
    return f"answer:{msg_id}"


def answer_record(form: AnswerForm, *, reference_uuid: str, authority, reasons=None) -> dict:
    """The answer's record; MessageError naming the form field on bad input.
    `authority` is the gateway's own (gateway.mapping.Authority); `reasons` the code list."""
    record: dict = {
        "referenzUUID": reference_uuid,
        "standesamt": {"verzeichnisdienst": {"code": authority.verzeichnisdienst},
                       "kennung": authority.kennung, "name": authority.name},
    }
    if form.decision == "accept":
        fee = form.fee.strip()
        if not _FEE.fullmatch(fee):
            raise MessageError("fee: write an amount in euros like 12.00")
        try:
            amount = Decimal(fee.replace(",", ".")).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise MessageError("fee: write an amount in euros like 12.00") from None
        try:
            dispatch = date.fromisoformat(form.dispatch.strip())
        except ValueError:
            raise MessageError("dispatch: write the dispatch date as YYYY-MM-DD") from None
        record["annahme"] = {"gebuehr": {"value": str(amount)}, "versanddatum": dispatch.isoformat()}
    elif form.decision == "refuse":
        code, text = form.reason.strip(), form.text.strip()
        if reasons is not None and code not in reasons:
            raise MessageError(f"reason: {code!r} is not a reason of the list {REASONS_LIST}")
        if not code:
            raise MessageError("reason: choose a reason")
        if not text:
            raise MessageError("text: explain the refusal to the applicant")
        record["ablehnung"] = {"grund": {"code": code}, "begruendung": text}
    else:
        raise MessageError("decision: accept or refuse")
    return record
