"""The console's aiohttp application (mounted at /console/ by the composition root).

Every answer carries a Content-Security-Policy that allows nothing but our own stylesheet
(no script at all, no inline style, no frames, forms only to us), nosniff, no referrer
across origins and no caching of pages. Every page but the login page and the stylesheet
needs a session cookie (HttpOnly, SameSite=Strict, Secure when the server runs TLS or
[console] secure_cookie is set); every POST needs the session's CSRF token in the form
field `csrf` (the login form: the token of the pre-login cookie). Roles decide the pages:
operator everything of the operator's console, auditor reading messages and the audit log,
clerk the mailbox of their units.
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from . import i18n
from .accounts import Accounts
from .sessions import Session, Sessions
from .status import Status
from .throttle import LoginThrottle
from .units import Units

HERE = Path(__file__).resolve().parent
SESSION_COOKIE, LOGIN_COOKIE, LANG_COOKIE = "gw_session", "gw_login", "gw_lang"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
OPEN_PATHS = ("login", "static/", "lang/")


@dataclass
class Console:
    """What the pages share: the gateway and the console's parts."""

    gw: Any
    accounts: Accounts
    sessions: Sessions
    throttle: LoginThrottle
    units: Units
    status: Status
    templates: jinja2.Environment
    secure: bool
    page_size: int


CONSOLE_KEY = web.AppKey("console", Console)
SESSION_KEY = web.RequestKey("console_session", Session)


def templates() -> jinja2.Environment:
    """The Jinja2 environment of the shipped templates; every value is HTML-escaped."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = lambda dt: dt.strftime("%Y-%m-%d %H:%M:%S") if dt else ""
    env.filters["query"] = lambda values: urlencode({k: v for k, v in values.items() if v})
    return env


def create_console(gateway, *, secure: bool | None = None) -> web.Application:
    """The /console/ sub-application of a wired gateway (`secure`: Secure cookies; default:
    when the server runs TLS or [console] secure_cookie is set)."""
    from . import login_pages, mailbox_pages, operator_pages

    config = gateway.config
    sec = config.console
    console = Console(
        gw=gateway, accounts=Accounts(gateway.store, clock=gateway.clock),
        sessions=Sessions(gateway.store, sec.session_minutes, clock=gateway.clock),
        throttle=LoginThrottle(sec.login_failures, sec.login_lock_seconds),
        units=Units(sec.units, gateway.store, gateway.limits, read=gateway.headers.read),
        status=Status(gateway), templates=templates(),
        secure=bool(config.server.tls_cert) or sec.secure_cookie if secure is None else secure,
        page_size=sec.page_size)
    app = web.Application(middlewares=[security_headers, authenticate])
    app[CONSOLE_KEY] = console
    for routes in (login_pages.ROUTES, operator_pages.ROUTES, mailbox_pages.ROUTES):
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
    app.router.add_static("/static/", HERE / "static", append_version=False)
    return app


def console_of(request: web.Request) -> Console:
    return request.config_dict[CONSOLE_KEY]


def session_of(request: web.Request) -> Session:
    return request[SESSION_KEY]


def actor(request: web.Request) -> str:
    """The audit actor of a console request: console:<user>."""
    return f"console:{session_of(request).user.name}"


def lang_of(request: web.Request) -> str:
    return i18n.choose(request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language"))


def render(request: web.Request, template: str, status: int = 200, **context) -> web.Response:
    """A page of the console in the request's language."""
    lang = lang_of(request)
    session = request.get(SESSION_KEY)
    body = console_of(request).templates.get_template(template).render(
        t=i18n.translator(lang), lang=lang, session=session, user=session.user if session else None,
        base="/console/", path=request.path_qs, **context)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def fail(request: web.Request, status: int, key: str, **values) -> web.Response:
    """An error page (403, 404, ...) with a translated message."""
    return render(request, "error.html", status=status, message=i18n.translator(lang_of(request))(key, **values))


def require(request: web.Request, *roles: str) -> web.Response | None:
    """None when the user has one of `roles`; else the 403 page (the caller returns it)."""
    if session_of(request).user.role in roles:
        return None
    return fail(request, 403, "forbidden")


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str,
               max_age: int | None = None) -> None:
    console = console_of(request)
    response.set_cookie(name, value, path="/console/", httponly=True, samesite="Strict",
                        secure=console.secure, max_age=max_age)


@web.middleware
async def security_headers(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith("/console/static/"):
        response.headers["Cache-Control"] = "no-store"
    if isinstance(response, web.HTTPException):
        raise response
    return response


def _open(request: web.Request) -> bool:
    rel = request.path[len("/console/"):] if request.path.startswith("/console/") else request.path
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in OPEN_PATHS)


@web.middleware
async def authenticate(request: web.Request, handler):
    """Session for every page but the open ones; the CSRF token for every POST."""
    console = console_of(request)
    session = await console.sessions.find(request.cookies.get(SESSION_COOKIE, ""))
    if session is not None:
        request[SESSION_KEY] = session
    if request.method == "POST":
        form = await request.post()
        sent = str(form.get("csrf", ""))
        expected = session.csrf if session is not None and not _open(request) \
            else request.cookies.get(LOGIN_COOKIE, "")
        if not sent or not expected or not hmac.compare_digest(sent, expected):
            await console.gw.store.audit("console.csrf_refused", actor=actor(request) if session else "console:-",
                                         details={"path": request.path, "remote": request.remote or ""})
            return fail(request, 403, "csrf_refused")
    if _open(request):
        return await handler(request)
    if session is None:
        raise web.HTTPSeeOther("/console/login?" + urlencode({"next": request.path_qs}))
    return await handler(request)


def new_login_token() -> str:
    return secrets.token_urlsafe(32)
