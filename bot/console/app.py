"""The agent console as an aiohttp sub-application, mounted at /console by bot/web/app.py.

    GET  /console/login, POST /console/login, POST /console/logout
    GET  /console/                       queue (live) and my conversations          agent, supervisor
    GET  /console/mine                   my conversations (live)                    agent, supervisor
    GET  /console/all                    all open and taken conversations, reassign supervisor
    GET  /console/conversations/<id>     transcript (live), customer records, actions agent, supervisor
    POST /console/conversations/<id>/take | reply | close | hand-back | offer | cancel | complaint
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

from bot.console import live, pages
from bot.console.auth import make_middleware
from bot.settings import Settings

CONSOLE_DIR = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
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


def default_rasa_api(settings: Settings) -> Any:
    """The Rasa HTTP API client the console uses to pause, resume and send agent messages."""
    from bot.handoff.rasa_api import RasaApi

    return RasaApi(settings)


def create_console_app(settings: Settings, *, rasa_api: Any = None) -> web.Application:
    """The console for `settings`; `rasa_api` defaults to bot.handoff.rasa_api.RasaApi(settings)."""
    app = web.Application(middlewares=[security_headers, make_middleware(settings, pages.forbidden_page)])
    app[pages.SETTINGS_KEY] = settings
    app[pages.TEMPLATES_KEY] = Environment(loader=FileSystemLoader(CONSOLE_DIR / "templates"), autoescape=True,
                                           undefined=StrictUndefined)
    app[pages.RASA_KEY] = rasa_api if rasa_api is not None else default_rasa_api(settings)
    router = app.router
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
                            ("hand-back", pages.hand_back), ("offer", pages.apply_offer), ("cancel", pages.cancel),
                            ("complaint", pages.complaint)):
        router.add_post(rf"/conversations/{{handoff_id:\d+}}/{action}", handler)
    router.add_static("/static", CONSOLE_DIR / "static", append_version=False)
    return app
