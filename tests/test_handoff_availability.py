"""Service hours, agents online, the wait estimate and what the customer is told on asking for a person.

Plain logic; the database parts on real SQLite and PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.assistant.handoff import CLOSED, NO_AGENT_ONLINE, QUEUED, request_handoff
from bot.handoff.availability import (
    InvalidServiceHours,
    agents_online,
    is_open,
    next_opening,
    parse_service_hours,
    touch_presence,
)
from bot.handoff.queue import take
from bot.handoff.wait_estimate import estimate_wait
from bot.records.database import transaction
from bot.records.models import HandoffRequest, StaffUser
from bot.retention.formatting import BERLIN
from bot.settings import Settings

UTC = timezone.utc
DEFAULT = parse_service_hours(Settings().service_hours)  # Mo-Sa 08:00-20:00
# Tuesday 1 December 2026, 10:00 UTC = 11:00 in Berlin (winter time).
TUESDAY = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.mark.parametrize(("text", "open_at", "closed_at"), [
    ("Mo-Sa 08:00-20:00", [berlin(2026, 12, 5, 8, 0), berlin(2026, 12, 1, 19, 59)],
     [berlin(2026, 12, 6, 12, 0), berlin(2026, 12, 1, 20, 0), berlin(2026, 12, 1, 7, 59)]),
    ("Mo-Fr 08:00-20:00, Sa 09:00-16:00", [berlin(2026, 12, 5, 9, 0), berlin(2026, 12, 4, 19, 0)],
     [berlin(2026, 12, 5, 8, 30), berlin(2026, 12, 5, 16, 0)]),
    ("mo-fr 8-12 13:00-17:30", [berlin(2026, 12, 1, 8, 0), berlin(2026, 12, 1, 17, 29)],
     [berlin(2026, 12, 1, 12, 30), berlin(2026, 12, 1, 17, 30)]),
    ("Sa–Mo 00:00–24:00", [berlin(2026, 12, 6, 23, 59), berlin(2026, 12, 7, 0, 0), berlin(2026, 12, 5, 0, 0)],
     [berlin(2026, 12, 1, 12, 0), berlin(2026, 12, 4, 23, 59)]),
    ("Fr 22:00-24:00; Sa 00:00-02:00", [berlin(2026, 12, 4, 23, 0), berlin(2026, 12, 5, 1, 0)],
     [berlin(2026, 12, 5, 2, 0), berlin(2026, 12, 4, 21, 0)]),
])
def test_service_hours_are_read_as_written(text: str, open_at: list[datetime], closed_at: list[datetime]) -> None:
    hours = parse_service_hours(text)
    assert [is_open(hours, moment) for moment in open_at] == [True] * len(open_at)
    assert [is_open(hours, moment) for moment in closed_at] == [False] * len(closed_at)


def test_service_hours_describe_themselves_for_customers() -> None:
    assert DEFAULT.describe() == "Mo–Sa 08:00–20:00 Uhr"
    assert parse_service_hours("Mo-Fr 08:00-20:00, Sa 09:00-16:00").describe() == \
        "Mo–Fr 08:00–20:00; Sa 09:00–16:00 Uhr"


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("   ", "empty"),
    ("Montag bis Freitag 8-20", "cannot read 'Montag bis Freitag 8-20'"),
    ("Mo-Fr", "cannot read 'Mo-Fr'"),
    ("Mo-Fr 08:00", "cannot read the times '08:00'"),
    ("Xy 08:00-20:00", "expected day names"),
    ("Mo-Fr 25:00-26:00", "'25:00-26:00' is not a time of day"),
    ("Mo 08:61-09:00", "not a time of day"),
    ("Mo-Fr 20:00-08:00", "ends before it starts"),
    ("Mo 09:00-09:00", "ends before it starts"),
    ("Mo-Fr 08:00-12:00, Fr 11:00-14:00", "Fr is given overlapping times"),
    (",;", "no opening times"),
])
def test_unreadable_service_hours_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(InvalidServiceHours, match=message):
        parse_service_hours(text)


def test_an_unreadable_part_shows_how_to_write_service_hours() -> None:
    with pytest.raises(InvalidServiceHours, match="like 'Mo-Fr 08:00-20:00, Sa 09:00-16:00'"):
        parse_service_hours("werktags 8-20")


def test_a_wrong_SERVICE_HOURS_stops_the_start_with_its_name() -> None:
    with pytest.raises(ValueError, match="SERVICE_HOURS: cannot read the times 'bis' in 'Mo bis Fr'"):
        Settings.from_env({"SERVICE_HOURS": "Mo bis Fr"})
    assert Settings.from_env({"SERVICE_HOURS": "Mo-Fr 9-17"}).service_hours == "Mo-Fr 9-17"
    assert Settings.from_env({}).service_hours == "Mo-Sa 08:00-20:00"


def test_service_hours_follow_berlin_wall_time_across_summer_time() -> None:
    # 06:30 UTC is 07:30 in winter (closed) but 08:30 in summer (open).
    assert not is_open(DEFAULT, datetime(2026, 3, 27, 6, 30, tzinfo=UTC))  # Friday, CET
    assert is_open(DEFAULT, datetime(2026, 3, 30, 6, 30, tzinfo=UTC))  # Monday after the change, CEST
    # Saturday evening before the spring change: next opening Monday 08:00 CEST = 06:00 UTC.
    opening = next_opening(DEFAULT, datetime(2026, 3, 28, 20, 0, tzinfo=UTC))
    assert opening.astimezone(UTC) == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    assert (opening.hour, opening.minute, opening.utcoffset()) == (8, 0, timedelta(hours=2))
    # Autumn: Saturday 24 October (CEST) to Monday 26 October 08:00 CET = 07:00 UTC.
    assert next_opening(DEFAULT, datetime(2026, 10, 24, 19, 0, tzinfo=UTC)).astimezone(UTC) == \
        datetime(2026, 10, 26, 7, 0, tzinfo=UTC)
    # A range starting at 02:30 on the spring-change night (does not exist) opens at 03:30 CEST.
    night = parse_service_hours("So 02:30-05:00")
    assert next_opening(night, datetime(2026, 3, 28, 12, 0, tzinfo=UTC)).astimezone(UTC) == \
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_next_opening_is_now_while_open_and_later_today_or_after_sunday() -> None:
    assert next_opening(DEFAULT, TUESDAY) == TUESDAY
    assert next_opening(DEFAULT, berlin(2026, 12, 1, 6, 0)) == berlin(2026, 12, 1, 8, 0)
    assert next_opening(DEFAULT, berlin(2026, 12, 5, 20, 0)) == berlin(2026, 12, 7, 8, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(DEFAULT, datetime(2026, 12, 1, 10, 0))


def _user(session, name: str, role: str = "agent", *, active: bool = True, seen: datetime | None = None) -> int:  # type: ignore[no-untyped-def]
    user = StaffUser(username=name, first_name=name.capitalize(), password_hash="not used here", role=role,
                     active=active, created_at=TUESDAY, last_seen_at=seen)
    session.add(user)
    session.flush()
    return user.id


def test_agents_online_are_active_agents_and_supervisors_seen_within_90_seconds(database_url: str) -> None:
    with transaction(database_url) as session:
        anna = _user(session, "anna")
        _user(session, "chef", "supervisor", seen=TUESDAY - timedelta(seconds=90))
        _user(session, "mara", "marketer", seen=TUESDAY)
        _user(session, "olaf", active=False, seen=TUESDAY)
        _user(session, "gone", seen=TUESDAY - timedelta(seconds=91))
    with transaction(database_url) as session:
        assert agents_online(session, now=TUESDAY) == 1
        touch_presence(session, user_id=anna, now=TUESDAY - timedelta(seconds=10))
    with transaction(database_url) as session:
        assert agents_online(session, now=TUESDAY) == 2
        assert agents_online(session, now=TUESDAY + timedelta(seconds=75)) == 1  # anna only
        assert session.get(StaffUser, anna).last_seen_at == TUESDAY - timedelta(seconds=10)


def _taken_handoff(session, conversation: str, *, created: datetime, waited_minutes: float) -> None:  # type: ignore[no-untyped-def]
    session.add(HandoffRequest(conversation_id=conversation, reason="customer_request", priority="normal",
                               status="closed", created_at=created, channel="socketio",
                               taken_at=created + timedelta(minutes=waited_minutes),
                               closed_at=created + timedelta(minutes=waited_minutes + 5), resolution="solved"))


def test_the_wait_estimate_is_the_recent_median_and_none_without_enough_history(database_url: str) -> None:
    with transaction(database_url) as session:
        first = HandoffRequest(conversation_id="waiting-1", reason="customer_request", priority="normal",
                               status="open", created_at=TUESDAY - timedelta(minutes=3), channel="socketio")
        urgent = HandoffRequest(conversation_id="waiting-2", reason="customer_request", priority="urgent",
                                status="open", created_at=TUESDAY - timedelta(minutes=1), channel="socketio")
        mine = HandoffRequest(conversation_id="waiting-3", reason="customer_request", priority="normal",
                              status="open", created_at=TUESDAY, channel="socketio")
        session.add_all([first, urgent, mine])
        # Two recent ones and one from last month: too little to say.
        _taken_handoff(session, "old", created=TUESDAY - timedelta(days=30), waited_minutes=1)
        _taken_handoff(session, "a", created=TUESDAY - timedelta(days=1), waited_minutes=2)
        _taken_handoff(session, "b", created=TUESDAY - timedelta(days=2), waited_minutes=9)
        session.flush()
        ids = (first.id, urgent.id, mine.id)
    with transaction(database_url) as session:
        assert estimate_wait(session, handoff_id=ids[2], now=TUESDAY).position == 3
        assert estimate_wait(session, handoff_id=ids[1], now=TUESDAY).position == 1
        assert estimate_wait(session, handoff_id=ids[2], now=TUESDAY).minutes is None
        _taken_handoff(session, "c", created=TUESDAY - timedelta(days=6), waited_minutes=4.2)
    with transaction(database_url) as session:
        # median of 2, 4.2 and 9 minutes: 4.2, told as 5 (rounded up)
        assert estimate_wait(session, handoff_id=ids[2], now=TUESDAY).minutes == 5
        agent = _user(session, "anna", seen=TUESDAY)
        take(session, handoff_id=ids[1], agent_id=agent, now=TUESDAY)
    with transaction(database_url) as session:
        assert estimate_wait(session, handoff_id=ids[2], now=TUESDAY).position == 2
        assert estimate_wait(session, handoff_id=ids[1], now=TUESDAY).position == 0  # no longer waiting


def test_the_customer_hears_position_and_honest_wait_when_someone_is_online(database_url: str) -> None:
    with transaction(database_url) as session:
        _user(session, "anna", seen=TUESDAY - timedelta(seconds=30))
        ahead = request_handoff(session, conversation_id="ahead", customer_id=None, reason="customer_request",
                                now=TUESDAY - timedelta(minutes=1))
        assert ahead.situation == QUEUED and ahead.position == 1 and ahead.wait_minutes is None
        assert "Sie sind als Nächstes an der Reihe." in ahead.text
        assert "kann ich nicht verlässlich sagen" in ahead.text and f"Vorgang H-{ahead.handoff_id}" in ahead.text
        assert not ahead.offers_callback and ahead.buttons == ()
        reply = request_handoff(session, conversation_id="me", customer_id=None, reason="customer_request",
                                now=TUESDAY, channel="rest")
        assert "Vor Ihnen wartet noch eine Person." in reply.text and reply.position == 2
        for n, minutes in enumerate((1, 3, 8)):
            _taken_handoff(session, f"past-{n}", created=TUESDAY - timedelta(days=n + 1), waited_minutes=minutes)
    with transaction(database_url) as session:
        again = request_handoff(session, conversation_id="me", customer_id=None, reason="customer_request", now=TUESDAY)
        assert again.handoff_id == reply.handoff_id, "one handoff per conversation while it is waiting"
        assert again.wait_minutes == 3
        assert "In den letzten 7 Tagen wurde die Hälfte der Anfragen innerhalb von 3 Minuten übernommen." in again.text
        assert "bevorzugt" not in again.text
        assert session.get(HandoffRequest, reply.handoff_id).channel == "rest"


def test_outside_service_hours_the_customer_is_told_at_once_and_offered_a_callback(database_url: str) -> None:
    saturday_night = berlin(2026, 12, 5, 21, 15)
    with transaction(database_url) as session:
        _user(session, "anna", seen=saturday_night)  # even an agent online does not make it open
        reply = request_handoff(session, conversation_id="late", customer_id=None, reason="customer_request",
                                now=saturday_night)
    assert reply.situation == CLOSED and reply.offers_callback
    assert reply.opens_at == berlin(2026, 12, 7, 8, 0)
    assert "nicht im Dienst (Mo–Sa 08:00–20:00 Uhr)" in reply.text
    assert "am Montag, 07.12., ab 08:00 Uhr" in reply.text
    assert "Rückruf" in reply.text and "mit mir weitermachen" in reply.text and "Vorgang H-" in reply.text
    early = request_handoff
    with transaction(database_url) as session:
        morning = early(session, conversation_id="early", customer_id=None, reason="customer_request",
                        now=berlin(2026, 12, 1, 7, 0))
        assert "heute ab 08:00 Uhr" in morning.text
        custom = early(session, conversation_id="custom", customer_id=None, reason="customer_request",
                       now=berlin(2026, 12, 1, 7, 0), hours=parse_service_hours("Mi 10:00-12:00"))
        assert "morgen ab 10:00 Uhr" in custom.text and "(Mi 10:00–12:00 Uhr)" in custom.text


def test_with_nobody_online_the_customer_is_told_so_and_the_request_waits(database_url: str) -> None:
    with transaction(database_url) as session:
        _user(session, "anna", seen=TUESDAY - timedelta(minutes=5))
        reply = request_handoff(session, conversation_id="c1", customer_id=None, reason="customer_request",
                                now=TUESDAY)
        assert reply.situation == NO_AGENT_ONLINE and reply.offers_callback
        assert "keine Mitarbeiterin und kein Mitarbeiter im Chat erreichbar" in reply.text
        assert "Rückruf" in reply.text and "weitermachen" in reply.text
        assert session.get(HandoffRequest, reply.handoff_id).status == "open"


def test_a_taken_conversation_is_not_queued_again(database_url: str) -> None:
    with transaction(database_url) as session:
        anna = _user(session, "anna", seen=TUESDAY)
        first = request_handoff(session, conversation_id="c1", customer_id=None, reason="customer_request", now=TUESDAY)
        take(session, handoff_id=first.handoff_id, agent_id=anna, now=TUESDAY)
        again = request_handoff(session, conversation_id="c1", customer_id=None, reason="customer_request", now=TUESDAY)
        assert again.handoff_id == first.handoff_id and "betreut dieses Gespräch bereits" in again.text
        assert session.query(HandoffRequest).count() == 1
