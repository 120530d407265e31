"""The backend REST API under /api (docs/backend-api.md; OpenAPI 3.1 in openapi.json).

    GET  /api/openapi.json                      this API's OpenAPI document (no token)
    POST /api/messages                          submit {type, to, record, client_ref?}: 201 new, 200 again
    GET  /api/messages                          own submissions (filters state, type, partner, client_ref)
    GET  /api/messages/{id}/xml                 an outbound message's signed XML as stored
    GET  /api/messages/{id}                     status: metadata, timeline (routing slip), receipts
    GET  /api/messages/{id}/receipts/{receipt}  a receipt's signed XML
    GET  /api/inbound                           received messages (filters, paging)
    GET  /api/inbound/{id}                      one as record (JSON) or signed XML (Accept / ?format=)
    POST /api/inbound/{id}/ack                  taken over by the backend -> acknowledged
    GET  /api/partners, /api/partners/{id}      the partner directory (within the token's scope)
    GET  /api/schemas/{type}                    JSON Schema of a type's record
    GET  /api/nodes                             gateway nodes on this store, heartbeats (operator token)

Every call but the OpenAPI document needs `Authorization: Bearer <token>`; errors are RFC
9457 problem details (gateway.backend.api.problems).
"""
from __future__ import annotations

import asyncio

from aiohttp import web

from ..tokens import Authenticator, Tokens
from . import catalog, inbound, nodes, outbound
from .auth import AUTH_KEY, guard

__all__ = ["create_api", "routes"]


def routes() -> list[tuple[str, str, object]]:
    """(method, path below /api, handler) of every API operation."""
    return [
        ("GET", "/openapi.json", catalog.openapi),
        ("POST", "/messages", outbound.submit),
        ("GET", "/messages", outbound.list_outbound),
        ("GET", "/messages/{id}/xml", outbound.message_xml),
        ("GET", "/messages/{id}", outbound.status),
        ("GET", "/messages/{id}/receipts/{receipt}", outbound.receipt),
        ("GET", "/inbound", inbound.list_inbound),
        ("GET", "/inbound/{id}", inbound.fetch),
        ("POST", "/inbound/{id}/ack", inbound.acknowledge),
        ("GET", "/partners", catalog.partners),
        ("GET", "/partners/{id}", catalog.partner),
        ("GET", "/schemas/{type}", catalog.schema),
        ("GET", "/nodes", nodes.list_nodes),
    ]


def create_api(gateway, operator_token: bytes | None = None, *,
               authenticator: Authenticator | None = None, max_page: int = 200,
               webhooks=None) -> web.Application:
    """The /api sub-application for a wired Gateway. Tokens are looked up in the gateway's
    store; `operator_token` (if given) is accepted as a grant on everything. `webhooks`
    (a gateway.backend.webhooks.Webhooks) runs in the background while the application runs."""
    if authenticator is None:
        store = getattr(gateway, "store", None)
        authenticator = Authenticator(Tokens(store) if store is not None else None, operator_token)
    api = web.Application(middlewares=[guard])
    api[outbound.GATEWAY_KEY] = gateway
    api[AUTH_KEY] = authenticator
    api[outbound.MAX_PAGE_KEY] = max_page
    for method, path, handler in routes():
        api.router.add_route(method, path, handler)
    if webhooks is not None:
        api.cleanup_ctx.append(_background(webhooks))
    return api


def _background(webhooks):
    """A cleanup context running `webhooks.run` from start-up until shutdown."""
    async def context(_app):
        stop = asyncio.Event()
        task = asyncio.create_task(webhooks.run(stop), name="webhooks")
        yield
        stop.set()
        try:
            await asyncio.wait_for(task, 30)
        except asyncio.TimeoutError:
            task.cancel()
        await webhooks.aclose()
    return context
