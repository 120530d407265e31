"""RFC 9457 problem details for the backend API: one table from errors to status and type.

Every error answer is `application/problem+json` with `type`, `title`, `status`, `detail`,
`instance` (the request path) and, for invalid requests and records, `errors`: a list of
`{path, message, check}` — record field paths (`antragsteller.anschrift.postleitzahl`) for
an invalid record (422), top-level body fields (`type`, `to`) for a malformed request (400).
"""
from __future__ import annotations

import logging
from typing import Iterable, Mapping

from aiohttp import web

from ...errors import (
    GatewayError,
    Issue,
    MappingError,
    MessageError,
    NotFound,
    RetryLater,
    StateError,
    ValidationFailed,
    XmlSecurityError,
)
from ...exchange.directory import NotAccepted
from ...server.problems import STORE_UNAVAILABLE, outage_line, store_unavailable

log = logging.getLogger("gateway.api")
TYPE_BASE = "urn:xoev-gateway:problem:"
CONTENT_TYPE = "application/problem+json"

#: code -> (status, title); the problem `type` is TYPE_BASE + code
PROBLEMS: dict[str, tuple[int, str]] = {
    "bad-request": (400, "The request is malformed"),
    "unauthenticated": (401, "A valid API token is required"),
    "forbidden": (403, "Outside the token's scope"),
    "not-found": (404, "No such resource"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-acceptable": (406, "No acceptable representation"),
    "conflict": (409, "Conflicts with the resource's state"),
    "too-large": (413, "The request body is too large"),
    "unsupported-media-type": (415, "The body must be JSON (or, for POST /api/messages, XML)"),
    "invalid-record": (422, "The record cannot become a valid message"),
    "unavailable": (503, "Temporarily unavailable, try again later"),
    "internal": (500, "Internal error"),
}


class ApiError(Exception):
    """An error answer a handler raises: problem code, detail, and optional field errors."""

    def __init__(self, code: str, detail: str, *, errors: Iterable[Mapping] = (),
                 headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.code = code
        self.status = PROBLEMS[code][0]
        self.detail = detail
        self.errors = [dict(e) for e in errors]
        self.headers = dict(headers or {})


def field_error(path: str, message: str, check: str = "request") -> dict:
    """One entry of `errors`."""
    return {"path": path, "message": message, "check": check}


def issue_errors(issues: Iterable[Issue]) -> list[dict]:
    """`errors` entries for validation issues (record field paths; for an XML message, XML
    paths with the `line`)."""
    return [field_error(i.path, i.message, i.check) | ({"line": i.line} if i.line else {}) for i in issues]


def from_exception(exc: BaseException) -> ApiError:
    """The API answer for an exception raised behind a handler (unknown ones: 500, logged)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ValidationFailed):
        return ApiError("invalid-record", f"the record has {len(exc.issues)} problem(s)",
                        errors=issue_errors(exc.issues))
    if isinstance(exc, MappingError):
        return ApiError("invalid-record", str(exc), errors=[field_error(exc.path, exc.reason, "mapping")])
    if isinstance(exc, NotAccepted):
        return ApiError("invalid-record", str(exc), errors=[field_error("to", str(exc))])
    if isinstance(exc, XmlSecurityError):
        return ApiError("bad-request", str(exc), errors=[
            {"path": "", "message": str(exc), "check": "parse"} | ({"line": exc.line} if exc.line else {})])
    if isinstance(exc, MessageError):
        return ApiError("invalid-record", str(exc), errors=[field_error("", str(exc), "mapping")])
    if isinstance(exc, NotFound):
        return ApiError("not-found", str(exc))
    if isinstance(exc, StateError):
        return ApiError("conflict", str(exc))
    if isinstance(exc, RetryLater):
        return ApiError("unavailable", str(exc), headers={"Retry-After": "30"})
    if not isinstance(exc, GatewayError) and store_unavailable(exc):
        log.warning("store unavailable, answered 503: %s", outage_line(exc))
        return ApiError("unavailable", STORE_UNAVAILABLE, headers={"Retry-After": "30"})
    if not isinstance(exc, GatewayError):
        log.exception("internal error while handling an API request")
    else:
        log.error("API request failed: %s", exc)
    return ApiError("internal", "internal error; the gateway's log has the details")


def response(request: web.Request, error: ApiError) -> web.Response:
    """The problem+json answer for `error` on `request`."""
    body = {"type": TYPE_BASE + error.code, "title": PROBLEMS[error.code][1],
            "status": error.status, "detail": error.detail, "instance": request.path}
    if error.errors:
        body["errors"] = error.errors
    resp = web.json_response(body, status=error.status, headers=error.headers or None)
    resp.content_type = CONTENT_TYPE
    return resp
