"""The agent console's conversation view of a Telegram customer: the channel, and the messages Telegram finally
did not take (escaped); an agent's message delivered on a later try no longer counts as failed."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from bot.channels.telegram import records
from bot.handoff.messages import mark_delivered, record_agent_message
from bot.records.database import transaction
from bot.records.models import HandoffRequest
from bot.settings import Settings
from bot.web.app import create_app
from tests.console_server import RecordingRasa, add_user, serving, session_cookie

CONVERSATION = "telegram:424242"


@pytest.fixture
def console(sqlite_database_url: str, tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    url = sqlite_database_url
    anna = add_user(url, "anna", first_name="Anna")
    with transaction(url) as session:
        handoff = HandoffRequest(conversation_id=CONVERSATION, reason="customer_request", status="taken",
                                 assigned_agent_id=anna, taken_at=datetime.now(timezone.utc),
                                 created_at=datetime.now(timezone.utc), channel="telegram")
        session.add(handoff)
        session.flush()
        handoff_id = handoff.id
    settings = Settings.from_env({"DATABASE_URL": url, "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'conv.db'}"})
    with serving(create_app(settings, console_rasa_api=RecordingRasa())) as base:
        yield base, handoff_id, anna


def _page(url: str, base: str, handoff_id: int, anna: int) -> str:
    with httpx.Client(base_url=base, cookies=session_cookie(url, anna), timeout=15) as client:
        response = client.get(f"/console/conversations/{handoff_id}")
        response.raise_for_status()
        return response.text


def test_the_conversation_view_shows_what_telegram_did_not_take(console: tuple[str, int, int],
                                                                sqlite_database_url: str) -> None:
    base, handoff_id, anna = console
    url, now = sqlite_database_url, datetime.now(timezone.utc)
    page = _page(url, base, handoff_id, anna)
    assert "<dd>Telegram</dd>" in page and "telegram-failed" not in page

    with transaction(url) as session:
        retried = record_agent_message(session, handoff_id=handoff_id, agent_id=anna, text="Hallo", now=now).id
        lost = record_agent_message(session, handoff_id=handoff_id, agent_id=anna, text="Noch da?", now=now).id
    for message_id in (retried, lost):
        records.record_failed(url, conversation_id=CONVERSATION, kind="text", body={"chat_id": 424242, "text": "x"},
                              error="sendMessage: Forbidden: <b>bot was blocked by the user</b>", attempts=1,
                              now=now, agent_message_id=message_id)
    with transaction(url) as session:
        mark_delivered(session, retried, now)
    page = _page(url, base, handoff_id, anna)
    assert "Nicht zugestellt (Telegram)" in page
    assert page.count("Forbidden: &lt;b&gt;bot was blocked by the user&lt;/b&gt;") == 1
