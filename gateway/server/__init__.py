"""The aiohttp application: inbound HTTP and SOAP, the backend API, health and metrics.

Routes (see docs/exchange.md):
    POST /messages              deliver a signed message; answer: the signed receipt (XML)
    GET  /messages/{uuid}       state of a message we received (JSON)
    POST /soap                  SOAP 1.2 endpoint: deliverMessage, getMessageStatus
    GET  /soap?wsdl             our WSDL, with this server's address
    GET  /health                liveness and start-up checks (JSON; 503 when unhealthy)
    GET  /ready                 readiness: store writable, keys, schemas, scheduler (503 with reasons)
    GET  /metrics               Prometheus text format
    /api/...                    backend API (bearer token), see gateway.backend.api
Nothing here parses XML on the event loop or decides about a message: that is `Inbound`.

Imports: the ground floor only (the pipeline is reached through `gateway.ports.Inbound`, the
backend API is handed in as an application); the backend API reuses `problems` and
`read_limited` from here.
"""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from aiohttp import web

from ..ports import Inbound, Peer
from .bodies import HANDLER_ARGS, read_limited
from .metrics import Metrics
from .problems import Problem, problem_for

__all__ = ["create_app", "read_limited", "peer_of", "problem_response"]

INBOUND_KEY = web.AppKey("inbound", object)
METRICS_KEY = web.AppKey("metrics", Metrics)
LIMIT_KEY = web.AppKey("max_body_bytes", int)
HEALTH_KEY = web.AppKey("health", object)
READY_KEY = web.AppKey("ready", object)

HealthCheck = Callable[[], Awaitable[dict]]


def create_app(inbound: Inbound, *, max_body_bytes: int = 10 * 1024 * 1024,
               public_url: str = "", metrics: Metrics | None = None,
               health: HealthCheck | None = None, api: web.Application | None = None,
               require_client_cert: bool = False, ready: HealthCheck | None = None) -> web.Application:
    """Build the application around an inbound pipeline; `api` is mounted at /api.
    With `require_client_cert`, a request over a connection without a verified TLS client
    certificate is answered 403 `client-certificate-required` (see `_client_cert_required`)."""
    from . import logfilter, soap

    logfilter.install()
    metrics = metrics or Metrics()
    # The SOAP envelope carries the message base64-encoded: allow for that overhead.
    middlewares = [_count_requests] + ([_client_cert_required] if require_client_cert else [])
    app = web.Application(client_max_size=max_body_bytes * 4 // 3 + 65536, middlewares=middlewares,
                          handler_args=HANDLER_ARGS)
    app[INBOUND_KEY] = inbound
    app[METRICS_KEY] = metrics
    app[LIMIT_KEY] = max_body_bytes
    app[HEALTH_KEY] = health
    app[READY_KEY] = ready
    app.router.add_post("/messages", deliver)
    app.router.add_get("/messages/{uuid}", message_status)
    app.router.add_get("/health", health_check)
    app.router.add_get("/ready", ready_check)
    app.router.add_get("/metrics", metrics_text)
    soap.add_routes(app, public_url=public_url)
    if api is not None:
        app.add_subapp("/api/", api)
    return app


