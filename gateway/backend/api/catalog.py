"""What a backend may use: partners, the record schema of a message type, the OpenAPI document."""
from __future__ import annotations

import functools
import json
from importlib import resources

from aiohttp import web

from ...exchange.directory import describe
from .auth import grant_of
from .outbound import GATEWAY_KEY
from .problems import ApiError


async def partners(request: web.Request) -> web.Response:
    """GET /api/partners?accepts=TYPE&transport=NAME&q=TEXT: partners in the caller's scope."""
    q, grant = request.query, grant_of(request)
    hits = request.app[GATEWAY_KEY].directory.query(accepts=q.get("accepts"), transport=q.get("transport"),
                                                    text=q.get("q"))
    return web.json_response([describe(p) for p in hits if grant.allows_partner(p.id)])


async def partner(request: web.Request) -> web.Response:
    """GET /api/partners/{id}."""
    pid, grant = request.match_info["id"], grant_of(request)
    spec = request.app[GATEWAY_KEY].directory.find(pid)
    if spec is None:
        raise ApiError("not-found", f"partner {pid} is not in the directory")
    if not grant.allows_partner(pid):
        raise ApiError("forbidden", f"partner {pid} is outside the scope of token {grant.name!r}")
    return web.json_response(describe(spec))


async def schema(request: web.Request) -> web.Response:
    """GET /api/schemas/{type}: JSON Schema of the type's record (as `gateway schema TYPE`)."""
    type_id, grant = request.match_info["type"], grant_of(request)
    if not grant.allows_type(type_id):
        raise ApiError("forbidden", f"message type {type_id} is outside the scope of token {grant.name!r}")
    document = request.app[GATEWAY_KEY].registry.json_schema(type_id)
    return web.json_response(document, content_type="application/schema+json")


async def openapi(request: web.Request) -> web.Response:
    """GET /api/openapi.json: the OpenAPI 3.1 document of this API (no token needed)."""
    return web.Response(body=document_bytes(), content_type="application/json")


@functools.cache
def document_bytes() -> bytes:
    """The shipped OpenAPI document (gateway/api/openapi.json), read once."""
    return resources.files(__package__).joinpath("openapi.json").read_bytes()


def document() -> dict:
    """The OpenAPI document as a dict."""
    return json.loads(document_bytes())
