"""The clerk's digital mailbox: the inbound messages of the clerk's units (newest first,
unread marked), one as a read-only form rendered from its schema, taking it over (the
API's acknowledgement) and answering a birth-certificate application through the gateway."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..backend.api.inbound import take_over
from ..errors import GatewayError, MessageError
from ..model import Direction, State
from ..store.tables import console_reads
from . import answers
from .operator_pages import load_message, record_of
from .web import actor, console_of, fail, render, require, session_of

CLERK = "clerk"


async def mailbox(request: web.Request) -> web.Response:
    """GET /console/mailbox[?before=ID]: the unit's messages, newest first."""
    if (denied := require(request, CLERK)) is not None:
        return denied
    console = console_of(request)
    user = session_of(request).user
    before = request.query.get("before") or None
    found, more = await console.units.mailbox(user.units, limit=console.page_size, before_id=before)
    read = await _read_ids(console.gw.store, user.name, [m.id for m in found])
    return render(request, "mailbox.html", messages=found, read=read, more=more,
                  units=[console.units.title(u) for u in user.units])


async def _read_ids(store, user: str, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    r = console_reads.c
    async with store.reading() as conn:
        rows = (await conn.execute(select(r.message_id).where(r.user_name == user, r.message_id.in_(ids)))).all()
    return {row.message_id for row in rows}


async def _mark_read(store, user: str, msg_id: str, at) -> None:
    try:
        async with store.writing() as conn:
            await conn.execute(console_reads.insert().values(message_id=msg_id, user_name=user, at=at))
    except IntegrityError:
        pass                                  # opened twice at once: read either way


async def _own(request: web.Request):
    """(message, None) when it is in the clerk's units, else (None, the 403/404 page)."""
    if (denied := require(request, CLERK)) is not None:
        return None, denied
    msg = await load_message(request)
    if msg is None:
        return None, fail(request, 404, "not_found")
    if not await console_of(request).units.of(msg, session_of(request).user.units):
        await console_of(request).gw.store.audit("console.forbidden", actor=actor(request), message_id=msg.id,
                                                 details={"path": request.path})
        return None, fail(request, 403, "forbidden")
    return msg, None


async def _answer_of(store, msg):
    """Our answer to this message, if one was sent from the console."""
    found = await store.list(direction=Direction.OUT, client_ref=answers.client_ref(msg.id), limit=1)
    return found[0] if found else None


async def letter(request: web.Request, *, error: str = "", form: answers.AnswerForm | None = None,
                 status: int = 200) -> web.Response:
    """GET /console/mailbox/{id}: the message as a form (never as markup from its content)."""
    msg, denied = await _own(request)
    if denied is not None:
        return denied
    console = console_of(request)
    store = console.gw.store
    first_view = not await _read_ids(store, session_of(request).user.name, [msg.id])
    if first_view:
        await _mark_read(store, session_of(request).user.name, msg.id, console.gw.clock())
        await store.audit("console.opened", actor=actor(request), message_id=msg.id)
    fields, files, record_error = await record_of(request, msg, await store.payload(msg.id))
    reasons = console.gw.registry.codelists.get(answers.REASONS_LIST)
    header = [f for f in fields if f.key.startswith("nachrichtenkopf")]   # routing facts: folded away
    return render(request, "letter.html", status=status, msg=msg, attachments=files,
                  header=header, fields=[f for f in fields if f not in header],
                  record_error=record_error, answerable=answers.answerable(msg.message_type),
                  answer=await _answer_of(store, msg), error=error,
                  form=form or answers.AnswerForm(decision="accept", fee="12.00",
                                                  dispatch=console.gw.clock().date().isoformat()),
                  reasons=sorted(reasons.codes.items()) if reasons is not None else [],
                  taken=msg.state is State.ACKNOWLEDGED, attachment_base=f"/console/messages/{msg.id}")


async def take(request: web.Request) -> web.Response:
    """POST /console/mailbox/{id}/take: acknowledged, as the backend API's ack does."""
    msg, denied = await _own(request)
    if denied is not None:
        return denied
    user = session_of(request).user.name
    await take_over(console_of(request).gw.store, msg, actor=actor(request), by=user, via="the console")
    raise web.HTTPSeeOther(f"/console/mailbox/{msg.id}")


async def answer(request: web.Request) -> web.Response:
    """POST /console/mailbox/{id}/answer: build, sign and send the answer to the sender."""
    msg, denied = await _own(request)
    if denied is not None:
        return denied
    if not answers.answerable(msg.message_type):
        return fail(request, 404, "not_found")
    console = console_of(request)
    gw = console.gw
    data = await request.post()
    form = answers.AnswerForm(**{k: str(data.get(k, ""))[:2000] for k in
                                 ("decision", "fee", "dispatch", "reason", "text")})
    reasons = gw.registry.codelists.get(answers.REASONS_LIST)
    try:
        record = answers.answer_record(form, reference_uuid=msg.message_uuid, authority=gw.authority,
                                       reasons=reasons)
        sent = await gw.submit(answers.ANSWER, record, to=msg.partner, client=answers.CLIENT,
                               client_ref=answers.client_ref(msg.id), actor=actor(request))
    except (MessageError, GatewayError) as exc:
        return await letter(request, error=str(exc), form=form, status=400)
    await gw.store.audit("console.answered", actor=actor(request), message_id=msg.id,
                         details={"answer": sent.id, "decision": form.decision})
    if msg.state is not State.ACKNOWLEDGED:
        await take_over(gw.store, msg, actor=actor(request), by=session_of(request).user.name,
                        via="the console", note="answered")
    raise web.HTTPSeeOther(f"/console/mailbox/{msg.id}")


ROUTES = [
    ("GET", "/mailbox", mailbox),
    ("GET", "/mailbox/{id}", letter),
    ("POST", "/mailbox/{id}/take", take),
    ("POST", "/mailbox/{id}/answer", answer),
]
