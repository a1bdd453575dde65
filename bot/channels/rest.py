"""The REST channel (`POST /webhooks/rest/webhook`) with the client's network address in the metadata.

Rasa's `RestInput` passes the client's `metadata` on as it came; here `client_address` is set by the
server (the socket peer, or what a trusted proxy reports) and overwrites any value the client sent.
While an agent owns the conversation, a typed `/intent` command is stored as text only (`handoff_guard`).

credentials.yml:  bot.channels.rest.ClientAddressRestInput:
"""
from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from sanic import Blueprint
from sanic.request import Request

from bot.channels.client_address import client_address, parse_networks, with_client_address
from bot.channels.handoff_guard import HandoffGuard, MessageHandler
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

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        return self.guarded(super().blueprint, on_new_message)
