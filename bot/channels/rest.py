"""The REST channel (`POST /webhooks/rest/webhook`) with the client's network address in the metadata.

Rasa's `RestInput` passes the client's `metadata` on as it came; here `client_address` is set by the
server (the socket peer, or what a trusted proxy reports) and overwrites any value the client sent.
While an agent owns the conversation, a typed `/intent` command is stored as text only (`handoff_guard`).
A sender id that names a messaging channel's conversation ("whatsapp:...", "telegram:...";
`bot.channels.sender_ids.is_reserved`) is refused with HTTP 400, and the input channel is always "rest" (Rasa lets
the client name another, which would send agent replies to that channel).

credentials.yml:  bot.channels.rest.ClientAddressRestInput:
"""
from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.client_address import client_address, parse_networks, with_client_address
from bot.channels.handoff_guard import HandoffGuard, MessageHandler
from bot.channels.sender_ids import is_reserved
from bot.settings import get_settings


class ClientAddressRestInput(HandoffGuard, RestInput):
    """Rasa's REST channel; every user message carries `client_address` in its metadata, and a command typed
    while an agent owns the conversation does not act (bot/channels/handoff_guard.py)."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def __init__(self) -> None:
        super().__init__()
        self.trusted_proxies = parse_networks(get_settings().trusted_proxies)

    def get_metadata(self, request: Request) -> dict[str, Any]:
        body = request.json if isinstance(request.json, dict) else {}
        address = client_address(request.ip, request.headers.get("x-forwarded-for"), self.trusted_proxies)
        return with_client_address(body.get("metadata"), address)

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        blueprint = self.guarded(super().blueprint, on_new_message)

        @blueprint.middleware("request")
        async def refuse_reserved_sender(request: Request) -> HTTPResponse | None:
            if request.method != "POST":
                return None
            try:
                body = request.json
            except Exception:  # not JSON: Rasa's handler answers that
                return None
            sender = body.get("sender") if isinstance(body, dict) else None
            if isinstance(sender, str) and is_reserved(sender):
                return response.json({"error": "This sender id is reserved for a messaging channel "
                                               "(whatsapp:..., telegram:...); choose another sender id."},
                                     status=400)
            return None

        return blueprint
