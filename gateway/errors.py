"""The gateway's exception tree, grouped by what the caller does next.

    GatewayError                      base of everything the gateway raises on purpose
    ├── MessageError                  the message or record is wrong: reject, never retry
    │   ├── XmlSecurityError          refused by the hardened parser (DTD, entity, size, depth)
    │   ├── ValidationFailed          schema, code list or business rule violations (.issues)
    │   ├── MappingError              a record cannot become a message or back (.path)
    │   ├── SignatureError            missing, invalid, untrusted or unsafe signature
    │   └── DecryptionError           an encrypted message we cannot decrypt (says only that)
    ├── DeliveryError                 raised by adapters at their edge
    │   ├── RetryLater                partner unreachable or busy (timeouts, 5xx, 429)
    │   └── Refused                   partner refused the message (4xx, fault): dead-letter
    ├── StateError                    an illegal state transition: a bug, never user input
    │   └── LeaseLost                 another node took the message over after our lease expired
    ├── StoreCorrupted                stored data failed its integrity check (digest, hash chain)
    ├── NotFound                      no such message, partner, type, key
    └── ConfigError                   the configuration is wrong: refuse to start

Library exceptions (lxml, aiohttp, zeep, OSError) are translated into these at the edge of
the module that calls the library; none of them escapes to the CLI, the server or the
scheduler.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a message or record: where, what, and which check found it."""

    message: str
    path: str = ""          # record field path (antragsteller.anschrift.plz) or XML path
    line: int | None = None  # XML source line, when the input was XML text
    check: str = "schema"   # parse | schema | codelist | rule | schematron | mapping | signature
    severity: str = "error"  # error | warning (shown, never a reason to refuse: code-list policy "known")

    @property
    def is_warning(self) -> bool:
        return self.severity == WARNING

    def format(self, source: str = "", *, layer: bool = False) -> str:
        """Render as `SOURCE:LINE: path: message` (parts that are unknown are left out);
        with `layer`, the check that found it (and "warning") follows in brackets."""
        where = ":".join(p for p in (source, str(self.line) if self.line else "") if p)
        parts = [p for p in (where, self.path, self.message) if p]
        text = ": ".join(parts)
        if layer:
            text += f" [{self.check}{', warning' if self.is_warning else ''}]"
        return text

    def as_dict(self) -> dict:
        """JSON-ready form for `--json` output and API problem details."""
        return {"path": self.path, "line": self.line, "check": self.check, "message": self.message,
                "severity": self.severity}


WARNING = "warning"


def errors_of(issues: list[Issue]) -> list[Issue]:
    """The issues that make a message invalid (warnings are shown, never a reason to refuse)."""
    return [i for i in issues if i.severity != WARNING]


class GatewayError(Exception):
    """Base class of every error the gateway raises on purpose."""


class MessageError(GatewayError):
    """The message or record is wrong; retrying cannot help."""


class XmlSecurityError(MessageError):
    """Input refused by the hardened XML parser (DTD, entity, size, depth, malformed)."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


class ValidationFailed(MessageError):
    """The message violates its schema, code lists or business rules."""

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        first = self.issues[0].format() if self.issues else "invalid"
        more = f" (+{len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        super().__init__(first + more)


class MappingError(MessageError):
    """A record cannot be turned into a message (or a message into a record)."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


class SignatureError(MessageError):
    """The signature is missing, invalid, unsafe or from a signer we do not trust; `code`
    says which, machine-readably (gateway.exchange.receipts.SIGNATURE_FEEDBACK maps it to a receipt
    feedback code), the message says what and where for people."""

    NOT_SIGNED = "not-signed"                   # the document carries no signature
    MALFORMED = "malformed"                     # not the one allowed shape (place, references, ids, KeyInfo)
    UNSAFE_ALGORITHM = "unsafe-algorithm"       # signature, digest, transform or C14N algorithm not allowed
    INVALID = "invalid"                         # the cryptography fails: content or signed info changed
    UNTRUSTED = "untrusted"                     # the signer may not speak for the partner
    EXPIRED = "expired"                         # a certificate (or the signing time) past its validity
    NOT_YET_VALID = "not-yet-valid"             # a certificate not valid yet
    REVOKED = "revoked"                         # the signing certificate is on its CA's revocation list
    REVOCATION_UNKNOWN = "revocation-unknown"   # the CA's revocation list is out of date
    SIGNING_FAILED = "signing-failed"           # our own signing failed (never about a partner's message)
    CODES = frozenset({NOT_SIGNED, MALFORMED, UNSAFE_ALGORITHM, INVALID, UNTRUSTED, EXPIRED,
                       NOT_YET_VALID, REVOKED, REVOCATION_UNKNOWN, SIGNING_FAILED})

    def __init__(self, message: str, *, code: str = INVALID):
        if code not in self.CODES:
            raise ValueError(f"unknown SignatureError code {code!r}")
        super().__init__(message)
        self.code = code


class DecryptionError(MessageError):
    """An encrypted message that cannot be decrypted. Its text is always "cannot decrypt"
    (what goes into a receipt tells an attacker nothing about which step failed); `reason`
    names the step for our own audit log and operators only."""

    TEXT = "cannot decrypt"

    def __init__(self, reason: str):
        super().__init__(self.TEXT)
        self.reason = reason


class DeliveryError(GatewayError):
    """Base of the errors adapters raise; the subclass says whether to retry."""

    def __init__(self, message: str, *, code: str = "", detail: str = "", retry_after: str = ""):
        super().__init__(message)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after      # the partner's Retry-After (seconds or HTTP date), if any


class RetryLater(DeliveryError):
    """The partner is unreachable or busy; the same message may succeed later."""


class Refused(DeliveryError):
    """The partner refused the message; retrying the same bytes will not help."""


class StateError(GatewayError):
    """An illegal state transition was attempted (a bug, not bad input)."""


class LeaseLost(StateError):
    """This node's lease on a message expired and another node took the message over."""


class StoreCorrupted(GatewayError):
    """Stored data failed its integrity check (payload digest, audit hash chain)."""


class NotFound(GatewayError):
    """A message, partner, type or key that was asked for does not exist."""


class ConfigError(GatewayError):
    """The configuration is invalid; the gateway refuses to start."""
