"""The partner directory (DVDV style): partner id -> name, endpoints, transport, accepted
types and trust, kept in the `[partners."ID"]` tables of the configuration.

The directory answers "who is this partner, how do I reach it, does it take this message
type"; it is checked once at start-up (`check`) so that a gateway with a partner it could
never reach or never believe refuses to start.
"""
from __future__ import annotations

import difflib
from fnmatch import fnmatchcase
from dataclasses import dataclass
from typing import Iterable, Mapping

from ..config import PartnerSpec
from ..errors import ConfigError, MessageError, NotFound


class NotAccepted(MessageError):
    """The partner does not accept this message type; the message is refused before sending."""


@dataclass(frozen=True, slots=True)
class Directory:
    """Read-only view of the configured partners with lookup and query helpers."""

    partners: Mapping[str, PartnerSpec]

    @classmethod
    def from_config(cls, config) -> "Directory":
        """The directory of a loaded Config."""
        return cls(dict(config.partners))

    def __iter__(self):
        return iter(sorted(self.partners.values(), key=lambda p: p.id))

    def __len__(self) -> int:
        return len(self.partners)

    def find(self, partner_id: str) -> PartnerSpec | None:
        """The partner with this id, or None."""
        return self.partners.get(partner_id)

    def get(self, partner_id: str) -> PartnerSpec:
        """The partner with this id; NotFound (naming the closest id) otherwise."""
        spec = self.partners.get(partner_id)
        if spec is None:
            close = difflib.get_close_matches(partner_id, list(self.partners), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise NotFound(f"partner {partner_id!r} is not in the directory{hint}")
        return spec

    def accepts(self, partner_id: str, message_type: str, standard: str = "") -> bool:
        """True when the partner exists and accepts this message type ("*" accepts any)."""
        spec = self.partners.get(partner_id)
        return spec is not None and _accepts(spec, message_type, standard)

    def require(self, partner_id: str, message_type: str, standard: str = "") -> PartnerSpec:
        """The partner, after checking it accepts the type (of `standard`, for entries that
        name one); NotFound or NotAccepted otherwise."""
        spec = self.get(partner_id)
        if not _accepts(spec, message_type, standard):
            taken = ", ".join(spec.accepts) or "nothing"
            raise NotAccepted(f"partner {partner_id} does not accept {message_type} (accepts: {taken})")
        return spec

    def query(self, *, accepts: str | None = None, transport: str | None = None,
              text: str | None = None) -> list[PartnerSpec]:
        """Partners matching every given filter, sorted by id (text matches id or name)."""
        hits = []
        for spec in self:
            if accepts and not _accepts(spec, accepts):
                continue
            if transport and spec.transport != transport:
                continue
            if text and text.lower() not in f"{spec.id} {spec.name}".lower():
                continue
            hits.append(spec)
        return hits

    def problems(self, transports: Iterable[str]) -> list[str]:
        """Everything wrong with the directory: no endpoint, no trust, unknown transport."""
        known = set(transports)
        found = []
        for spec in self:
            where = f'[partners."{spec.id}"]'
            if not spec.endpoints:
                found.append(f"{where}: no endpoints")
            if not (spec.trust.certificates or spec.trust.cas):
                found.append(f"{where}: no trust (set trust.certificates or trust.cas)")
            if spec.trust.cas and not spec.trust.subject and not spec.trust.certificates:
                found.append(f"{where}: trust.cas needs trust.subject (the expected signer)")
            if spec.transport not in known:
                close = difflib.get_close_matches(spec.transport, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                found.append(f"{where}: unknown transport {spec.transport!r}{hint}")
            if bool(spec.client_cert) != bool(spec.client_key):
                found.append(f"{where}: client_cert and client_key go together")
        return found

    def check(self, transports: Iterable[str]) -> None:
        """Raise ConfigError listing every problem; called at start-up."""
        found = self.problems(transports)
        if found:
            raise ConfigError("partner directory: " + "; ".join(found))


def describe(spec: PartnerSpec) -> dict:
    """JSON-ready description of a partner for the query API and `gateway partners --json`."""
    return {
        "id": spec.id,
        "name": spec.name,
        "transport": spec.transport,
        "endpoints": list(spec.endpoints),
        "accepts": list(spec.accepts),
        "trust": {
            "certificates": len(spec.trust.certificates),
            "cas": len(spec.trust.cas),
            "subject": spec.trust.subject,
        },
        "mutual_tls": bool(spec.client_cert),
    }


def _accepts(spec: PartnerSpec, message_type: str, standard: str = "") -> bool:
    """An entry of `accepts` is "*", a message type (root element name) or a pattern of them
    ("Aussonderung.*", fnmatch syntax), optionally prefixed by a standard's name and ':'
    where two standards share type names ("xdomea:Aussonderung.*")."""
    for entry in spec.accepts:
        name, sep, pattern = entry.partition(":")
        if sep and not fnmatchcase(message_type, entry):
            if standard and name == standard and fnmatchcase(message_type, pattern):
                return True
            continue
        if entry == "*" or entry == message_type or fnmatchcase(message_type, entry):
            return True
    return False
