"""The handoff queue and ownership (bot/handoff/queue.py, messages.py) on real SQLite and PostgreSQL.

Who is served first, that two agents taking one conversation at once cannot both win (real concurrent
sessions in threads), closing, handing back, supervisor reassignment, the recorded times, and the
agent message outbox.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.handoff.messages import mark_delivered, mark_failed, mark_sent, record_agent_message, undelivered
from bot.handoff.queue import (
    AlreadyTaken,
    HandoffError,
    NotAllowed,
    NotYourConversation,
    active_handoff,
    all_active,
    close,
    conversations_of,
    hand_back,
    handling_seconds,
    owned_handoff,
    reassign,
    release_for_cancellation,
    take,
    waiting_queue,
    waiting_seconds,
)
from bot.records.database import transaction
from bot.records.models import HandoffRequest, StaffUser
from tests.factories import add_customer

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def _staff(url: str, username: str, role: str = "agent", *, active: bool = True) -> int:
    with transaction(url) as session:
        user = StaffUser(username=username, first_name=username.capitalize(), password_hash="not used here",
                         role=role, active=active, created_at=T0)
        session.add(user)
        session.flush()
        return user.id


def _handoff(url: str, conversation: str, *, priority: str = "normal", created: datetime = T0,
             customer_id: int | None = None, status: str = "open") -> int:
    with transaction(url) as session:
        handoff = HandoffRequest(conversation_id=conversation, customer_id=customer_id, reason="customer_request",
                                 priority=priority, status=status, created_at=created, channel="socketio",
                                 dissatisfaction=0.4)
        session.add(handoff)
        session.flush()
        return handoff.id


def test_the_queue_serves_urgent_then_high_then_normal_and_the_longest_waiting_first(database_url: str) -> None:
    with transaction(database_url) as session:
        customer = add_customer(session, number="K500001", plan_code="MOBIL_XL", segment="business")
        customer_id = customer.id
    _handoff(database_url, "normal-old", created=T0 - timedelta(minutes=30))
    _handoff(database_url, "high-new", priority="high", created=T0 - timedelta(minutes=1))
    _handoff(database_url, "urgent", priority="urgent", created=T0 - timedelta(seconds=5), customer_id=customer_id)
    _handoff(database_url, "high-old", priority="high", created=T0 - timedelta(minutes=10))
    _handoff(database_url, "normal-new", created=T0 - timedelta(minutes=2))
    _handoff(database_url, "done", priority="urgent", created=T0 - timedelta(hours=1), status="closed")

    with transaction(database_url) as session:
        queue = waiting_queue(session, now=T0)
    assert [entry.conversation_id for entry in queue] == ["urgent", "high-old", "high-new", "normal-old", "normal-new"]
    urgent, high_old = queue[0], queue[1]
    assert (urgent.customer_name, urgent.segment, urgent.waiting_seconds) == ("Erika Mustermann", "business", 5)
    assert (high_old.customer_name, high_old.segment, high_old.waiting_seconds) == (None, None, 600)
    assert urgent.status == "open" and urgent.agent_id is None and urgent.dissatisfaction == pytest.approx(0.4)


def test_two_agents_taking_at_once_exactly_one_wins(database_url: str) -> None:
    handoff_id = _handoff(database_url, "race")
    agents = [_staff(database_url, f"agent{n}") for n in range(4)]
    start = threading.Barrier(len(agents))
    outcomes: dict[int, object] = {}

    def attempt(agent_id: int) -> None:
        start.wait()
        try:
            with transaction(database_url) as session:
                outcomes[agent_id] = take(session, handoff_id=handoff_id, agent_id=agent_id, now=T0).assigned_agent_id
        except Exception as error:  # collected and asserted below
            outcomes[agent_id] = error

    threads = [threading.Thread(target=attempt, args=(agent_id,)) for agent_id in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [agent for agent, outcome in outcomes.items() if outcome == agent]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, AlreadyTaken)]
    assert len(winners) == 1 and len(losers) == len(agents) - 1, outcomes
    winner_name = f"Agent{agents.index(winners[0])}"
    assert all(winner_name in str(error) and "schon übernommen" in str(error) for error in losers)
    with transaction(database_url) as session:
        handoff = session.get(HandoffRequest, handoff_id)
        assert (handoff.status, handoff.assigned_agent_id, handoff.taken_at) == ("taken", winners[0], T0)


def test_an_agent_taking_while_another_holds_the_row_waits_and_is_told(database_url: str) -> None:
    handoff_id = _handoff(database_url, "held")
    first, second = _staff(database_url, "anna"), _staff(database_url, "ben")
    first_took = threading.Event()
    outcome: list[object] = []

    def first_agent() -> None:
        with transaction(database_url) as session:
            take(session, handoff_id=handoff_id, agent_id=first, now=T0)
            first_took.set()
            time.sleep(0.6)  # still uncommitted: the second agent's UPDATE must wait for this transaction

    def second_agent() -> None:
        first_took.wait(10)
        began = time.monotonic()
        try:
            with transaction(database_url) as session:
                take(session, handoff_id=handoff_id, agent_id=second, now=T0 + timedelta(seconds=1))
            outcome.append("took it")
        except AlreadyTaken as error:
            outcome.append(error)
        outcome.append(time.monotonic() - began)

    threads = [threading.Thread(target=first_agent), threading.Thread(target=second_agent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    error, waited = outcome
    assert isinstance(error, AlreadyTaken) and "Anna hat Vorgang" in str(error)
    assert waited >= 0.3, "the second agent's take must have waited for the first transaction"


def test_taking_is_refused_clearly_for_closed_unknown_and_non_agents(database_url: str) -> None:
    agent = _staff(database_url, "anna")
    marketer = _staff(database_url, "mara", role="marketer")
    retired = _staff(database_url, "olaf", active=False)
    handoff_id = _handoff(database_url, "c1")
    closed_id = _handoff(database_url, "c2", status="closed")
    with transaction(database_url) as session:
        with pytest.raises(NotAllowed, match="marketer"):
            take(session, handoff_id=handoff_id, agent_id=marketer, now=T0)
        with pytest.raises(NotAllowed, match="nicht .*aktiv"):
            take(session, handoff_id=handoff_id, agent_id=retired, now=T0)
        with pytest.raises(HandoffError, match="bereits abgeschlossen"):
            take(session, handoff_id=closed_id, agent_id=agent, now=T0)
        with pytest.raises(HandoffError, match="gibt es nicht"):
            take(session, handoff_id=999999, agent_id=agent, now=T0)
        assert take(session, handoff_id=handoff_id, agent_id=agent, now=T0).status == "taken"
        again = take(session, handoff_id=handoff_id, agent_id=agent, now=T0 + timedelta(minutes=1))
        assert again.taken_at == T0, "taking one's own conversation again changes nothing"


def test_close_records_resolution_note_and_times(database_url: str) -> None:
    agent, other = _staff(database_url, "anna"), _staff(database_url, "ben")
    handoff_id = _handoff(database_url, "c1", created=T0 - timedelta(minutes=4))
    with transaction(database_url) as session:
        take(session, handoff_id=handoff_id, agent_id=agent, now=T0)
    with transaction(database_url) as session:
        with pytest.raises(HandoffError, match="Unbekanntes Ergebnis „handed_back“"):
            close(session, handoff_id=handoff_id, agent_id=agent, resolution="handed_back", note=None, now=T0)
        with pytest.raises(HandoffError, match="solved, offer_accepted"):
            close(session, handoff_id=handoff_id, agent_id=agent, resolution="done", note=None, now=T0)
        with pytest.raises(HandoffError, match="zu lang"):
            close(session, handoff_id=handoff_id, agent_id=agent, resolution="other", note="x" * 5000, now=T0)
        with pytest.raises(NotYourConversation, match="betreut jetzt Anna"):
            close(session, handoff_id=handoff_id, agent_id=other, resolution="solved", note=None, now=T0)
    with transaction(database_url) as session:
        closed = close(session, handoff_id=handoff_id, agent_id=agent, resolution="offer_accepted",
                       note="  Rabatt 20 % angenommen  ", now=T0 + timedelta(minutes=7, seconds=30))
    with transaction(database_url) as session:
        stored = session.get(HandoffRequest, handoff_id)
        assert (stored.status, stored.resolution, stored.note) == ("closed", "offer_accepted", "Rabatt 20 % angenommen")
        assert (stored.assigned_agent_id, stored.taken_at, stored.closed_at) == (
            agent, T0, T0 + timedelta(minutes=7, seconds=30))
        assert waiting_seconds(stored, now=T0 + timedelta(hours=1)) == 240
        assert handling_seconds(stored) == 450
        assert closed.closed_at == stored.closed_at
        with pytest.raises(NotYourConversation, match="bereits abgeschlossen"):
            close(session, handoff_id=handoff_id, agent_id=agent, resolution="solved", note=None, now=T0)
        assert active_handoff(session, conversation_id="c1") is None


def test_closing_an_untaken_handoff_asks_to_take_it_first(database_url: str) -> None:
    agent = _staff(database_url, "anna")
    handoff_id = _handoff(database_url, "c1")
    with transaction(database_url) as session:
        with pytest.raises(NotYourConversation, match="zuerst"):
            close(session, handoff_id=handoff_id, agent_id=agent, resolution="solved", note=None, now=T0)
        assert waiting_seconds(session.get(HandoffRequest, handoff_id), now=T0 + timedelta(seconds=42)) == 42
        assert handling_seconds(session.get(HandoffRequest, handoff_id)) is None


def test_hand_back_closes_as_handed_back_and_only_for_the_owner(database_url: str) -> None:
    agent, other = _staff(database_url, "anna"), _staff(database_url, "ben")
    handoff_id = _handoff(database_url, "c1")
    with transaction(database_url) as session:
        take(session, handoff_id=handoff_id, agent_id=agent, now=T0 + timedelta(seconds=20))
        assert owned_handoff(session, conversation_id="c1").id == handoff_id
        with pytest.raises(NotYourConversation):
            hand_back(session, handoff_id=handoff_id, agent_id=other, now=T0)
    with transaction(database_url) as session:
        back = hand_back(session, handoff_id=handoff_id, agent_id=agent, now=T0 + timedelta(minutes=3))
        assert (back.status, back.resolution) == ("closed", "handed_back")
        assert handling_seconds(back) == 160 and waiting_seconds(back, now=T0 + timedelta(hours=1)) == 20
        assert owned_handoff(session, conversation_id="c1") is None
        assert active_handoff(session, conversation_id="c1") is None


def test_only_a_supervisor_reassigns_and_the_waiting_time_stays(database_url: str) -> None:
    anna, ben = _staff(database_url, "anna"), _staff(database_url, "ben")
    chef = _staff(database_url, "chef", role="supervisor")
    mara = _staff(database_url, "mara", role="marketer")
    taken_id = _handoff(database_url, "c1", created=T0 - timedelta(minutes=2))
    open_id = _handoff(database_url, "c2", priority="high")
    with transaction(database_url) as session:
        take(session, handoff_id=taken_id, agent_id=anna, now=T0)
    with transaction(database_url) as session:
        with pytest.raises(NotAllowed):
            reassign(session, handoff_id=taken_id, supervisor_id=ben, to_agent_id=ben, now=T0)
        with pytest.raises(NotAllowed):
            reassign(session, handoff_id=taken_id, supervisor_id=chef, to_agent_id=mara, now=T0)
    with transaction(database_url) as session:
        moved = reassign(session, handoff_id=taken_id, supervisor_id=chef, to_agent_id=ben,
                         now=T0 + timedelta(minutes=5))
        assert (moved.assigned_agent_id, moved.status, moved.taken_at) == (ben, "taken", T0)
        given = reassign(session, handoff_id=open_id, supervisor_id=chef, to_agent_id=anna, now=T0 + timedelta(minutes=6))
        assert (given.assigned_agent_id, given.status, given.taken_at) == (anna, "taken", T0 + timedelta(minutes=6))
    with transaction(database_url) as session:
        assert [e.handoff_id for e in conversations_of(session, agent_id=ben, now=T0)] == [taken_id]
        assert [e.agent_first_name for e in all_active(session, now=T0)] == ["Anna", "Ben"]  # high before normal
        assert waiting_queue(session, now=T0) == []
        with pytest.raises(NotYourConversation):
            close(session, handoff_id=taken_id, agent_id=anna, resolution="solved", note=None, now=T0)
        close(session, handoff_id=taken_id, agent_id=ben, resolution="solved", note=None, now=T0 + timedelta(minutes=9))
        with pytest.raises(HandoffError, match="abgeschlossen"):
            reassign(session, handoff_id=taken_id, supervisor_id=chef, to_agent_id=anna, now=T0)


def test_agent_messages_are_stored_for_the_owner_and_tracked_until_delivered(database_url: str) -> None:
    anna, ben = _staff(database_url, "anna"), _staff(database_url, "ben")
    handoff_id = _handoff(database_url, "c1")
    with transaction(database_url) as session:
        with pytest.raises(NotYourConversation):
            record_agent_message(session, handoff_id=handoff_id, agent_id=anna, text="Hallo", now=T0)
        take(session, handoff_id=handoff_id, agent_id=anna, now=T0)
        with pytest.raises(NotYourConversation):
            record_agent_message(session, handoff_id=handoff_id, agent_id=ben, text="Hallo", now=T0)
        with pytest.raises(HandoffError, match="leer"):
            record_agent_message(session, handoff_id=handoff_id, agent_id=anna, text="   ", now=T0)
        first = record_agent_message(session, handoff_id=handoff_id, agent_id=anna,
                                     text=" Guten Tag, hier ist Anna. ", now=T0 + timedelta(seconds=1))
        second = record_agent_message(session, handoff_id=handoff_id, agent_id=anna, text="<b>Wie kann ich helfen?</b>",
                                      now=T0 + timedelta(seconds=2))
        first_id, second_id = first.id, second.id
        assert (first.text, first.conversation_id) == ("Guten Tag, hier ist Anna.", "c1")
    with transaction(database_url) as session:
        mark_sent(session, first_id, T0 + timedelta(seconds=3))
        mark_delivered(session, first_id, T0 + timedelta(seconds=3))
        mark_failed(session, second_id, "ConnectError: " + "x" * 400)
    with transaction(database_url) as session:
        missed = undelivered(session, conversation_id="c1")
        assert [m.id for m in missed] == [second_id] and missed[0].text == "<b>Wie kann ich helfen?</b>"
        assert len(missed[0].last_error) == 300 and missed[0].sent_at is None
        mark_sent(session, second_id, T0 + timedelta(seconds=9))
        mark_delivered(session, second_id, T0 + timedelta(seconds=9))
    with transaction(database_url) as session:
        assert undelivered(session, conversation_id="c1") == []
        stored = session.scalars(select(HandoffRequest)).one()
        hand_back(session, handoff_id=stored.id, agent_id=anna, now=T0 + timedelta(minutes=1))
        with pytest.raises(NotYourConversation):
            record_agent_message(session, handoff_id=handoff_id, agent_id=anna, text="Noch da?", now=T0)


def test_a_customer_who_chooses_to_cancel_ends_the_agents_handoff(database_url: str) -> None:
    agent = _staff(database_url, "anna")
    taken, waiting = _handoff(database_url, "c1"), _handoff(database_url, "c2")
    with transaction(database_url) as session:
        take(session, handoff_id=taken, agent_id=agent, now=T0 + timedelta(seconds=30))
    with transaction(database_url) as session:
        released = release_for_cancellation(session, conversation_id="c1", now=T0 + timedelta(minutes=2))
        assert (released.status, released.resolution) == ("closed", "handed_back")
        assert "Jetzt kündigen" in released.note and handling_seconds(released) == 90
        # nothing to end where no agent owns the conversation: a waiting customer just cancels
        assert release_for_cancellation(session, conversation_id="c2", now=T0) is None
        assert session.get(HandoffRequest, waiting).status == "open"
        assert release_for_cancellation(session, conversation_id="c1", now=T0) is None, "only once"
