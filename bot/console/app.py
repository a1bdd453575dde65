"""The agent console: routes under /console that bot/web/app.py adds to the web app (`install_console`).

Not an aiohttp sub-application (add_subapp): with the pinned aiohttp 3.9.5 and yarl 1.25, resolving a
sub-application's prefix builds `request.url`, which fails for every Host header with a port. The routes are
added to the web app under /console instead, and the console's middlewares act on those paths only.

    GET  /console/login, POST /console/login, POST /console/logout
    GET  /console/                       queue (live) and my conversations          agent, supervisor
    GET  /console/mine                   my conversations (live)                    agent, supervisor
    GET  /console/all                    all open and taken conversations, reassign supervisor
    GET  /console/conversations/<id>     transcript (live), customer records, actions agent, supervisor
    POST /console/conversations/<id>/take | reply | close | hand-back | resume | offer | cancel | complaint
    POST /console/reassign                                                          supervisor
    GET  /console/events                 live channel (server-sent events)          agent, supervisor
    GET  /console/static/...             the console's script and stylesheet

Access rules and CSRF: bot/console/auth.py. Pages are Jinja2 templates with autoescaping on; the script
(static/console.js) builds live rows with textContent only, and the Content-Security-Policy allows scripts
from this site only, so customer text can never run as code in an agent's browser.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.console import delivery, live, pages
from bot.console.auth import access_rule, make_middleware
from bot.settings import Settings

CONSOLE_DIR = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


PREFIX = "/console"


def is_console_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    if not is_console_path(request.path):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exception:
        exception.headers.update(SECURITY_HEADERS)
        exception.headers.setdefault("Cache-Control", "no-store")
        raise
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
        if not request.path.startswith("/console/static/"):
            response.headers["Cache-Control"] = "no-store"
    return response


class RasaConnection:
    """The Rasa HTTP API client the console uses to pause, resume and send agent messages, made on first use
    (so that the web app starts, and shows the pages, when Rasa's API is not configured), closed at shutdown."""

    def __init__(self, settings: Settings, api: Any = None) -> None:
        self._settings, self._api = settings, api

    def get(self) -> Any:
        if self._api is None:
            from bot.handoff.rasa_api import RasaApi

            self._api = RasaApi(self._settings)
        return self._api

    async def close(self, _app: web.Application | None = None) -> None:
        if self._api is not None and hasattr(self._api, "aclose"):
            await self._api.aclose()


def install_console(app: web.Application, settings: Settings, *, rasa_api: Any = None) -> None:
    """Add the console for `settings` to `app` under /console; `rasa_api` defaults to
    bot.handoff.rasa_api.RasaApi(settings), made on first use."""
    app.middlewares.append(security_headers)
    app.middlewares.append(make_middleware(settings, pages.forbidden_page, applies_to=is_console_path))
    app[pages.SETTINGS_KEY] = settings
    app[pages.TEMPLATES_KEY] = Environment(loader=FileSystemLoader(CONSOLE_DIR / "templates"), autoescape=True,
                                           undefined=StrictUndefined)
    connection = RasaConnection(settings, rasa_api)
    app[pages.RASA_KEY] = connection
    app.on_cleanup.append(connection.close)
    delivery.install_retry(app, settings, connection)
    app[live.STREAMS_KEY] = set()
    app.on_shutdown.append(live.end_streams)
    add = app.router
    router = _Prefixed(add)
    add.add_get(PREFIX, _console_root)
    router.add_get("/login", pages.login_form)
    router.add_post("/login", pages.login_submit)
    router.add_post("/logout", pages.logout)
    router.add_get("/", pages.queue_page)
    router.add_get("/mine", pages.mine_page)
    router.add_get("/all", pages.all_page)
    router.add_post("/reassign", pages.reassign)
    router.add_get("/events", live.events)
    router.add_get(r"/conversations/{handoff_id:\d+}", pages.conversation_page)
    for action, handler in (("take", pages.take), ("reply", pages.reply), ("close", pages.close),
                            ("hand-back", pages.hand_back), ("resume", pages.resume), ("offer", pages.apply_offer), ("cancel", pages.cancel),
                            ("complaint", pages.complaint)):
        router.add_post(rf"/conversations/{{handoff_id:\d+}}/{action}", handler)
    add.add_static(PREFIX + "/static", CONSOLE_DIR / "static", append_version=False)


class _Prefixed:
    def __init__(self, router: web.UrlDispatcher) -> None:
        self._router = router

    def add_get(self, path: str, handler: Any) -> None:
        self._router.add_get(PREFIX + path, handler, allow_head=False)

    def add_post(self, path: str, handler: Any) -> None:
        self._router.add_post(PREFIX + path, handler)


@access_rule(roles=None)
async def _console_root(request: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect(PREFIX + "/")
