"""Completing a backend record with what the gateway itself supplies (shell side: reads the
clock and makes UUIDs unless they are passed in).

A backend may omit the message UUID, the creation time, the message type code, the product
attributes and the author; `complete_record` fills exactly those that are absent and that
the type's schema has, and leaves everything else to the mapper's checks. `build`, `send`
and the REST API all call this one function.
"""
from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from .. import __version__
from .plan import ElementPlan

PRODUCT = "xoev-gateway"
VENDOR = "xoev-gateway project"
HEADER = "nachrichtenkopfG2g"
IDENT = "identifikationNachricht"
# Record paths complete_record may fill; the JSON Schema marks them optional.
GATEWAY_FILLED = frozenset({
    "produkt", "produkthersteller", "produktversion",
    f"{HEADER}.{IDENT}", f"{HEADER}.{IDENT}.nachrichtenUUID",
    f"{HEADER}.{IDENT}.erstellungszeitpunkt", f"{HEADER}.{IDENT}.nachrichtentyp",
    f"{HEADER}.autor",
})


@dataclass(frozen=True, slots=True)
class Authority:
    """This gateway's own authority, written as `autor` when the record has none."""

    kennung: str
    name: str
    verzeichnisdienst: str = "DVDV"

    @classmethod
    def from_config(cls, config: Any) -> "Authority":
        """From the `[gateway]` section: authority_id, authority_name, directory_service."""
        section = config.gateway
        return cls(kennung=section.authority_id, name=section.authority_name,
                   verzeichnisdienst=section.directory_service)


def complete_record(plan: ElementPlan, type_id: str, record: Any, *, authority: Authority | None,
                    now: datetime | None = None,
                    new_uuid: Callable[[], str] | None = None) -> Any:
    """A copy of `record` with absent gateway-supplied fields filled in (input untouched)."""
    if not isinstance(record, dict):
        return record
    record = copy.deepcopy(record)
    children = _children(plan)
    for key, value in (("produkt", PRODUCT), ("produkthersteller", VENDOR),
                       ("produktversion", __version__)):
        if key in {a.name for a in plan.type.attributes}:
            record.setdefault(key, value)
    header_plan = children.get(HEADER)
    if header_plan is None or not isinstance(record.setdefault(HEADER, {}), dict):
        return record
    header = record[HEADER]
    ident_plan = _children(header_plan).get(IDENT)
    if ident_plan is not None and isinstance(header.setdefault(IDENT, {}), dict):
        ident = header[IDENT]
        fields = _children(ident_plan)
        if "nachrichtenUUID" in fields and "nachrichtenUUID" not in ident:
            ident["nachrichtenUUID"] = (new_uuid or (lambda: str(uuid.uuid4())))()
        if "erstellungszeitpunkt" in fields and "erstellungszeitpunkt" not in ident:
            moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
            ident["erstellungszeitpunkt"] = moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        if "nachrichtentyp" in fields and "nachrichtentyp" not in ident:
            ident["nachrichtentyp"] = _code(fields["nachrichtentyp"], type_id)
    header_fields = _children(header_plan)
    if authority is not None and "autor" in header_fields and "autor" not in header:
        autor_fields = _children(header_fields["autor"])
        autor: dict[str, Any] = {"kennung": authority.kennung, "name": authority.name}
        if "verzeichnisdienst" in autor_fields:
            autor["verzeichnisdienst"] = _code(autor_fields["verzeichnisdienst"],
                                               authority.verzeichnisdienst)
        header["autor"] = {k: v for k, v in autor.items() if k in autor_fields}
    return record


def _children(plan: ElementPlan) -> dict[str, ElementPlan]:
    return {c.key: c for c in plan.type.children}


def _code(plan: ElementPlan, code: str) -> Any:
    """A code value as the field expects it: {"code": ...} for code types, else the text."""
    return {"code": code} if "code" in _children(plan) else code


def prepare_message(registry: Any, type_id: str, record: Any, *, authority: Authority | None,
                    validator: Any = None, now: datetime | None = None,
                    new_uuid: Callable[[], str] | None = None):
    """Shell path from a backend record to a checked message tree: complete the record, build
    it (structure, facets, XSD) and, with a validator, check code lists and business rules.
    Raises ValidationFailed whose issues all carry record field paths."""
    from ..errors import ValidationFailed, errors_of
    from .xsderrors import to_record_paths

    now = now or datetime.now(timezone.utc)
    message_type = registry.get(type_id)
    record = complete_record(message_type.plan, type_id, record, authority=authority, now=now,
                             new_uuid=new_uuid)
    root = registry.build(type_id, record)
    if validator is not None:
        issues = errors_of(validator.validate_tree(root, now=now))
        if issues:
            raise ValidationFailed(to_record_paths(issues, message_type.plan, root))
    return root
