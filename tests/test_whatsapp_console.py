"""The agent console's conversation view of a WhatsApp customer: whether the 24-hour window is open (else
replies go out as the template) and which messages finally failed; customer-supplied error text is escaped."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from bot.channels.whatsapp import store
from bot.records.database import transaction
from bot.records.models import ChannelContact, HandoffRequest
from bot.settings import Settings
from bot.web.app import create_app
from tests.console_server import RecordingRasa, add_user, serving, session_cookie

CONVERSATION = "whatsapp:4915112345678"


@pytest.fixture
def console(sqlite_database_url: str, tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    url = sqlite_database_url
    with transaction(url) as session:
        handoff = HandoffRequest(conversation_id=CONVERSATION, reason="customer_request", status="open",
                                 created_at=datetime.now(timezone.utc), channel="whatsapp")
        session.add(handoff)
        session.flush()
        handoff_id = handoff.id
    anna = add_user(url, "anna", first_name="Anna")
    settings = Settings.from_env({"DATABASE_URL": url, "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'conv.db'}"})
    with serving(create_app(settings, console_rasa_api=RecordingRasa())) as base:
        yield base, handoff_id, anna


def _page(url: str, base: str, handoff_id: int, anna: int) -> str:
    with httpx.Client(base_url=base, cookies=session_cookie(url, anna), timeout=15) as client:
        response = client.get(f"/console/conversations/{handoff_id}")
        response.raise_for_status()
        return response.text


def test_the_conversation_view_shows_the_window_and_failed_messages(
        console: tuple[str, int, int], sqlite_database_url: str) -> None:
    base, handoff_id, anna = console
    now = datetime.now(timezone.utc)
    with transaction(sqlite_database_url) as session:
        store.touch_contact(session, conversation_id=CONVERSATION, recipient="4915112345678", at=now)
    page = _page(sqlite_database_url, base, handoff_id, anna)
    assert 'id="whatsapp-window" class="window-open"' in page and "offen bis" in page
    assert "whatsapp-failed" not in page

    with transaction(sqlite_database_url) as session:
        session.get(ChannelContact, CONVERSATION).last_customer_message_at = now - timedelta(hours=30)
        row_id = store.record_outbound(session, conversation_id=CONVERSATION, kind="template", body="{}", now=now)
        store.mark_failed(session, row_id, error="131026 <b>Message undeliverable</b>", attempts=1, now=now)
    page = _page(sqlite_database_url, base, handoff_id, anna)
    assert 'class="window-closed"' in page and "Vorlage hinaus" in page
    assert "Nicht zugestellt (WhatsApp)" in page
    assert "131026 &lt;b&gt;Message undeliverable&lt;/b&gt;" in page


def test_other_channels_show_no_whatsapp_box(console: tuple[str, int, int], sqlite_database_url: str) -> None:
    base, handoff_id, anna = console
    with transaction(sqlite_database_url) as session:
        session.get(HandoffRequest, handoff_id).conversation_id = "web-123"
    assert "WhatsApp-Fenster" not in _page(sqlite_database_url, base, handoff_id, anna)
