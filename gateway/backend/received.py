"""What the backend gets for a received message, besides the signed XML: its header facts as
JSON (any standard, read through the standard's header profile) and, only for types that
have a record mapping (our own library), the record. One function for the API's
GET /api/inbound/{id}, the message.received webhook and the inbound drop folder's JSON."""
from __future__ import annotations

from typing import Any

from .. import xml as hardened
from ..errors import NotFound


def received_view(gw, xml: bytes) -> dict[str, Any]:
    """{"header": {...}, "record": {...}} of a stored received message; "record" is absent
    when the type has no record mapping (a configured third-party standard). CPU-bound:
    call it in a thread. Raises MessageError when the stored XML cannot be read."""
    header = gw.headers.read(hardened.parse(xml, gw.limits))
    view: dict[str, Any] = {"header": header.as_dict()}
    try:
        gw.registry.get(header.root)
    except NotFound:
        return view
    view["record"] = gw.registry.received_record(xml, gw.limits)[1]
    return view