def peer_of(request: web.Request, transport: str) -> Peer:
    """The caller as the transport sees it, with its verified client certificate if any."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    cert = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return Peer(transport=transport, remote=request.remote or "", cert_der=cert or None,
                connected=lambda: request.transport is not None and not request.transport.is_closing())


def problem_response(problem: Problem) -> web.Response:
    """A JSON problem answer; 429/503 carry a Retry-After hint."""
    headers = {"Retry-After": "30"} if problem.retry else None
    return web.json_response(problem.as_dict(), status=problem.status, headers=headers)


async def deliver(request: web.Request) -> web.Response:
    """POST /messages: the body is the signed message; the answer is the signed receipt."""
    app = request.app
    started = time.perf_counter()
    body = await read_limited(request, app[LIMIT_KEY])
    if isinstance(body, Problem):
        app[METRICS_KEY].inbound.labels("http", body.code).inc()
        return problem_response(body)
    try:
        result = await app[INBOUND_KEY].receive(body, peer_of(request, "http"))
    except Exception as exc:  # noqa: BLE001 - every error becomes an answer, never a traceback
        problem = problem_for(exc)
        app[METRICS_KEY].inbound.labels("http", problem.code).inc()
        return problem_response(problem)
    app[METRICS_KEY].inbound.labels("http", "accepted" if result.accepted else "rejected").inc()
    app[METRICS_KEY].inbound_seconds.labels("http").observe(time.perf_counter() - started)
    return web.Response(body=result.receipt_xml, content_type="application/xml", headers={
        "X-Message-UUID": result.message_uuid,
        "X-Receipt": "positive" if result.accepted else "negative",
    })


async def message_status(request: web.Request) -> web.Response:
    """GET /messages/{uuid}: the state of a message we received (404 if unknown)."""
    try:
        info = await request.app[INBOUND_KEY].status(request.match_info["uuid"], peer_of(request, "http"))
    except Exception as exc:  # noqa: BLE001
        return problem_response(problem_for(exc))
    if info is None:
        return problem_response(Problem(404, "not-found", "no such message"))
    return web.json_response({"message_uuid": info.message_uuid, "state": info.state,
                              "receipt": info.receipt_xml is not None})


async def health_check(request: web.Request) -> web.Response:
    """GET /health: `{"status": "ok", ...}` or 503 with the failing checks."""
    check = request.app[HEALTH_KEY]
    try:
        report = await check() if check else {"status": "ok"}
    except Exception as exc:  # noqa: BLE001
        report = {"status": "failing", "error": str(exc) or type(exc).__name__}
    return web.json_response(report, status=200 if report.get("status") == "ok" else 503)


async def ready_check(request: web.Request) -> web.Response:
    """GET /ready: `{"status": "ready", "checks": {...}}`, or 503 with the failing checks'
    reasons (the node cannot take work); without a readiness check it is /health."""
    check = request.app[READY_KEY] or request.app[HEALTH_KEY]
    try:
        report = await check() if check else {"status": "ready"}
    except Exception as exc:  # noqa: BLE001
        report = {"status": "not ready", "reasons": [str(exc) or type(exc).__name__]}
    ok = report.get("status") in ("ready", "ok")
    return web.json_response(report, status=200 if ok else 503, headers=None if ok else {"Retry-After": "10"})


async def metrics_text(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text exposition."""
    metrics = request.app[METRICS_KEY]
    await metrics.sample()
    body = await asyncio.to_thread(metrics.render)
    return web.Response(body=body, headers={"Content-Type": metrics.content_type})


@web.middleware
async def _count_requests(request: web.Request, handler):
    metrics = request.config_dict[METRICS_KEY]
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "other"
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        metrics.requests.labels(route, str(exc.status)).inc()
        raise
    metrics.requests.labels(route, str(response.status)).inc()
    return response


NO_CLIENT_CERT = Problem(403, "client-certificate-required",
                         "this gateway requires a TLS client certificate issued by its client CA "
                         "([server] client_ca); none was presented")


@web.middleware
async def _client_cert_required(request: web.Request, handler):
    """Refuse a request whose connection carries no verified client certificate, with a clear
    answer. The TLS layer asks for a certificate and verifies any presented one against
    client_ca, but lets a client without one finish the handshake: asyncio's TLS server drops
    the handshake's alert (CPython gh-98078), so a refusal there reaches the client only as a
    bare EOF. Nothing of the request is read or handled here."""
    if peer_of(request, "").cert_der is None:
        if request.path.startswith("/soap"):
            from .soap import fault, version_of
            return fault(NO_CLIENT_CERT, version=version_of(request))
        return problem_response(NO_CLIENT_CERT)
    return await handler(request)
