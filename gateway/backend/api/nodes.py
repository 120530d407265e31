"""GET /api/nodes: the gateway nodes sharing this store, with their heartbeats (operator token)."""
from __future__ import annotations

from aiohttp import web

from ...store import nodes as store_nodes
from .auth import grant_of
from .outbound import GATEWAY_KEY
from .problems import ApiError


async def list_nodes(request: web.Request) -> web.Response:
    """Every node that registered in the store, live ones first (live: a heartbeat within
    [scheduler] node_timeout; a node that shut down cleanly is not live)."""
    if not grant_of(request).operator:
        raise ApiError("forbidden", "the node list needs the operator token")
    gw = request.app[GATEWAY_KEY]
    rows = await store_nodes.list_nodes(gw.store, now=gw.clock(), live_within=gw.config.scheduler.node_timeout)
    return web.json_response({"node_timeout": gw.config.scheduler.node_timeout, "live": sum(r.live for r in rows),
                              "nodes": [r.as_dict() for r in rows]})
