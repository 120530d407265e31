"""Test helpers: adapter settings pointing at a fake provider, and sample messages."""
from __future__ import annotations

import uuid
from pathlib import Path

from adapters.xta import XtaSettings
from gateway.ports import Outgoing

AUTHOR = "ags:00000001"
READER = "ags:09000009"
SERVICE = "urn:xoev-de:xoev-gateway:test:service"
PAYLOAD_NS = "urn:example:xoev-gateway:antrag"


def settings_for(fake, account: str, **extra: str) -> XtaSettings:
    """Settings for `account` at `fake`, one endpoint per port role."""
    options = {
        "version": fake.version, "wsdl": str(fake.wsdl), "endpoint": fake.url("send"),
        "send_endpoint": fake.url("send"), "mailbox_endpoint": fake.url("mailbox"),
        "management_endpoint": fake.url("management"), "account": account,
        "account_name": f"Behörde {account}", "business_scenario": "XGATEWAY_TEST",
        "service": SERVICE, "read_timeout": "5", "connect_timeout": "2", **extra}
    return XtaSettings.from_options(options, where="[partners.\"test\"].options", base_dir=Path("."))


def message(to: str = READER, body: str = "1", message_type: str = "test.antrag.0100") -> Outgoing:
    """A small outgoing message with a fresh nachrichtenUUID."""
    xml = (f'<a:Antrag xmlns:a="{PAYLOAD_NS}"><a:nummer>{body}</a:nummer></a:Antrag>').encode()
    return Outgoing(message_id=str(uuid.uuid4()), message_uuid=str(uuid.uuid4()),
                    message_type=message_type, partner_id=to, endpoint="", xml=xml)
