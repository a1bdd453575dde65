"""The Rasa channel itself in a real Sanic server (without Rasa's model): a message whose processing fails is
answered 500 and its claim released, so Meta's retry is processed; after success a retry is not."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from sqlalchemy import func, select

from bot.channels.whatsapp.connector import WhatsAppInput
from bot.records.database import transaction
from bot.records.models import ChannelInboundMessage
from bot.settings import Settings
from tests.servers import free_port
from tests.standins.whatsapp_graph import GraphStandIn, message_webhook, new_message_id, signed, text_message

SECRET = "connector-test-app-secret"
WA_ID = "4915199999999"


@dataclass
class FlakyRasa:
    """Stands in for Rasa's message handling: fails while `failures` > 0, else answers "Verstanden"."""

    failures: int = 0
    handled: list[str] = field(default_factory=list)

    async def __call__(self, message: UserMessage) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("tracker store briefly unavailable")
        self.handled.append(message.text or "")
        await message.output_channel.send_response(message.sender_id, {"text": "Verstanden"})


@pytest.fixture(scope="module")
def served(sqlite_url: str) -> Iterator[tuple[str, FlakyRasa, GraphStandIn]]:
    """One server per module (Sanic 21.12 cannot start a second app in one process)."""
    with GraphStandIn() as graph:
        settings = Settings.from_env({
            "DATABASE_URL": sqlite_url, "WHATSAPP_ACCESS_TOKEN": graph.access_token,
            "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_PHONE_NUMBER_ID":
            graph.phone_number_id, "WHATSAPP_API_BASE": graph.base_url})
        rasa = FlakyRasa()
        app = Sanic(f"whatsapp_connector_test_{free_port()}")
        app.blueprint(WhatsAppInput(settings).blueprint(rasa), url_prefix="/webhooks/whatsapp")
        port = free_port()
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            server = loop.run_until_complete(app.create_server(host="127.0.0.1", port=port,
                                                               return_asyncio_server=True))
            loop.run_until_complete(server.startup())
            started.set()
            loop.run_forever()
            server.close()
            loop.run_until_complete(server.wait_closed())

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert started.wait(20)
        try:
            yield f"http://127.0.0.1:{port}/webhooks/whatsapp/webhook", rasa, graph
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)


def _claims(url: str, message_id: str) -> int:
    with transaction(url) as session:
        return session.scalar(select(func.count()).select_from(ChannelInboundMessage).where(
            ChannelInboundMessage.provider_message_id == message_id))


def test_a_failed_message_is_processed_on_metas_retry_and_only_then(
        served: tuple[str, FlakyRasa, GraphStandIn], sqlite_url: str) -> None:
    url, rasa, graph = served
    message_id = new_message_id()
    raw, headers = signed(message_webhook(graph.phone_number_id, WA_ID, text_message("Hallo"),
                                          message_id=message_id), SECRET)
    rasa.failures = 1
    assert httpx.post(url, content=raw, headers=headers).status_code == 500
    assert _claims(sqlite_url, message_id) == 0, "the claim is released, so the retry is processed"
    assert httpx.post(url, content=raw, headers=headers).status_code == 200
    assert httpx.post(url, content=raw, headers=headers).status_code == 200
    assert rasa.handled == ["Hallo"] and _claims(sqlite_url, message_id) == 1
    assert [b["text"]["body"] for b in graph.to(WA_ID)] == ["Verstanden"]


def test_bad_posts_are_refused(served: tuple[str, FlakyRasa, GraphStandIn]) -> None:
    url, rasa, _graph = served
    handled = list(rasa.handled)
    raw, headers = signed({"object": "page", "entry": []}, SECRET)
    assert httpx.post(url, content=raw, headers=headers).status_code == 400, "signed, but no WhatsApp webhook"
    not_json = b"not json"
    assert httpx.post(url, content=not_json, headers=signed({}, SECRET)[1]).status_code == 403
    assert rasa.handled == handled
