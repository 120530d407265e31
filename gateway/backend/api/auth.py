"""Authentication on every API call (except the OpenAPI document) and the one place where
errors become problem answers.

RFC 6750: a request without a token gets `401` with `WWW-Authenticate: Bearer
realm="xoev-gateway"`; a wrong, unknown or revoked token the same plus
`error="invalid_token"`. The grant of a valid token is stored on the request (`GRANT`).
"""
from __future__ import annotations

from aiohttp import web

from ..tokens import Authenticator, Grant
from . import problems
from .problems import ApiError

AUTH_KEY = web.AppKey("api_authenticator", Authenticator)
GRANT = web.RequestKey("api_grant", Grant)
PUBLIC = frozenset({"/api/openapi.json"})
REALM = 'Bearer realm="xoev-gateway"'


def grant_of(request: web.Request) -> Grant:
    """The caller's grant (set by the middleware)."""
    return request[GRANT]


@web.middleware
async def guard(request: web.Request, handler):
    """Authenticate, run the handler, and answer every error with problem details."""
    try:
        if request.path not in PUBLIC:
            request[GRANT] = await _authenticate(request)
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(exc.status, "bad-request")
        return problems.response(request, ApiError(code, exc.reason or code))
    except Exception as exc:  # noqa: BLE001 - every error becomes a problem answer
        return problems.response(request, problems.from_exception(exc))


async def _authenticate(request: web.Request) -> Grant:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("unauthenticated", "send 'Authorization: Bearer <token>' (gateway tokens create)",
                       headers={"WWW-Authenticate": REALM})
    token = token.strip()
    if not (token.isascii() and token.isprintable()):
        raise ApiError("unauthenticated", "the token is unknown or revoked",
                       headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    grant = await request.app[AUTH_KEY].authenticate(token)
    if grant is None:
        raise ApiError("unauthenticated", "the token is unknown or revoked",
                       headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    return grant
