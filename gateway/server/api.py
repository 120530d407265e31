"""The backend API under /api (bearer token on every route):

    POST /api/messages          {"type", "record", "to", "client_ref"?} -> 201 {"id", "message_uuid", "state"}
    GET  /api/messages/{id}     metadata, timeline and receipts of one message
    GET  /api/partners          the directory; filters ?accepts=TYPE&transport=NAME&q=TEXT
    GET  /api/partners/{id}     one partner
"""
from __future__ import annotations

import hmac
import json

from aiohttp import web

from ..directory import describe
from ..errors import GatewayError, NotFound, ValidationFailed
from .problems import Problem, problem_for

GATEWAY_KEY = web.AppKey("gateway", object)
TOKEN_KEY = web.AppKey("api_token", bytes)


def create_api(gateway, token: bytes) -> web.Application:
    """The /api sub-application for a wired Gateway; every request needs `Bearer <token>`."""
    if not token:
        raise ValueError("the backend API needs a token")
    api = web.Application(middlewares=[_authenticate])
    api[GATEWAY_KEY] = gateway
    api[TOKEN_KEY] = token
    api.router.add_post("/messages", submit)
    api.router.add_get("/messages/{id}", show)
    api.router.add_get("/partners", partners)
    api.router.add_get("/partners/{id}", partner)
    return api


@web.middleware
async def _authenticate(request: web.Request, handler):
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), request.app[TOKEN_KEY]):
        return _problem(Problem(401, "unauthenticated", "send 'Authorization: Bearer <api token>'"),
                        {"WWW-Authenticate": "Bearer"})
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - every error becomes a problem answer
        problem = problem_for(exc)
        body = problem.as_dict()
        if isinstance(exc, ValidationFailed):
            body["issues"] = [i.as_dict() for i in exc.issues]
        return web.json_response(body, status=problem.status if isinstance(exc, GatewayError) else 500)


async def submit(request: web.Request) -> web.Response:
    """POST /api/messages: build, validate, sign and store; delivery follows asynchronously."""
    try:
        body = await request.json(loads=json.loads)
    except ValueError:
        return _problem(Problem(400, "bad-json", "the body must be a JSON object"))
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("type", "to")):
        return _problem(Problem(400, "bad-request", "give type, to and record"))
    client_ref = body.get("client_ref")
    msg = await request.app[GATEWAY_KEY].submit(body["type"], body.get("record"), to=body["to"],
                                                client="api", client_ref=str(client_ref) if client_ref else None)
    return web.json_response(_message(msg), status=201)


async def show(request: web.Request) -> web.Response:
    """GET /api/messages/{id}."""
    store = request.app[GATEWAY_KEY].store
    msg = await store.get(request.match_info["id"])
    data = _message(msg)
    data["history"] = [{"at": h.at.isoformat(), "from": h.from_state, "to": h.to_state, "actor": h.actor,
                        "detail": h.detail} for h in await store.history(msg.id)]
    data["receipts"] = [{"kind": r.kind, "positive": r.positive, "at": r.at.isoformat(), "detail": r.detail}
                        for r in await store.receipts(msg.id)]
    return web.json_response(data)


async def partners(request: web.Request) -> web.Response:
    """GET /api/partners with optional filters."""
    q = request.query
    hits = request.app[GATEWAY_KEY].directory.query(accepts=q.get("accepts"), transport=q.get("transport"),
                                                    text=q.get("q"))
    return web.json_response([describe(p) for p in hits])


async def partner(request: web.Request) -> web.Response:
    """GET /api/partners/{id}."""
    spec = request.app[GATEWAY_KEY].directory.find(request.match_info["id"])
    if spec is None:
        raise NotFound(f"partner {request.match_info['id']}")
    return web.json_response(describe(spec))


def _message(msg) -> dict:
    return {"id": msg.id, "message_uuid": msg.message_uuid, "type": msg.message_type, "partner": msg.partner,
            "state": msg.state.value, "attempts": msg.attempts, "last_error": msg.last_error}


def _problem(problem: Problem, headers=None) -> web.Response:
    return web.json_response(problem.as_dict(), status=problem.status, headers=headers)
