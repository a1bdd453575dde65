"""Start rasa-sdk's action server so that it only runs actions for the Rasa server that holds the shared secret.

rasa-sdk 3.6.2 executes whatever tracker any client posts to /webhook and listens on `SANIC_HOST`
(default 0.0.0.0). Here, through rasa-sdk's own plugin hook (`attach_sanic_app_extensions`):

- every request except `GET /health` must carry `Authorization: Bearer <ACTION_SERVER_TOKEN>`
  (compared in constant time); anything else gets 401 before an action runs;
- the server listens on ACTION_SERVER_HOST (default 127.0.0.1), passed to rasa-sdk as SANIC_HOST.

Rasa sends the header from its endpoints file (`bot.rasa_endpoints`), which names the variable
(`${ACTION_SERVER_TOKEN}`) rather than the secret. Without ACTION_SERVER_TOKEN this refuses to start.

Usage: python -m bot.action_server --actions actions --port 5055   (the same arguments as `python -m rasa_sdk`)
"""
from __future__ import annotations

import hmac
import logging
import os
import sys
from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("rasa_sdk")
logger = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})
MISSING_TOKEN = ("ACTION_SERVER_TOKEN is not set: the action server refuses to start without the secret that "
                 "Rasa sends. Run `python -m bot.cli setup` (it generates var/secrets.env) or set it in the "
                 "environment of both the Rasa server and the action server.")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def is_authorized(authorization: str | None, expected: str) -> bool:
    """True when the header carries exactly `expected` (constant-time comparison)."""
    token = bearer_token(authorization)
    return token is not None and hmac.compare_digest(token.encode(), expected.encode())


class SharedSecretPlugin:
    """rasa-sdk plugin: a request middleware that turns away calls without the shared secret."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError(MISSING_TOKEN)
        self._token = token

    @hookimpl
    def attach_sanic_app_extensions(self, app: Any) -> None:
        from sanic import response

        token = self._token

        @app.middleware("request")
        async def require_shared_secret(request: Any) -> Any:
            if request.method == "GET" and request.path in OPEN_PATHS:
                return None
            if is_authorized(request.headers.get("authorization"), token):
                return None
            logger.warning("Refused %s %s from %s: no valid action server token", request.method, request.path,
                           request.ip)
            return response.json({"error": "Unauthorized: the action server only answers the Rasa server."},
                                 status=401, headers={"WWW-Authenticate": "Bearer"})


def install(token: str) -> None:
    """Register the plugin with rasa-sdk's plugin manager (before rasa-sdk builds its app)."""
    from rasa_sdk.plugin import plugin_manager

    plugin_manager().register(SharedSecretPlugin(token), name="bot.action_server.shared_secret")


def main() -> None:
    from bot.quiet_warnings import SANIC, quiet_third_party_warnings
    from bot.settings import get_settings

    quiet_third_party_warnings(preload=SANIC)

    settings = get_settings()
    if not settings.action_server_token:
        print(MISSING_TOKEN, file=sys.stderr)
        sys.exit(2)
    os.environ["SANIC_HOST"] = settings.action_server_host
    install(settings.action_server_token)
    from rasa_sdk.__main__ import main as rasa_sdk_main

    sys.argv = ["rasa_sdk", *sys.argv[1:]]
    rasa_sdk_main()


if __name__ == "__main__":
    main()
