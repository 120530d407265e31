"""One table from gateway errors to HTTP status and a stable error code (the server's
`map_exceptions`); the SOAP endpoint turns the same entry into a SOAP 1.2 fault."""
from __future__ import annotations

import errno
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


#: errno values that mean the store cannot take work now (disk full, quota, read-only,
#: the database server gone)
_OUTAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ECONNREFUSED,
                            errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
                            errno.EHOSTUNREACH, errno.ENETUNREACH})
#: exception classes (by module prefix and name, so this floor needs no database driver)
#: of a database that is unreachable, lost, locked or full
_OUTAGE_CLASSES = {
    "sqlalchemy": {"OperationalError", "InterfaceError", "DisconnectionError", "TimeoutError"},
    "asyncpg": {"ConnectionDoesNotExistError", "ConnectionFailureError", "CannotConnectNowError",
                "AdminShutdownError", "CrashShutdownError", "TooManyConnectionsError",
                "PostgresConnectionError", "InterfaceError", "DiskFullError", "OutOfMemoryError",
                "InsufficientResourcesError", "ConnectionRejectionError", "InvalidCatalogNameError"},
    "sqlite3": {"OperationalError"},
}
STORE_UNAVAILABLE = "the message store is unavailable (database unreachable, locked or full); try again later"


def store_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) says the store cannot take work
    now: connection lost or refused, database locked, disk full. The one place that decides;
    the SOAP endpoint and the backend API ask it too."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _OUTAGE_ERRNOS:
            return True
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return True
        module = type(exc).__module__.split(".")[0]
        if type(exc).__name__ in _OUTAGE_CLASSES.get(module, ()):
            return True
        if getattr(exc, "connection_invalidated", False):
            return True
        state = getattr(exc, "sqlstate", None) or ""
        if state.startswith(("08", "53", "57P")) or (state == "55000" and "accepting connections" in str(exc)):
            return True     # PostgreSQL: connection exception, insufficient resources, shutdown
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


def outage_line(exc: BaseException) -> str:
    """One line about an outage for the log (no traceback)."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def problem_for(exc: BaseException) -> Problem:
    """The answer for an exception raised behind an endpoint (unknown ones: 500, logged)."""
    if isinstance(exc, RetryLater) and exc.code == "overloaded":
        return Problem(429, "overloaded", str(exc))
    if not isinstance(exc, GatewayError) and store_unavailable(exc):
        log.warning("store unavailable, answered 503: %s", outage_line(exc))
        return Problem(503, "unavailable", STORE_UNAVAILABLE)
    for cls, status, code in _TABLE:
        if isinstance(exc, cls):
            return Problem(status, getattr(exc, "code", "") or code, str(exc) or code)
    if not isinstance(exc, GatewayError):
        log.exception("internal error while handling a request")
    return Problem(500, "internal", "internal error; the message was not accepted")
