"""Outbound: submit a record for a partner (idempotent by client reference), its status with
timeline and receipts, and a receipt's signed XML."""
from __future__ import annotations

import json

from aiohttp import web

from ...errors import NotFound
from ...model import TRANSITIONS, Direction, Message
from ...server import read_limited
from ...server.problems import Problem
from . import views
from .auth import grant_of
from .problems import ApiError, field_error

GATEWAY_KEY = web.AppKey("api_gateway", object)
MAX_PAGE_KEY = web.AppKey("api_max_page", int)
OUT_STATES = frozenset(TRANSITIONS[Direction.OUT])
BASE = "/api/messages"
MAX_REF = 200


XML_TYPES = ("application/xml", "text/xml")


async def submit(request: web.Request) -> web.Response:
    """POST /api/messages: build, validate, sign and store; 201 new, 200 same client_ref again.
    A JSON body is a record; an `application/xml` body a complete message (submit_xml)."""
    if request.content_type in XML_TYPES:
        return await submit_xml(request)
    grant = grant_of(request)
    body = await json_body(request)
    errors = [field_error(k, "required, a non-empty string") for k in ("type", "to")
              if not isinstance(body.get(k), str) or not body.get(k)]
    if not isinstance(body.get("record"), dict):
        errors.append(field_error("record", "required, a JSON object (see /api/schemas/{type})"))
    ref = body.get("client_ref")
    if ref is not None and (not isinstance(ref, str) or not 1 <= len(ref) <= MAX_REF):
        errors.append(field_error("client_ref", f"a string of 1 to {MAX_REF} characters"))
    unknown = sorted(set(body) - {"type", "to", "record", "client_ref"})
    errors += [field_error(k, "unknown field") for k in unknown]
    if errors:
        raise ApiError("bad-request", "the body must be {type, to, record, client_ref?}", errors=errors)
    message_type, to = body["type"], body["to"]
    if not grant.allows_type(message_type):
        raise ApiError("forbidden", f"token {grant.name!r} may not send {message_type}")
    if not grant.allows_partner(to):
        raise ApiError("forbidden", f"token {grant.name!r} may not send to {to}")
    gw = request.app[GATEWAY_KEY]
    if ref is not None:
        first = await gw.store.find_client_ref(grant.name, ref)
        if first is not None and (first.message_type, first.partner) != (message_type, to):
            raise ApiError("conflict", f"client_ref {ref!r} was used for {first.message_type} to "
                           f"{first.partner} (message {first.id})")
        if first is not None:   # the same submit again: the first message, nothing built or stored
            return web.json_response(views.message(first), status=200,
                                     headers={"Location": f"{BASE}/{first.id}"})
    try:
        gw.registry.get(message_type)
    except NotFound as exc:
        raise ApiError("invalid-record", str(exc), errors=[field_error("type", str(exc))]) from None
    if gw.directory.find(to) is None:
        raise ApiError("invalid-record", f"partner {to} is not in the directory",
                       errors=[field_error("to", "not in the partner directory (GET /api/partners)")])
    done = await gw.submit_new(message_type, body["record"], to=to, client=grant.name,
                               client_ref=ref, actor=f"api:{grant.name}", ref_checked=True)
    return web.json_response(views.message(done.message), status=201 if done.created else 200,
                             headers={"Location": f"{BASE}/{done.message.id}"})


async def submit_xml(request: web.Request) -> web.Response:
    """POST /api/messages with Content-Type application/xml: the body is a complete, unsigned
    message of a configured standard; `to` and `client_ref` are query parameters. The type is
    the root element, the routing facts come from the standard's header profile."""
    grant = grant_of(request)
    query = request.rel_url.query
    to, ref = query.get("to", ""), query.get("client_ref")
    errors = [] if to else [field_error("to", "required query parameter: the partner id")]
    if ref is not None and not 1 <= len(ref) <= MAX_REF:
        errors.append(field_error("client_ref", f"a string of 1 to {MAX_REF} characters"))
    unknown = sorted(set(query) - {"to", "client_ref"})
    errors += [field_error(k, "unknown query parameter") for k in unknown]
    if errors:
        raise ApiError("bad-request", "an XML submit is POST /api/messages?to=PARTNER[&client_ref=REF]",
                       errors=errors)
    if not grant.allows_partner(to):
        raise ApiError("forbidden", f"token {grant.name!r} may not send to {to}")
    gw = request.app[GATEWAY_KEY]
    if ref is not None:
        first = await gw.store.find_client_ref(grant.name, ref)
        if first is not None and first.partner != to:
            raise ApiError("conflict", f"client_ref {ref!r} was used for {first.message_type} to "
                           f"{first.partner} (message {first.id})")
    if gw.directory.find(to) is None:
        raise ApiError("invalid-record", f"partner {to} is not in the directory",
                       errors=[field_error("to", "not in the partner directory (GET /api/partners)")])
    limit = gw.config.server.max_body_bytes
    raw = await read_limited(request, limit)
    if isinstance(raw, Problem):
        raise ApiError("too-large", f"the body is over the limit of {limit} bytes ([server] max_body_bytes)")

    def authorize(header) -> None:
        if not grant.allows_type(header.root):
            raise ApiError("forbidden", f"token {grant.name!r} may not send {header.root}")

    done = await gw.submit_xml(raw, to=to, client=grant.name, client_ref=ref,
                               actor=f"api:{grant.name}", authorize=authorize)
    return web.json_response(views.message(done.message), status=201 if done.created else 200,
                             headers={"Location": f"{BASE}/{done.message.id}"})


