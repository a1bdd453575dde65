"""The chat widget's socket.io channel, checking the Origin of browser connections.

Rasa 3.6's `SocketIOInput` creates its socket.io server with `cors_allowed_origins=[]`, which switches
off python-engineio's Origin check: any web page could open a chat in a visitor's browser. Here the
server only accepts requests whose Origin header is one of the website origins (`ALLOWED_ORIGINS`,
default the demo website's own; see `bot.settings`): others get HTTP 400 before a session exists.
Clients that send no Origin (not a browser) are let through, as on the REST channel.

Each user message gets the client's network address as `client_address` in its metadata (the socket
peer, or what a trusted proxy reports; a value the client sent under that key is overwritten). The rest
is Rasa's channel unchanged: session persistence, and the widget's `customData` as the metadata.

credentials.yml:  bot.channels.socketio.OriginCheckingSocketIOInput: {user_message_evt: ..., ...}
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.channels.client_address import client_address, parse_networks, with_client_address
from bot.settings import get_settings

logger = logging.getLogger(__name__)


class OriginCheckingSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel with the Origin check on and the client address in the metadata."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.allowed_origins: list[str] = list(settings.website_origins)
        self.trusted_proxies = parse_networks(settings.trusted_proxies)

    def _client_address(self, environ: dict[str, Any] | None) -> str:
        environ = environ or {}
        request = environ.get("sanic.request")
        # python-engineio's Sanic driver writes 127.0.0.1 into REMOTE_ADDR for every request; the
        # Sanic request knows the real peer.
        peer = request.ip if request is not None else environ.get("REMOTE_ADDR")
        return client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"), self.trusted_proxies)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        socketio_webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        sio.eio.cors_allowed_origins = list(self.allowed_origins)
        # Rasa's own CORS handling (sanic-cors with the same origins, `--cors`) already adds the
        # Access-Control-* headers to every response; engine.io adding them too would send each
        # header twice, which browsers reject.
        sio.eio._cors_headers = lambda environ: []  # type: ignore[method-assign]
        logger.info("socket.io accepts browser connections from: %s", ", ".join(self.allowed_origins))

        namespace = self.namespace or "/"
        handle_message = sio.handlers[namespace][self.user_message_evt]

        async def handle_message_with_client_address(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                return
            address = self._client_address(sio.get_environ(sid, namespace=namespace))
            data = {**data, self.metadata_key: with_client_address(data.get(self.metadata_key), address)}
            await handle_message(sid, data)

        sio.on(self.user_message_evt, namespace=self.namespace)(handle_message_with_client_address)
        return socketio_webhook
