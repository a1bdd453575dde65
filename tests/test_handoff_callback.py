"""Callback requests: German phone numbers and time windows within service hours (bot/handoff/callback.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.handoff.availability import parse_service_hours
from bot.handoff.callback import InvalidCallback, normalise_phone, parse_window, store_callback
from bot.handoff.queue import HandoffError
from bot.records.database import transaction
from bot.records.models import HandoffRequest
from bot.retention.formatting import BERLIN

DEFAULT = parse_service_hours("Mo-Sa 08:00-20:00")
# Tuesday 1 December 2026, 11:00 in Berlin.
NOW = datetime(2026, 12, 1, 11, 0, tzinfo=BERLIN)


@pytest.mark.parametrize(("text", "e164"), [
    ("030 1234567", "+49301234567"),
    ("030/123 45 67", "+49301234567"),
    ("+49 30 1234567", "+49301234567"),
    ("+49 (0)30 1234567", "+49301234567"),
    ("+49 030 1234567", "+49301234567"),
    ("0049 151 12345678", "+4915112345678"),
    ("0151-123 456 78", "+4915112345678"),
    ("(0221) 123456", "+49221123456"),
    ("089.12345678", "+498912345678"),
    ("+4915112345678", "+4915112345678"),
])
def test_german_numbers_come_out_in_international_form(text: str, e164: str) -> None:
    assert normalise_phone(text) == e164
    assert normalise_phone(e164) == e164, "normalising twice changes nothing"


@pytest.mark.parametrize(("text", "message"), [
    ("", "Bitte geben Sie eine Telefonnummer an"),
    ("   ", "Bitte geben Sie eine Telefonnummer an"),
    ("+1 212 555 0100", "nur deutsche Telefonnummern"),
    ("0043 1 5123456", "nur deutsche Telefonnummern"),
    ("1234567", "mit Vorwahl"),
    ("Telefon: 030 1234567", "mit Vorwahl"),
    ("030 12a4567", "nur aus Ziffern"),
    ("0151 1234 5678 ext 3", "nur aus Ziffern"),
    ("030 12", "zu wenige Ziffern"),
    ("0151 123456789012345", "zu viele Ziffern"),
    ("110", "mit Vorwahl"),
    ("0110 123456", "nicht zurückrufen"),
    ("0900 1234567", "nicht zurückrufen"),
    ("0137 1234567", "nicht zurückrufen"),
    ("0 0000 00000", "nicht zurückrufen"),
    ("0555 5555555", "nicht zurückrufen"),
])
def test_nonsense_numbers_are_refused_with_what_to_enter(text: str, message: str) -> None:
    with pytest.raises(InvalidCallback, match=message):
        normalise_phone(text)


@pytest.mark.parametrize(("text", "window"), [
    ("morgen 10-12 Uhr", "Mi, 02.12.2026, 10:00–12:00 Uhr"),
    ("Morgen, 10 - 12", "Mi, 02.12.2026, 10:00–12:00 Uhr"),
    ("heute ab 16 Uhr", "Di, 01.12.2026, 16:00–20:00 Uhr"),
    ("heute 14:30-15:15", "Di, 01.12.2026, 14:30–15:15 Uhr"),
    ("Mo 9-11", "Mo, 07.12.2026, 09:00–11:00 Uhr"),
    ("am Donnerstag zwischen 9 und 11 Uhr", "Do, 03.12.2026, 09:00–11:00 Uhr"),
    ("Freitag von 8.30 bis 10 Uhr", "Fr, 04.12.2026, 08:30–10:00 Uhr"),
    ("übermorgen 18-20", "Do, 03.12.2026, 18:00–20:00 Uhr"),
    ("Di 9-10", "Di, 08.12.2026, 09:00–10:00 Uhr"),  # today's 9-10 is over: next Tuesday
    ("Di 12-13", "Di, 01.12.2026, 12:00–13:00 Uhr"),  # still ahead today
    ("04.12. 10-11", "Fr, 04.12.2026, 10:00–11:00 Uhr"),
    ("12.12.26 10-11", "Sa, 12.12.2026, 10:00–11:00 Uhr"),
])
def test_callback_windows_are_read_and_normalised(text: str, window: str) -> None:
    assert parse_window(text, NOW, hours=DEFAULT) == window


@pytest.mark.parametrize(("text", "message"), [
    ("", "Bitte nennen Sie einen Tag und eine Uhrzeit"),
    ("irgendwann", "Bitte nennen Sie einen Tag und eine Uhrzeit"),
    ("morgen", "Bitte nennen Sie einen Tag und eine Uhrzeit"),
    ("10-12 Uhr", "Bitte nennen Sie einen Tag und eine Uhrzeit"),
    ("morgen 12-10 Uhr", "Ende des Zeitraums liegt vor seinem Anfang"),
    ("morgen 25-26 Uhr", "25:00 ist keine Uhrzeit"),
    ("So 10-12", "nicht da \\(Mo–Sa 08:00–20:00 Uhr\\)"),
    ("morgen 6-9 Uhr", "innerhalb der Servicezeiten"),
    ("morgen 19-21 Uhr", "innerhalb der Servicezeiten"),
    ("heute 9-10 Uhr", "in der Vergangenheit"),
    ("heute ab 10 Uhr", "in der Vergangenheit"),
    ("31.02. 10-11", "gibt es nicht im Kalender"),
    ("15.01.2027 10-11", "in den nächsten 14 Tagen"),
])
def test_unusable_windows_are_refused_with_what_to_enter(text: str, message: str) -> None:
    with pytest.raises(InvalidCallback, match=message):
        parse_window(text, NOW, hours=DEFAULT)


def test_windows_follow_the_configured_hours_and_summer_time() -> None:
    split = parse_service_hours("Mo-Fr 08:00-12:00 13:00-18:00")
    assert parse_window("morgen ab 13 Uhr", NOW, hours=split) == "Mi, 02.12.2026, 13:00–18:00 Uhr"
    with pytest.raises(InvalidCallback, match="innerhalb der Servicezeiten"):
        parse_window("morgen 11-14", NOW, hours=split)  # across the lunch break
    # Saturday 28 March 2026 19:30 CET; "Mo 8-9" is Monday 30 March, already summer time.
    assert parse_window("Mo 8-9", datetime(2026, 3, 28, 18, 30, tzinfo=timezone.utc), hours=DEFAULT) == \
        "Mo, 30.03.2026, 08:00–09:00 Uhr"
    # 07:30 UTC on that Monday is 09:30 in Berlin: 9-10 has started.
    with pytest.raises(InvalidCallback, match="in der Vergangenheit"):
        parse_window("heute 9-10", datetime(2026, 3, 30, 7, 30, tzinfo=timezone.utc), hours=DEFAULT)


def test_the_callback_is_stored_with_the_handoff(database_url: str) -> None:
    with transaction(database_url) as session:
        handoff = HandoffRequest(conversation_id="c1", reason="customer_request", priority="normal", status="open",
                                 created_at=NOW, channel="socketio")
        closed = HandoffRequest(conversation_id="c2", reason="customer_request", priority="normal",
                                status="closed", created_at=NOW - timedelta(days=1), channel="socketio")
        session.add_all([handoff, closed])
        session.flush()
        handoff_id, closed_id = handoff.id, closed.id
    window = parse_window("morgen 10-12 Uhr", NOW, hours=DEFAULT)
    with transaction(database_url) as session:
        with pytest.raises(InvalidCallback, match="nur deutsche"):
            store_callback(session, handoff_id=handoff_id, phone="+33 1 23 45 67 89", window=window)
        with pytest.raises(HandoffError, match="abgeschlossen"):
            store_callback(session, handoff_id=closed_id, phone="030 1234567", window=window)
        store_callback(session, handoff_id=handoff_id, phone="0151 123 456 78", window=window)
    with transaction(database_url) as session:
        stored = session.get(HandoffRequest, handoff_id)
        assert (stored.callback_phone, stored.callback_window) == ("+4915112345678", "Mi, 02.12.2026, 10:00–12:00 Uhr")
        assert stored.status == "open", "agents see the callback in the queue"