async def list_outbound(request: web.Request) -> web.Response:
    """GET /api/messages: the caller's own submissions (the operator: all outbound), newest
    first, paged; filters state, type, partner, client_ref, since."""
    grant = grant_of(request)
    q = request.query
    limit = views.limit(request, request.app[MAX_PAGE_KEY])
    store = request.app[GATEWAY_KEY].store
    found = await store.list(direction=Direction.OUT, state=views.states(request, OUT_STATES),
                             message_type=q.get("type") or None, partner=q.get("partner") or None,
                             client_ref=q.get("client_ref") or None, since=views.since(request),
                             client=None if grant.operator else grant.name,
                             limit=limit, before_id=views.cursor(request))
    return web.json_response(views.page([views.message(m) for m in found],
                                        found[-1].id if len(found) == limit else None))


async def message_xml(request: web.Request) -> web.Response:
    """GET /api/messages/{id}/xml: the outbound message's signed XML as stored (and sent)."""
    msg = await visible(request, request.match_info["id"])
    if msg.direction is not Direction.OUT:
        raise ApiError("not-found", f"message {msg.id} is a received message: GET /api/inbound/{msg.id}")
    payload = await request.app[GATEWAY_KEY].store.payload(msg.id)
    return web.Response(body=payload, content_type="application/xml",
                        headers={"Digest-SHA256": msg.digest})


async def status(request: web.Request) -> web.Response:
    """GET /api/messages/{id}: metadata, timeline (routing slip) and receipts."""
    store = request.app[GATEWAY_KEY].store
    msg = await visible(request, request.match_info["id"])
    data = views.message(msg)
    data["timeline"] = views.timeline(await store.history(msg.id))
    data["receipts"] = views.receipts(msg.id, await store.receipts(msg.id), BASE)
    return web.json_response(data)


async def receipt(request: web.Request) -> web.Response:
    """GET /api/messages/{id}/receipts/{receipt}: the receipt's signed XML as stored."""
    msg = await visible(request, request.match_info["id"])
    wanted = request.match_info["receipt"]
    for r in await request.app[GATEWAY_KEY].store.receipts(msg.id):
        if str(r.id) == wanted:
            return web.Response(body=r.xml, content_type="application/xml",
                                headers={"Digest-SHA256": r.digest})
    raise ApiError("not-found", f"message {msg.id} has no receipt {wanted}")


async def visible(request: web.Request, msg_id: str) -> Message:
    """The message, if the caller may see it: inbound within its scope, outbound submitted by
    it (the operator sees all). 404 alike for unknown ids and for ids outside the caller's
    scope, so a scoped token cannot learn which message ids exist."""
    grant = grant_of(request)
    msg = await request.app[GATEWAY_KEY].store.get(msg_id)
    if grant.operator:
        return msg
    if ((msg.direction is Direction.OUT and msg.client != grant.name)
            or not grant.allows(msg.message_type, msg.partner)):
        raise NotFound(f"message {msg_id}")
    return msg


async def json_body(request: web.Request) -> dict:
    """The request body as a JSON object; 415 for another media type, 400 for bad JSON."""
    if request.content_type not in ("application/json", "application/octet-stream") and request.can_read_body:
        raise ApiError("unsupported-media-type", f"send Content-Type: application/json, not {request.content_type}")
    limit = request.app[GATEWAY_KEY].config.server.max_body_bytes
    raw = await read_limited(request, limit)
    if isinstance(raw, Problem):
        if raw.status == 413:
            raise ApiError("too-large", f"the body is over the limit of {limit} bytes ([server] max_body_bytes)")
        raise ApiError("unsupported-media-type" if raw.status == 415 else "bad-request", raw.reason)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("bad-request", f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise ApiError("bad-request", "the body is not JSON we read: nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError("bad-request", "the body must be a JSON object")
    return body
