"""Inbound: list received messages, fetch one as record (JSON) or as the signed XML, and
acknowledge it as taken over by the backend (-> acknowledged, through the state machine)."""
from __future__ import annotations

import asyncio

from aiohttp import web

from ...errors import StateError
from ...model import Direction, State, Transition
from ..received import received_view
from . import views
from .auth import grant_of
from .outbound import GATEWAY_KEY, MAX_PAGE_KEY, json_body, visible
from .problems import ApiError, field_error

SCAN_ROUNDS = 10          # store pages read per list call before answering with a cursor
JSON, XML = "application/json", "application/xml"


async def list_inbound(request: web.Request) -> web.Response:
    """GET /api/inbound: received messages in the caller's scope, newest first, paged."""
    grant = grant_of(request)
    q = request.query
    message_type, partner = q.get("type") or None, q.get("partner") or None
    if message_type and not grant.allows_type(message_type):
        raise ApiError("forbidden", f"token {grant.name!r} may not use {message_type}")
    if partner and not grant.allows_partner(partner):
        raise ApiError("forbidden", f"token {grant.name!r} may not use partner {partner}")
    cursor = views.cursor(request)
    limit = views.limit(request, request.app[MAX_PAGE_KEY])
    filters = dict(direction=Direction.IN, state=views.states(request), partner=partner,
                   message_type=message_type, since=views.since(request))
    store = request.app[GATEWAY_KEY].store
    found, before = [], cursor
    for _ in range(SCAN_ROUNDS):
        batch = await store.list(limit=limit, before_id=before, **filters)
        for msg in batch:
            if grant.allows(msg.message_type, msg.partner):
                found.append(msg)
                if len(found) == limit:
                    return _page(found, msg.id)
        if len(batch) < limit:
            return _page(found, None)
        before = batch[-1].id
    return _page(found, before)


def _page(found, next_cursor: str | None) -> web.Response:
    return web.json_response(views.page([views.message(m) for m in found], next_cursor))


async def fetch(request: web.Request) -> web.Response:
    """GET /api/inbound/{id}: the header facts and the record (JSON, default; no record for a
    type without a record mapping) or the signed XML as received (`Accept: application/xml`
    or `?format=xml`)."""
    msg = await _inbound(request)
    kind = representation(request)
    gw = request.app[GATEWAY_KEY]
    payload = await gw.store.payload(msg.id)
    if kind == XML:
        return web.Response(body=payload, content_type=XML, headers={"Vary": "Accept"})
    view = await asyncio.to_thread(received_view, gw, payload)
    return web.json_response({"message": views.message(msg), **view}, headers={"Vary": "Accept"})


async def acknowledge(request: web.Request) -> web.Response:
    """POST /api/inbound/{id}/ack: the backend has taken the message over. verified ->
    delivered -> acknowledged (one transaction), delivered -> acknowledged; again: 200."""
    msg = await _inbound(request)
    grant = grant_of(request)
    note = ""
    if request.can_read_body:
        body = await json_body(request)
        note = body.get("note", "")
        if not isinstance(note, str) or len(note) > 500 or set(body) - {"note"}:
            raise ApiError("bad-request", "the body is optional: {\"note\": \"up to 500 characters\"}",
                           errors=[field_error("note", "a string of at most 500 characters")])
    store = request.app[GATEWAY_KEY].store
    msg = await take_over(store, msg, actor=f"api:{grant.name}", by=grant.name, via="the API", note=note)
    if msg.state is not State.ACKNOWLEDGED:
        raise ApiError("conflict", f"message {msg.id} is {msg.state.value}; only verified or "
                       "delivered messages can be acknowledged")
    data = views.message(msg)
    data["timeline"] = views.timeline(await store.history(msg.id))
    return web.json_response(data)


async def take_over(store, msg, *, actor: str, by: str, via: str, note: str = ""):
    """The one acknowledgement rule (API ack, console take-over): verified -> delivered ->
    acknowledged in one transaction, delivered -> acknowledged; a concurrent acknowledgement
    wins quietly. Returns the message as it is now (not acknowledged: it was in another state)."""
    detail = f"taken over by {by}" + (f": {note}" if note else "")
    steps = {State.VERIFIED: [Transition(msg.id, State.DELIVERED, actor, f"fetched via {via} by {by}"),
                              Transition(msg.id, State.ACKNOWLEDGED, actor, detail)],
             State.DELIVERED: [Transition(msg.id, State.ACKNOWLEDGED, actor, detail)]}.get(msg.state)
    if steps:
        try:
            await store.transition_many(steps)
        except StateError:
            pass                              # a concurrent acknowledgement won: look again
    return await store.get(msg.id)


async def _inbound(request: web.Request):
    msg = await visible(request, request.match_info["id"])
    if msg.direction is not Direction.IN:
        raise ApiError("not-found", f"message {msg.id} is outbound: see /api/messages/{msg.id}")
    return msg


def representation(request: web.Request) -> str:
    """JSON or XML by `?format=` or else the Accept header (JSON on a tie); 406 otherwise."""
    fmt = request.query.get("format")
    if fmt is not None:
        if fmt not in ("json", "xml"):
            raise ApiError("bad-request", "format is json or xml", errors=[field_error("format", "json or xml")])
        return XML if fmt == "xml" else JSON
    best, best_q = None, 0.0
    for kind in (JSON, XML):
        q = _quality(request.headers.get("Accept", "*/*"), kind)
        if q > best_q:
            best, best_q = kind, q
    if best is None:
        raise ApiError("not-acceptable", "this resource is available as application/json or application/xml")
    return best


def _quality(accept: str, kind: str) -> float:
    """The q value the Accept header gives `kind` (most specific range wins)."""
    major = kind.split("/")[0]
    found: tuple[int, float] = (-1, 0.0)
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        rank = 2 if media == kind else 1 if media == f"{major}/*" else 0 if media == "*/*" else -1
        if rank > found[0]:
            found = (rank, q)
    return found[1]
