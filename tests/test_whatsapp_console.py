"""The agent console's conversation view of a WhatsApp customer: whether the 24-hour window is open (else
replies go out as the template) and which messages finally failed; customer-supplied error text is escaped."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from bot.channels.whatsapp import store
from bot.handoff.messages import record_agent_message
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


def test_an_agent_message_delivered_on_a_later_try_is_not_listed_as_failed(
        console: tuple[str, int, int], sqlite_database_url: str) -> None:
    """The same rule as Telegram's (bot/channels/messaging_records.py): the customer got the message."""
    base, handoff_id, anna = console
    url, now = sqlite_database_url, datetime.now(timezone.utc)
    with transaction(url) as session:
        handoff = session.get(HandoffRequest, handoff_id)
        handoff.status, handoff.assigned_agent_id, handoff.taken_at = "taken", anna, now
    with transaction(url) as session:
        store.touch_contact(session, conversation_id=CONVERSATION, recipient="4915112345678", at=now)
        retried = record_agent_message(session, handoff_id=handoff_id, agent_id=anna, text="Hallo", now=now).id
        lost = record_agent_message(session, handoff_id=handoff_id, agent_id=anna, text="Noch da?", now=now).id
        for message_id, error in ((retried, "131000 <i>Something went wrong</i>"), (lost, "131026 undeliverable")):
            row_id = store.record_outbound(session, conversation_id=CONVERSATION, kind="text", body="{}", now=now,
                                           agent_message_id=message_id)
            store.mark_failed(session, row_id, error=error, attempts=3, now=now)
    page = _page(url, base, handoff_id, anna)
    assert 'id="whatsapp-failed"' in page and "131000 &lt;i&gt;Something went wrong&lt;/i&gt;" in page

    # The later try of the first message was delivered (Meta's "delivered" callback): only the second is listed.
    with transaction(url) as session:
        row_id = store.record_outbound(session, conversation_id=CONVERSATION, kind="text", body="{}", now=now,
                                       agent_message_id=retried)
        store.mark_sent(session, row_id, provider_message_id="wamid.retry", attempts=1, now=now)
        assert store.apply_status(session, provider_message_id="wamid.retry", status="delivered", at=now)
    page = _page(url, base, handoff_id, anna)
    assert "Nicht zugestellt (WhatsApp)" in page and "131026 undeliverable" in page
    assert "Something went wrong" not in page
    with transaction(url) as session:
        notes = store.console_notes(session, CONVERSATION, now)
    assert notes is not None and [f.error for f in notes.failed] == ["131026 undeliverable"]


def test_other_channels_show_no_whatsapp_box(console: tuple[str, int, int], sqlite_database_url: str) -> None:
    base, handoff_id, anna = console
    with transaction(sqlite_database_url) as session:
        session.get(HandoffRequest, handoff_id).conversation_id = "web-123"
    assert "WhatsApp-Fenster" not in _page(sqlite_database_url, base, handoff_id, anna)
