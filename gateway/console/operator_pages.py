"""The operator's console: dashboard, messages (search, a message's page, retry and cancel
with a confirmation), partners, the audit log (verify, export a range), API tokens. Auditors
read messages and the audit log; clerks see none of these pages (403)."""
from __future__ import annotations

import asyncio
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web

from .. import xml as hardened
from ..errors import GatewayError, MessageError, NotFound, StateError
from ..exchange import receipts as rc
from ..model import CANCELLABLE, RETRYABLE, Direction, State
from .record_view import RecordView, tree_fields
from .web import actor, console_of, fail, render, require, session_of
from .xml_view import tokens

OPERATOR, AUDITOR = "operator", "auditor"
MESSAGE_ID = re.compile(r"[0-9a-f]{32}")


async def dashboard(request: web.Request) -> web.Response:
    """GET /console/dashboard."""
    if (denied := require(request, OPERATOR)) is not None:
        return denied
    data = await console_of(request).status.dashboard()
    return render(request, "dashboard.html", **data)


def _time(text: str, field: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise MessageError(f"{field}: {text!r} is not a date or date-time (2026-12-01 or 2026-12-01T08:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


FILTERS = ("direction", "state", "partner", "type", "since", "until", "uuid", "ref")


async def messages(request: web.Request) -> web.Response:
    """GET /console/messages: search and filter, newest first, paginated by cursor."""
    if (denied := require(request, OPERATOR, AUDITOR)) is not None:
        return denied
    console = console_of(request)
    q = {k: request.query.get(k, "").strip() for k in FILTERS}
    cursor = request.query.get("before", "")
    error, found, more = "", [], None
    try:
        direction = Direction(q["direction"]) if q["direction"] else None
        state = State(q["state"]) if q["state"] else None
    except ValueError:
        direction = state = None
        error = "direction/state: unknown value"
    if not error:
        try:
            found = await console.gw.store.list(
                direction=direction, state=state, partner=q["partner"] or None,
                message_type=q["type"] or None, since=_time(q["since"], "from"),
                until=_time(q["until"], "until"), message_uuid=q["uuid"] or None,
                client_ref=q["ref"] or None, limit=console.page_size + 1,
                before_id=cursor if MESSAGE_ID.fullmatch(cursor) else None)
        except MessageError as exc:
            error = str(exc)
        if len(found) > console.page_size:
            found = found[:console.page_size]
            more = found[-1].id
    return render(request, "messages.html", status=400 if error else 200, messages=found, q=q,
                  more=more, paged=bool(cursor), error=error, states=[s.value for s in State],
                  partners=sorted(console.gw.config.partners),
                  types=[t.id for t in console.gw.registry.types()])


async def load_message(request: web.Request):
    """The message of the path, or None (the caller answers 404)."""
    msg_id = request.match_info["id"]
    if not MESSAGE_ID.fullmatch(msg_id):
        return None
    try:
        return await console_of(request).gw.store.get(msg_id)
    except NotFound:
        return None


async def record_of(request: web.Request, msg, payload: bytes):
    """(fields, attachments, error) of a message's record (our types from their schema plan,
    any other type as its element tree); error text when it cannot be read."""
    gw = console_of(request).gw
    try:
        type_id, record = await asyncio.to_thread(gw.registry.received_record, payload, gw.limits)
        view = RecordView(gw.registry.get(type_id).plan, gw.registry.codelists)
        return view.fields(record), view.attachments, ""
    except NotFound:                                  # a third-party standard's type: its elements
        try:
            root = await asyncio.to_thread(lambda: hardened.parse(payload, gw.limits).getroot())
        except GatewayError as exc:
            return [], [], str(exc)
        return tree_fields(root), [], ""
    except GatewayError as exc:
        return [], [], str(exc)


def _receipt_view(receipt) -> dict:
    codes, summary = [], ""
    try:
        info = rc.read(hardened.parse(receipt.xml).getroot())
        codes = [(f.code, f.text) for f in info.feedback]
    except (GatewayError, ValueError, AttributeError):
        summary = ""
    return {"id": receipt.id, "kind": receipt.kind, "positive": receipt.positive, "at": receipt.at,
            "detail": receipt.detail, "codes": codes, "summary": summary}


async def message(request: web.Request) -> web.Response:
    """GET /console/messages/{id}: timeline, receipts with feedback codes, record, XML, error."""
    if (denied := require(request, OPERATOR, AUDITOR)) is not None:
        return denied
    msg = await load_message(request)
    if msg is None:
        return fail(request, 404, "not_found")
    gw = console_of(request).gw
    payload = await gw.store.payload(msg.id)
    fields, files, record_error = await record_of(request, msg, payload)
    xml = await asyncio.to_thread(tokens, payload, gw.limits)
    done = request.query.get("done", "")
    return render(request, "message.html", msg=msg, history=await gw.store.history(msg.id),
                  receipts=[_receipt_view(r) for r in await gw.store.receipts(msg.id)],
                  fields=fields, attachments=files, record_error=record_error, xml=xml,
                  can_retry=msg.direction is Direction.OUT and msg.state in RETRYABLE,
                  can_cancel=msg.direction is Direction.OUT and msg.state in CANCELLABLE,
                  done=done if done in ("retry", "cancel") else "", attachment_base=f"/console/messages/{msg.id}")


async def confirm(request: web.Request) -> web.Response:
    """GET /console/messages/{id}/{retry|cancel}: the confirmation (works without script)."""
    if (denied := require(request, OPERATOR)) is not None:
        return denied
    msg = await load_message(request)
    if msg is None:
        return fail(request, 404, "not_found")
    return render(request, "confirm.html", msg=msg, action=request.match_info["action"])


async def act(request: web.Request) -> web.Response:
    """POST /console/messages/{id}/{retry|cancel}: do it (the store's operator moves, audited)."""
    if (denied := require(request, OPERATOR)) is not None:
        return denied
    msg = await load_message(request)
    if msg is None:
        return fail(request, 404, "not_found")
    action = request.match_info["action"]
    store = console_of(request).gw.store
    try:
        if action == "retry":
            await store.retry(msg.id, actor=actor(request), detail=f"retry requested in the console by {actor(request)}")
        else:
            await store.cancel(msg.id, actor=actor(request), detail=f"cancelled in the console by {actor(request)}")
    except StateError as exc:
        return render(request, "error.html", status=409, message=str(exc))
    raise web.HTTPSeeOther(f"/console/messages/{msg.id}?done={action}")


async def attachment(request: web.Request) -> web.StreamResponse:
    """GET /console/messages/{id}/attachments/{n}: the file, always as a download."""
    msg = await load_message(request)
    if msg is None:
        return fail(request, 404, "not_found")
    session = session_of(request)
    if session.user.role == "clerk":
        if not await console_of(request).units.of(msg, session.user.units):
            return fail(request, 403, "forbidden")
    elif (denied := require(request, OPERATOR, AUDITOR)) is not None:
        return denied
    gw = console_of(request).gw
    _, files, _ = await record_of(request, msg, await gw.store.payload(msg.id))
    index = request.match_info["n"]
    found = files[int(index)] if index.isdigit() and int(index) < len(files) else None
    if found is None or found.content is None:
        return fail(request, 404, "not_found")
    await gw.store.audit("console.attachment_downloaded", actor=actor(request), message_id=msg.id,
                         details={"file": found.name})
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", found.name) or "attachment"
    return web.Response(body=found.content, headers={
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{safe}"'})


async def partners(request: web.Request) -> web.Response:
    """GET /console/partners: the directory with trust certificates and their expiry."""
    if (denied := require(request, OPERATOR)) is not None:
        return denied
    from .status import certificates, partners as directory
    certs = await certificates(console_of(request).status, console_of(request).gw.clock())
    return render(request, "partners.html", partners=directory(console_of(request).gw),
                  certificates=certs)


async def audit(request: web.Request) -> web.Response:
    """GET /console/audit: chain status (verified again with ?verify=1), latest entries, export form."""
    if (denied := require(request, OPERATOR, AUDITOR)) is not None:
        return denied
    console = console_of(request)
    fresh = request.query.get("verify") == "1"
    chain = await console.status.chain(fresh=fresh)
    if fresh:
        await console.gw.store.audit("console.audit_verified", actor=actor(request),
                                     details={"count": chain.count, "intact": chain.intact})
    latest = []
    rng = await console.gw.store.audit_range()
    if rng is not None:
        first = max(rng[0], rng[1] - 29)
        latest = [e async for e in console.gw.store.audit_entries(first, rng[1])][::-1]
    return render(request, "audit.html", chain=chain, entries=latest, error="")


async def audit_export(request: web.Request) -> web.StreamResponse:
    """GET /console/audit/export?since=&until=: the zip of `gateway audit export`."""
    if (denied := require(request, OPERATOR, AUDITOR)) is not None:
        return denied
    console = console_of(request)
    try:
        since = _time(request.query.get("since", ""), "from")
        until = _time(request.query.get("until", ""), "until")
    except MessageError as exc:
        return render(request, "error.html", status=400, message=str(exc))
    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "audit-export.zip"
        manifest = await console.gw.store.export_audit(dest, since=since, until=until)
        body = dest.read_bytes()
    await console.gw.store.audit("console.audit_exported", actor=actor(request),
                                 details={"count": manifest["count"], "sha256": manifest["sha256"]})
    return web.Response(body=body, headers={"Content-Type": "application/zip",
                                            "Content-Disposition": 'attachment; filename="audit-export.zip"'})


async def token_list(request: web.Request, *, created: tuple[str, str] | None = None, error: str = "",
                     status: int = 200) -> web.Response:
    """GET /console/tokens: the backend systems' API tokens (never the tokens themselves)."""
    if (denied := require(request, OPERATOR)) is not None:
        return denied
    from ..backend.tokens import Tokens
    found = await Tokens(console_of(request).gw.store).list()
    return render(request, "tokens.html", status=status, tokens=found, created=created, error=error)


async def token_create(request: web.Request) -> web.Response:
    """POST /console/tokens: make a token and show it once."""
    if (denied := require(request, OPERATOR)) is not None:
        return denied
    from ..backend.tokens import Tokens
    form = await request.post()
    name = str(form.get("name", "")).strip()
    try:
        token = await Tokens(console_of(request).gw.store).create(
            name, types=str(form.get("types", "")).split(), partners=str(form.get("partners", "")).split(),
            actor=actor(request), replace=form.get("replace") == "1")
    except GatewayError as exc:
        return await token_list(request, error=str(exc), status=400)
    return await token_list(request, created=(name, token))


async def token_revoke(request: web.Request) -> web.Response:
    """POST /console/tokens/{name}/revoke."""
    if (denied := require(request, OPERATOR)) is not None:
        return denied
    from ..backend.tokens import Tokens
    try:
        await Tokens(console_of(request).gw.store).revoke(request.match_info["name"], actor=actor(request))
    except GatewayError as exc:
        return await token_list(request, error=str(exc), status=400)
    raise web.HTTPSeeOther("/console/tokens")


ROUTES = [
    ("GET", "/dashboard", dashboard),
    ("GET", "/messages", messages),
    ("GET", "/messages/{id}", message),
    ("GET", "/messages/{id}/{action:retry|cancel}", confirm),
    ("POST", "/messages/{id}/{action:retry|cancel}", act),
    ("GET", "/messages/{id}/attachments/{n}", attachment),
    ("GET", "/partners", partners),
    ("GET", "/audit", audit),
    ("GET", "/audit/export", audit_export),
    ("GET", "/tokens", token_list),
    ("POST", "/tokens", token_create),
    ("POST", "/tokens/{name}/revoke", token_revoke),
]
