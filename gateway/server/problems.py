"""One table from gateway errors to HTTP status and a stable error code (the server's
`map_exceptions`); the SOAP endpoint turns the same entry into a SOAP 1.2 fault."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import (
    GatewayError,
    MessageError,
    NotFound,
    Refused,
    RetryLater,
    XmlSecurityError,
)

log = logging.getLogger("gateway.server")


@dataclass(frozen=True, slots=True)
class Problem:
    """An error answer: HTTP status, stable code, clear reason, and whether to retry."""

    status: int
    code: str
    reason: str

    @property
    def retry(self) -> bool:
        """True when the caller should try again later (5xx and 429)."""
        return self.status >= 500 or self.status == 429

    def as_dict(self) -> dict:
        """JSON body of an HTTP problem answer."""
        return {"code": self.code, "reason": self.reason, "retry": self.retry}


# Most specific first: the first matching class decides.
_TABLE: tuple[tuple[type[BaseException], int, str], ...] = (
    (XmlSecurityError, 400, "malformed"),
    (MessageError, 400, "rejected"),
    (NotFound, 404, "not-found"),
    (Refused, 403, "refused"),
    (RetryLater, 503, "unavailable"),
)


def too_large(limit: int) -> Problem:
    """The request body is over the configured limit."""
    return Problem(413, "too-large", f"request body is over the limit of {limit} bytes")


def problem_for(exc: BaseException) -> Problem:
    """The answer for an exception raised behind an endpoint (unknown ones: 500, logged)."""
    if isinstance(exc, RetryLater) and exc.code == "overloaded":
        return Problem(429, "overloaded", str(exc))
    for cls, status, code in _TABLE:
        if isinstance(exc, cls):
            return Problem(status, getattr(exc, "code", "") or code, str(exc) or code)
    if not isinstance(exc, GatewayError):
        log.exception("internal error while handling a request")
    return Problem(500, "internal", "internal error; the message was not accepted")
