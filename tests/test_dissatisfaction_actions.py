"""The dissatisfaction score against real databases (SQLite and PostgreSQL), as the action server runs it."""
from __future__ import annotations

import socket
from datetime import date, datetime, timedelta, timezone

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.dissatisfaction import HUMAN_OFFERED, PRIORITY_OFFERED, ActionUpdateDissatisfaction
from actions.handoff import ActionRequestHuman
from actions.requests import ActionServeRequest
from bot.records.database import transaction
from bot.records.models import Complaint, ConversationInsight, HandoffRequest
from tests.factories import add_customer, tracker

DOMAIN: dict = {}
NEGATIVE = {"label": "negative", "score": 0.9}


@pytest.fixture
def records(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def _customer(url: str, *, complaints: tuple[tuple[str, bool, int], ...] = (), **kwargs) -> int:
    """A customer with complaints given as (category, resolved, days ago)."""
    with transaction(url) as session:
        customer = add_customer(session, **kwargs)
        for category, resolved, days_ago in complaints:
            session.add(Complaint(customer_id=customer.id, created_at=datetime.now(timezone.utc) - timedelta(days=days_ago),
                                  category=category, description="", resolved=resolved))
        return customer.id


def _message(intent: str, *, sentiment: dict | None = None, slots: dict | None = None,
             sender: str = "conversation-1", events: list[dict] | None = None):
    result = tracker(intent=intent, slots=slots, sender=sender, events=events)
    if sentiment is not None:
        result.latest_message["sentiment"] = sentiment
    return result


def _slots(events: list[dict]) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def _insights(url: str) -> list[ConversationInsight]:
    with transaction(url) as session:
        return list(session.scalars(select(ConversationInsight)))


async def test_every_message_updates_one_row_per_conversation(records: str) -> None:
    customer_id = _customer(records, number="K400001", plan_code="DSL_100")
    action = ActionUpdateDissatisfaction()

    first = _slots(await action.run(CollectingDispatcher(), _message("complain", sentiment=NEGATIVE), DOMAIN))
    assert first["dissatisfaction"] == pytest.approx(0.57)
    assert first["dissatisfaction_reasons"] == ["negative_sentiment", "complaint"]

    calm_slots = {**first, "verified_customer": float(customer_id)}
    second = calm_slots | _slots(await action.run(CollectingDispatcher(), _message("ask_contract", slots=calm_slots),
                                                  DOMAIN))
    assert second["dissatisfaction"] < first["dissatisfaction"], "a calm message lets the score decay"
    assert second["dissatisfaction_peak"] == pytest.approx(0.57)

    [row] = _insights(records)
    assert row.conversation_id == "conversation-1" and row.customer_id == customer_id
    assert row.dissatisfaction == pytest.approx(second["dissatisfaction"])
    assert row.peak_dissatisfaction == pytest.approx(0.57)
    assert row.reasons == "negative_sentiment,complaint" and row.acknowledged is True

    # a new session (slots back to their initial values, no verified id) keeps what was stored
    await action.run(CollectingDispatcher(), _message("cancel_contract"), DOMAIN)
    [row] = _insights(records)
    assert row.customer_id == customer_id and row.dissatisfaction == pytest.approx(0.2)
    assert row.peak_dissatisfaction == pytest.approx(0.57) and row.acknowledged is True


async def test_a_calm_conversation_leaves_no_row_and_no_events(records: str) -> None:
    initial = {"dissatisfaction": 0.0, "dissatisfaction_peak": 0.0}
    events = await ActionUpdateDissatisfaction().run(CollectingDispatcher(), _message("ask_contract", slots=initial),
                                                     DOMAIN)
    assert events == []
    assert _insights(records) == []


async def test_the_frustration_is_acknowledged_once_with_a_human_offered(records: str) -> None:
    action = ActionUpdateDissatisfaction()
    dispatcher = CollectingDispatcher()
    slots = _slots(await action.run(dispatcher, _message("cancel_contract", sentiment=NEGATIVE,
                                                         slots={"dissatisfaction": 0.3}), DOMAIN))
    assert slots["dissatisfaction_acknowledged"] == HUMAN_OFFERED
    assert "unzufrieden" in _texts(dispatcher)
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/request_human", "/deny"]

    again = CollectingDispatcher()
    await action.run(again, _message("cancel_contract", sentiment=NEGATIVE, slots=slots), DOMAIN)
    assert again.messages == [], "only once per conversation"


async def test_an_angry_cancellation_that_says_why_is_acknowledged_once_not_twice(records: str) -> None:
    """The cancellation reply says sorry for the complaint in the message itself (bot.assistant.mixed_messages):
    the frustration acknowledgement, with its human offer, would be a second "sorry" before the cancellation."""
    message = _message("cancel_contract", sentiment=NEGATIVE, slots={"dissatisfaction": 0.3})
    message.latest_message.update(text="Ich kündige, euer Kundenservice ist eine Katastrophe, keiner ruft zurück",
                                  intent_ranking=[{"name": "cancel_contract", "confidence": 0.7},
                                                  {"name": "complain", "confidence": 0.3}])
    dispatcher = CollectingDispatcher()
    slots = _slots(await ActionUpdateDissatisfaction().run(dispatcher, message, DOMAIN))
    assert dispatcher.messages == []
    assert slots["dissatisfaction_acknowledged"] == HUMAN_OFFERED, "acknowledged by the cancellation reply"


async def test_repeated_question_and_fallbacks_count(records: str) -> None:
    asked = {"event": "user", "text": "Rechnung", "parse_data": {"intent": {"name": "ask_bill"}}}
    lost = {"event": "user", "text": "hä", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    repeated = _slots(await ActionUpdateDissatisfaction().run(
        CollectingDispatcher(), _message("ask_bill", events=[asked, asked]), DOMAIN))
    assert repeated["dissatisfaction_reasons"] == ["repeated_question"]
    lost_twice = _slots(await ActionUpdateDissatisfaction().run(
        CollectingDispatcher(), _message("nlu_fallback", events=[lost, lost]), DOMAIN))
    assert lost_twice["dissatisfaction_reasons"] == ["repeated_fallback"]


async def test_the_history_is_loaded_once_after_verification(records: str, monkeypatch: pytest.MonkeyPatch) -> None:
    customer_id = _customer(records, number="K400002", plan_code="DSL_100", segment="business",
                            complaints=(("technical", False, 10), ("technical", False, 40), ("billing", True, 20),
                                        ("service", True, 400)))
    action = ActionUpdateDissatisfaction()
    slots = _slots(await action.run(CollectingDispatcher(), _message(
        "greet", slots={"verified_customer": float(customer_id)}), DOMAIN))
    assert slots["customer_history"] == {"recent_complaints": 1, "open_faults": 2, "high_value": True}
    assert slots["dissatisfaction"] == pytest.approx(0.4)
    assert slots["dissatisfaction_reasons"] == ["complaint_history", "open_fault"]

    # from then on the slot is used: no query per message, and a turn that changes nothing writes nothing
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nothing")
    later = await action.run(CollectingDispatcher(), _message(
        "greet", slots={"verified_customer": float(customer_id), **slots}), DOMAIN)
    assert later == []
    assert _insights(records)[0].dissatisfaction == pytest.approx(0.4)


@pytest.mark.parametrize(("segment", "priority", "told"), [("business", "urgent", True),
                                                           ("standard", "normal", False)])
async def test_very_dissatisfied_high_value_customer_is_handed_over_with_priority(
        records: str, segment: str, priority: str, told: bool) -> None:
    customer_id = _customer(records, number="K400003", plan_code="MOBIL_M", segment=segment,
                            start=date.today() - timedelta(days=60))
    history = {"recent_complaints": 0, "open_faults": 0, "high_value": segment == "business"}
    slots = {"verified_customer": float(customer_id), "customer_history": history, "dissatisfaction": 0.6,
             "dissatisfaction_peak": 0.6, "dissatisfaction_acknowledged": HUMAN_OFFERED}
    dispatcher = CollectingDispatcher()
    slots |= _slots(await ActionUpdateDissatisfaction().run(dispatcher, _message("complain", slots=slots), DOMAIN))
    assert slots["dissatisfaction"] >= 0.75
    if told:
        assert slots["dissatisfaction_acknowledged"] == PRIORITY_OFFERED
        assert "bevorzugt" in _texts(dispatcher)
    else:
        assert dispatcher.messages == [], "acknowledged before, and not a high-value customer"

    handoff_reply = CollectingDispatcher()
    await ActionRequestHuman().run(handoff_reply, _message("request_human", slots=slots), DOMAIN)
    assert ("bevorzugt" in _texts(handoff_reply)) is told
    with transaction(records) as session:
        handoff = session.scalars(select(HandoffRequest)).one()
        assert handoff.priority == priority
        assert handoff.dissatisfaction == pytest.approx(slots["dissatisfaction_peak"])


async def test_cancelling_while_identifying_switches_and_keeps_what_is_known(records: str) -> None:
    known = {"customer_id": "K400004", "pending_request": "ask_bill", "requested_slot": "verification_secret"}
    # a reason stated earlier ("schon wieder kein Netz") is kept: straight on with the identification
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(
        intent="cancel_contract", active_loop="verification_form",
        slots={**known, "cancellation_reason": "technical"}), DOMAIN)
    assert _slots(events) == {"pending_request": "cancellation"}
    assert {"event": "active_loop", "name": "verification_form"} in [
        {"event": e["event"], "name": e.get("name")} for e in events]
    assert "Kündigung" in _texts(dispatcher)
    # without a reason, the optional reason question comes first
    events = await ActionServeRequest().run(CollectingDispatcher(), tracker(
        intent="cancel_contract", active_loop="verification_form", slots=known), DOMAIN)
    assert _slots(events) == {"pending_request": "cancellation"}
    assert {"event": "active_loop", "name": "cancellation_form"} in [
        {"event": e["event"], "name": e.get("name")} for e in events]


async def test_a_database_outage_does_not_stop_the_score(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{dead_port}/nothing")
    dispatcher = CollectingDispatcher()
    slots = _slots(await ActionUpdateDissatisfaction().run(
        dispatcher, _message("cancel_contract", sentiment=NEGATIVE, slots={"dissatisfaction": 0.3}), DOMAIN))
    assert slots["dissatisfaction"] == pytest.approx(0.77)
    assert "unzufrieden" in _texts(dispatcher)
