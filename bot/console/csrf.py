"""CSRF protection for the console: every POST carries the session's secret token, and comes from this site.

Synchronizer-token pattern: the token is random per login (bot/console/sessions.py), put into every form as
a hidden field `csrf_token` (or sent as header X-CSRF-Token) and compared in constant time. The login form,
which has no session yet, uses a double-submit token: a random value in a SameSite=Strict, HttpOnly cookie
and the same value in the form. A POST whose Origin (or Referer) names another site is refused as well.
"""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from aiohttp import web

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
LOGIN_COOKIE = "console_login_csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


async def submitted_token(request: web.Request) -> str | None:
    """The token the request carries: header, else the form field."""
    header = request.headers.get(HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    return None


def same_origin(request: web.Request) -> bool:
    """False when the browser says the request comes from a page of another origin."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return source is None
    # Host and port only: behind a proxy that ends TLS the scheme the app sees differs from the browser's.
    return urlsplit(source).netloc == request.host
