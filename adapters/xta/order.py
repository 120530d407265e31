"""Values the XTA profiles build requests from and extract responses into (no I/O)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Party:
    """An author or reader: kennung (DVDV prefix:id, e.g. "ags:09000009") and display data."""

    identifier: str
    name: str = ""
    category: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attachment of a content container."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class TransportOrder:
    """Everything the MessageMetaData header of one send says (both XTA versions)."""

    message_id: str                 # the XTA message id (provider-assigned or urn:uuid:)
    author: Party
    reader: Party
    service: str                    # Dienste-URI ("" allowed in version 5)
    business_scenario: str
    business_scenario_list_uri: str  # "" = Undefined business scenario
    business_scenario_list_version: str
    message_type: str               # the code (root element name or our type id)
    message_type_list_uri: str      # version 3 only
    message_type_list_version: str  # version 3 only
    payload_schema: str             # namespace of the payload's root element
    size: int                       # bytes of message plus attachments
    origin: datetime                # when we produced the content
    message_uuid: str = ""          # our nachrichtenUUID (a v5 MessageProperty)
    service_quality: str = "standard"
    test: bool = False


@dataclass(frozen=True, slots=True)
class StatusPage:
    """One page of a mailbox status list."""

    message_ids: tuple[str, ...]
    pending: int = 0                # messages left beyond this page (as the provider says)
    request_id: str = ""            # version 3 MsgBoxRequestID, for getNextStatusList


@dataclass(frozen=True, slots=True)
class Fetched:
    """A message taken out of the mailbox by getMessage (not yet closed)."""

    message_id: str
    content: bytes
    content_type: str
    author: str                     # Originators/Author/Identifier, unverified
    metadata_xml: bytes             # the MessageMetaData header as received (evidence)
    attachments: tuple[Attachment, ...] = ()
    request_id: str = ""            # version 3: MsgBoxRequestID needed by close
    encrypted: bool = False         # v3 EncryptedData container: we cannot read it


@dataclass(frozen=True, slots=True)
class Report:
    """A transport report: its status (0 open, 1 green, 2 yellow, 3 red) and raw XML."""

    message_id: str
    status: int
    summary: str
    xml: bytes
