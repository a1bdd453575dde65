"""Who is asking: the console's login cookie, roles, and the access rule every console route goes through.

Default deny: a route answers only to a valid session of a role allowed for it (agent pages: agent and
supervisor; supervisor pages: supervisor); the login form and the static files are the exceptions. Every POST
also needs the CSRF token (bot/console/csrf.py). A page request without a valid session is sent to the login
form; anything else gets 401. A logged-in user whose role may not use the route gets 403.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from aiohttp import web

from bot.channels.client_address import client_address, parse_networks
from bot.console import csrf
from bot.console.sessions import Lifetime, Login, valid_login
from bot.records.database import transaction
from bot.settings import Settings, console_cookies_secure

COOKIE = "console_session"
COOKIE_PATH = "/console"
AGENT_ROLES = frozenset({"agent", "supervisor"})
SUPERVISOR_ROLES = frozenset({"supervisor"})
LOGIN_KEY = "console_login"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def lifetime(settings: Settings) -> Lifetime:
    return Lifetime(idle=timedelta(minutes=settings.console_idle_minutes),
                    maximum=timedelta(hours=settings.console_session_hours))


def now() -> datetime:
    return datetime.now(timezone.utc)


def requester(request: web.Request, settings: Settings) -> str:
    """The client's address (behind TRUSTED_PROXIES, what they report), for the login rate limit."""
    return client_address(request.remote, request.headers.get("X-Forwarded-For"),
                          parse_networks(settings.trusted_proxies))


def set_cookie(response: web.StreamResponse, name: str, value: str, settings: Settings) -> None:
    response.set_cookie(name, value, path=COOKIE_PATH, httponly=True, samesite="Strict",
                        secure=console_cookies_secure(settings))


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=COOKIE_PATH)


def login_of(request: web.Request) -> Login:
    """The login the access check found (only on routes that need one)."""
    return request[LOGIN_KEY]


async def load_login(request: web.Request, settings: Settings, *, touch: bool = True) -> Login | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None

    def load() -> Login | None:
        with transaction(settings.database_url) as session:
            return valid_login(session, token=token, lifetime=lifetime(settings), now=now(), touch=touch)

    return await asyncio.to_thread(load)


def access_rule(*, roles: frozenset[str] | None, page: bool = True) -> Callable[[Handler], Handler]:
    """Mark a handler with who may use it: `roles` (None: anyone, e.g. the login form); `page`: a browser
    page (anonymous visitors are sent to the login form) rather than an API or live channel (401)."""

    def mark(handler: Handler) -> Handler:
        handler.console_roles = roles  # type: ignore[attr-defined]
        handler.console_page = page  # type: ignore[attr-defined]
        return handler

    return mark


def refusal(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


def make_middleware(settings: Settings, forbidden_page: Callable[[web.Request, Login], web.Response], *,  # type: ignore[no-untyped-def]
                    applies_to: Callable[[str], bool]):
    """The middleware that applies each console route's access rule (console routes without one are refused);
    `applies_to` says which paths are the console's."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not applies_to(request.path):
            return await handler(request)
        route_handler = request.match_info.handler
        if not hasattr(route_handler, "console_roles"):
            if request.match_info.http_exception is not None:
                raise request.match_info.http_exception
            if request.path.startswith(f"{COOKIE_PATH}/static/"):
                return await handler(request)
            return refusal(403, "Kein Zugriff.")
        roles = route_handler.console_roles
        if request.method == "POST" and not csrf.same_origin(request):
            return refusal(403, "Anfrage von einer fremden Seite abgelehnt.")
        if roles is None:
            return await handler(request)
        login = await load_login(request, settings)
        if login is None:
            if route_handler.console_page and request.method == "GET":
                raise web.HTTPSeeOther(f"{COOKIE_PATH}/login")
            return refusal(401, "Bitte melden Sie sich an.")
        if login.role not in roles:
            return forbidden_page(request, login)
        if request.method == "POST" and not csrf.tokens_match(login.csrf_token, await csrf.submitted_token(request)):
            return refusal(403, "Ungültiges oder fehlendes Sicherheits-Token (CSRF). Bitte laden Sie die Seite neu.")
        request[LOGIN_KEY] = login
        return await handler(request)

    return guard
