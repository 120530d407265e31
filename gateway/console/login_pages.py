"""Logging in and out, the language switch, and the start page (by role)."""
from __future__ import annotations

from aiohttp import web

from . import i18n
from .web import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    console_of,
    new_login_token,
    render,
    session_of,
    set_cookie,
)


def _next(value: str) -> str:
    """Only a path inside the console (no open redirect)."""
    return value if value.startswith("/console/") and not value.startswith("//") else "/console/"


async def login_form(request: web.Request) -> web.Response:
    """GET /console/login: the form, with a fresh pre-login CSRF token in a cookie."""
    return _form(request, "", 200)


def _form(request: web.Request, error: str, status: int, form=None) -> web.Response:
    token = new_login_token()
    response = render(request, "login.html", status=status, csrf=token, error=error,
                      next=_next(request.query.get("next", "") or str(form.get("next", "") if form else "")))
    set_cookie(response, request, LOGIN_COOKIE, token)
    return response


async def login(request: web.Request) -> web.Response:
    """POST /console/login: throttled per account and per address; audited either way."""
    console = console_of(request)
    form = await request.post()
    name, password = str(form.get("user", "")).strip()[:100], str(form.get("password", ""))
    keys = (f"user:{name.lower()}", f"addr:{request.remote or ''}")
    t = i18n.translator(i18n.choose(request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language")))
    wait = console.throttle.locked(*keys)
    if wait > 0:
        await console.gw.store.audit("console.login_throttled", actor=f"console:{name or '-'}",
                                     details={"remote": request.remote or ""})
        return _form(request, t("login_locked", seconds=int(wait) + 1), 429, form)
    user = await console.accounts.authenticate(name, password)
    if user is None:
        console.throttle.failed(*keys)
        await console.gw.store.audit("console.login_failed", actor=f"console:{name or '-'}",
                                     details={"remote": request.remote or ""})
        return _form(request, t("login_failed"), 401, form)
    console.throttle.succeeded(keys[0])
    cookie, _ = await console.sessions.start(user)
    await console.gw.store.audit("console.login", actor=f"console:{user.name}",
                                 details={"remote": request.remote or "", "role": user.role})
    response = web.HTTPSeeOther(_next(str(form.get("next", ""))))
    set_cookie(response, request, SESSION_COOKIE, cookie, max_age=console.sessions.minutes * 60)
    response.del_cookie(LOGIN_COOKIE, path="/console/")
    raise response


async def logout(request: web.Request) -> web.Response:
    """POST /console/logout: the session ends."""
    console = console_of(request)
    await console.sessions.end(request.cookies.get(SESSION_COOKIE, ""))
    await console.gw.store.audit("console.logout", actor=f"console:{session_of(request).user.name}")
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(SESSION_COOKIE, path="/console/")
    raise response


async def language(request: web.Request) -> web.Response:
    """GET /console/lang/{de|en}?next=PATH: remember the language (a preference cookie)."""
    lang = request.match_info["lang"]
    response = web.HTTPSeeOther(_next(request.query.get("next", "")))
    if lang in i18n.LANGUAGES:
        set_cookie(response, request, LANG_COOKIE, lang, max_age=365 * 86400)
    raise response


async def start(request: web.Request) -> web.Response:
    """GET /console/: the clerk's mailbox, else the dashboard (operator) or messages (auditor)."""
    role = session_of(request).user.role
    raise web.HTTPSeeOther({"clerk": "/console/mailbox", "operator": "/console/dashboard"}
                           .get(role, "/console/messages"))


ROUTES = [
    ("GET", "/login", login_form),
    ("POST", "/login", login),
    ("POST", "/logout", logout),
    ("GET", "/lang/{lang}", language),
    ("GET", "/", start),
]
