"""The REST channel (`POST /webhooks/rest/webhook`) with the client's network address in the metadata.

Rasa's `RestInput` passes the client's `metadata` on as it came; here `client_address` is set by the
server (the socket peer, or what a trusted proxy reports) and overwrites any value the client sent.

credentials.yml:  bot.channels.rest.ClientAddressRestInput:
"""
from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from sanic.request import Request

from bot.channels.client_address import client_address, parse_networks, with_client_address
from bot.settings import get_settings


class ClientAddressRestInput(RestInput):
    """Rasa's REST channel; every user message carries `client_address` in its metadata."""

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
