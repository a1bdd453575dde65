"""The projection from Rasa events to conversation facts (bot.analytics.projection), on hand-built event
sequences and records, on SQLite and PostgreSQL: a cancellation, a save, a handoff, an abandoned
conversation; every event delivered twice counts once."""
from __future__ import annotations

import json
import random
from datetime import date

import pytest
from sqlalchemy import select

from bot.analytics.events import InvalidEvent, event_key
from bot.analytics.projection import apply_event, close_quiet_conversations, refresh_unfinished_handoffs
from bot.records.database import transaction
from bot.records.models import (
    Cancellation,
    Contract,
    ConversationFact,
    FallbackMessage,
    HandoffRequest,
    OfferDecision,
    ProcessedEvent,
    RetentionOffer,
    SatisfactionRating,
)
from tests.analytics_events import action, at, bot, slot, user
from tests.factories import add_customer

NOW = at(3600)
SECRET_ANSWER = "[entfernt: Angabe zur Identifizierung]"


def _customer(url: str, number: str = "K100001", segment: str = "premium") -> tuple[int, int, str, int]:
    with transaction(url) as session:
        customer = add_customer(session, number=number, plan_code="MOBIL_M", segment=segment)
        contract = session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()
        return customer.id, contract.id, contract.contract_number, contract.monthly_price_cents


def _apply(url: str, events: list[dict]) -> list[bool]:
    with transaction(url) as session:
        return [apply_event(session, event, now=NOW) for event in events]


def _fact(url: str, sender: str) -> ConversationFact:
    with transaction(url) as session:
        fact = session.scalars(select(ConversationFact).where(ConversationFact.conversation_id == sender)).one()
        session.expunge(fact)
        return fact


def _identify(sender: str, start: float, customer_id: int, *, channel: str = "socketio") -> list[dict]:
    return [user(sender, start, "K100001", "identify", channel=channel), action(sender, start + 1, "verification_form"),
            slot(sender, start + 1.1, "requested_slot", "verification_secret"),
            user(sender, start + 10, SECRET_ANSWER, "identify", channel=channel),
            slot(sender, start + 11, "verified_customer", float(customer_id)),
            slot(sender, start + 11.1, "verification_secret", "verified")]


def test_a_cancellation(database_url: str) -> None:
    customer_id, contract_id, contract_number, _ = _customer(database_url)
    sender = "conv-cancel"
    events = [action(sender, 0, "action_session_start"), user(sender, 1, "Hallo", "greet"),
              action(sender, 2, "utter_greet"), bot(sender, 2.1, "Guten Tag!"),
              user(sender, 5, "Ich will kündigen, zu teuer", "cancel_contract"),
              slot(sender, 5.5, "cancellation_reason", "price"),
              *_identify(sender, 6, customer_id),
              user(sender, 30, "blorf wexel", "nlu_fallback"), action(sender, 31, "action_default_fallback")]
    assert all(_apply(database_url, events))
    with transaction(database_url) as session:  # the action cancels (the records), then Rasa publishes the turn
        session.add(Cancellation(contract_id=contract_id, customer_id=customer_id, conversation_id=sender,
                                 requested_at=at(41), effective_date=date(2026, 12, 31), reason="price",
                                 confirmation_number="KB-2026-000001"))
    assert all(_apply(database_url, [user(sender, 40, "Jetzt kündigen", "cancel_now"),
                                     action(sender, 41, "action_cancel"),
                                     slot(sender, 41.2, "contract_number", contract_number),
                                     action(sender, 42, "action_listen")]))

    fact = _fact(database_url, sender)
    assert (fact.channel, fact.started_at, fact.ended_at) == ("socketio", at(0), at(42))
    assert (fact.customer_id, fact.segment, fact.contract_id) == (customer_id, "premium", contract_id)
    assert fact.messages == 6
    assert fact.intents == "greet,cancel_contract,identify,nlu_fallback,cancel_now"
    assert fact.cancellation_intent and fact.cancellation_intent_at == at(5)
    assert (fact.reason, fact.outcome, fact.cancelled_at) == ("price", "cancelled", at(41))
    assert fact.offer_code is None and fact.fallbacks == 1
    with transaction(database_url) as session:
        assert session.scalars(select(FallbackMessage.text)).all() == ["blorf wexel"]
        stored = json.dumps([{c.name: str(getattr(row, c.name)) for c in row.__table__.columns}
                             for row in session.scalars(select(ConversationFact))])
    assert "entfernt" not in stored and "10115" not in stored  # verification answers never reach the facts


def test_a_save_with_offer_kind_value_and_cost(database_url: str) -> None:
    customer_id, contract_id, contract_number, price = _customer(database_url)
    sender = "conv-save"
    with transaction(database_url) as session:
        offer = session.scalars(select(RetentionOffer).where(RetentionOffer.code == "DISCOUNT_20")).one()
        offer_id = offer.id
    events = [user(sender, 0, "Ich möchte kündigen", "cancel_contract", channel="rest"),
              *_identify(sender, 2, customer_id, channel="rest"),
              user(sender, 20, "Es ist mir zu teuer", "state_cancellation_details", channel="rest"),
              slot(sender, 20.5, "cancellation_reason", "price"),
              action(sender, 21, "action_serve_request"), slot(sender, 21.1, "offer_code", "DISCOUNT_20"),
              slot(sender, 21.2, "offer_pending", True), slot(sender, 21.3, "contract_number", contract_number),
              slot(sender, 21.4, "dissatisfaction_peak", 0.55), action(sender, 22, "action_listen")]
    _apply(database_url, events)
    with transaction(database_url) as session:
        session.add(OfferDecision(conversation_id=sender, customer_id=customer_id, contract_id=contract_id,
                                  offer_id=offer_id, reason="price", outcome="accepted", cost_cents=2398,
                                  decided_at=at(31)))
        session.add(SatisfactionRating(conversation_id=sender, customer_id=customer_id, rating=5,
                                       created_at=at(50)))
    _apply(database_url, [user(sender, 30, "Ja, gerne", "accept_offer", channel="rest"), action(sender, 31, "action_accept_offer"),
                          slot(sender, 31.1, "offer_code", None), slot(sender, 31.2, "offer_pending", False),
                          user(sender, 49, "5", "rate", channel="rest"), action(sender, 50, "action_rate"),
                          slot(sender, 50.1, "rating", 5.0)])

    fact = _fact(database_url, sender)
    assert (fact.channel, fact.outcome, fact.reason, fact.contract_id) == ("rest", "offer_accepted", "price",
                                                                            contract_id)
    assert (fact.offer_code, fact.offer_kind, fact.offer_made_at) == ("DISCOUNT_20", "discount", at(21.1))
    assert fact.offer_value_cents == price * 20 // 100
    assert fact.offer_cost_cents == 2398
    assert fact.dissatisfaction_peak == pytest.approx(0.55)
    assert fact.rating == 5 and fact.cancelled_at is None


def test_a_handoff_with_wait_and_handling_time_taken_later_by_an_agent(database_url: str) -> None:
    sender = "conv-handoff"
    with transaction(database_url) as session:
        session.add(HandoffRequest(conversation_id=sender, reason="request_human", created_at=at(11),
                                   status="open", channel="socketio"))
    _apply(database_url, [user(sender, 10, "Ich will einen Menschen sprechen", "request_human"),
                          action(sender, 11, "action_handoff"), action(sender, 12, "action_listen")])
    fact = _fact(database_url, sender)
    assert fact.outcome == "handed_off" and fact.handoff_wait_seconds is None

    with transaction(database_url) as session:  # an agent takes it after 95 s and closes it 5 minutes later
        handoff = session.scalars(select(HandoffRequest)).one()
        handoff.status, handoff.taken_at, handoff.closed_at = "closed", at(106), at(406)
        handoff.resolution = "solved"
    with transaction(database_url) as session:
        refresh_unfinished_handoffs(session)
    fact = _fact(database_url, sender)
    assert (fact.handoff_wait_seconds, fact.handoff_handling_seconds) == (95, 300)


def test_an_abandoned_conversation_and_a_resolved_one_are_closed_after_the_quiet_time(database_url: str) -> None:
    customer_id, _, contract_number, _ = _customer(database_url)
    gone, served = "conv-gone", "conv-served"
    _apply(database_url, [user(gone, 0, "kündigen", "cancel_contract"), *_identify(gone, 1, customer_id),
                          action(gone, 20, "action_serve_request"), slot(gone, 20.1, "offer_code", "DISCOUNT_10"),
                          slot(gone, 20.2, "contract_number", contract_number),
                          user(served, 0, "Wie hoch ist meine Rechnung?", "ask_bill"),
                          action(served, 1, "action_serve_request"), user(served, 60, "Danke", "thank")])
    with transaction(database_url) as session:
        assert close_quiet_conversations(session, now=at(20 + 29 * 60), idle_minutes=30) == 0
    with transaction(database_url) as session:
        assert close_quiet_conversations(session, now=at(61 + 30 * 60), idle_minutes=30) == 2
    assert _fact(database_url, gone).outcome == "abandoned"
    assert _fact(database_url, gone).offer_kind == "discount"
    assert _fact(database_url, served).outcome == "resolved"

    _apply(database_url, [user(gone, 4000, "Hallo? Ich bin wieder da", "greet")])  # back: open again
    assert _fact(database_url, gone).outcome == "open"


def test_every_event_delivered_twice_counts_once_in_any_order(database_url: str) -> None:
    customer_id, _, _, _ = _customer(database_url)
    sender = "conv-twice"
    events = [user(sender, 0, "kündigen", "cancel_contract"), *_identify(sender, 1, customer_id),
              user(sender, 20, "blorf", "nlu_fallback"), user(sender, 21, "blorf", "nlu_fallback"),
              action(sender, 22, "action_listen")]
    first = _apply(database_url, events)
    deliveries = events + events[:4]
    random.Random(3).shuffle(deliveries)
    again = _apply(database_url, deliveries)
    assert all(first) and not any(again)

    fact = _fact(database_url, sender)
    assert (fact.messages, fact.fallbacks) == (5, 2)  # the same text twice at two times: two messages
    with transaction(database_url) as session:
        assert len(session.scalars(select(ProcessedEvent)).all()) == len(events)
        assert len(session.scalars(select(FallbackMessage)).all()) == 2


def test_the_event_key_is_stable_and_tells_different_events_apart() -> None:
    event = user("a", 1, "Hallo", "greet")
    reordered = dict(reversed(list(json.loads(json.dumps(event)).items())))
    assert event_key(event) == event_key(reordered) and len(event_key(event)) == 64
    assert event_key(event) != event_key(user("b", 1, "Hallo", "greet"))
    assert event_key(event) != event_key(user("a", 1.001, "Hallo", "greet"))
    assert event_key(event) != event_key(user("a", 1, "Hallo!", "greet"))
    assert event_key(slot("a", 1, "rating", 4.0)) != event_key(slot("a", 1, "rating", 5.0))
    for broken in ({"event": "user", "timestamp": 1.0}, {"sender_id": "a", "timestamp": 1.0},
                   {"sender_id": "a", "event": "user"}):
        with pytest.raises(InvalidEvent):
            event_key(broken)


def test_a_batch_with_repeated_events_counts_each_once(database_url: str) -> None:
    from bot.analytics.projection import apply_events

    sender = "conv-batch"
    events = [user(sender, 0, "kündigen", "cancel_contract"), user(sender, 5, "blorf", "nlu_fallback"),
              action(sender, 6, "action_listen")]
    with transaction(database_url) as session:
        assert apply_events(session, events + events[::-1], now=NOW) == 3
    with transaction(database_url) as session:
        assert apply_events(session, events, now=NOW) == 0
    fact = _fact(database_url, sender)
    assert (fact.messages, fact.fallbacks, fact.intents) == (2, 1, "cancel_contract,nlu_fallback")


def test_a_batch_gives_the_same_facts_as_one_event_at_a_time(database_url: str) -> None:
    """apply_events reads each conversation's records once per batch and flushes once at the end (performance):
    the facts must come out as with apply_event event by event, for conversations interleaved in the batch with
    several of the project's actions each."""
    from bot.analytics.projection import apply_events

    customer_id, contract_id, contract_number, _ = _customer(database_url)
    with transaction(database_url) as session:
        offer_id = session.scalars(select(RetentionOffer).where(RetentionOffer.code == "DISCOUNT_20")).one().id

    def conversation(sender: str) -> list[dict]:
        with transaction(database_url) as session:  # the actions commit their records before Rasa publishes
            session.add(OfferDecision(conversation_id=sender, customer_id=customer_id, contract_id=contract_id,
                                      offer_id=offer_id, reason="price", outcome="accepted", cost_cents=2398,
                                      decided_at=at(31)))
            session.add(SatisfactionRating(conversation_id=sender, customer_id=customer_id, rating=4,
                                           created_at=at(50)))
            session.add(HandoffRequest(conversation_id=sender, reason="request_human", created_at=at(40),
                                       taken_at=at(70), status="taken", channel="rest"))
        return [user(sender, 0, "Ich möchte kündigen", "cancel_contract", channel="rest"),
                *_identify(sender, 2, customer_id, channel="rest"),
                user(sender, 20, "zu teuer", "state_cancellation_details", channel="rest"),
                slot(sender, 20.5, "cancellation_reason", "price"), action(sender, 21, "action_serve_request"),
                slot(sender, 21.1, "offer_code", "DISCOUNT_20"), slot(sender, 21.3, "contract_number", contract_number),
                user(sender, 25, "blorf", "nlu_fallback", channel="rest"), action(sender, 26, "action_default_fallback"),
                user(sender, 30, "Ja", "accept_offer", channel="rest"), action(sender, 31, "action_accept_offer"),
                slot(sender, 31.1, "offer_code", None), user(sender, 39, "Mensch", "request_human", channel="rest"),
                action(sender, 40, "action_handoff"), user(sender, 49, "4", "rate", channel="rest"),
                action(sender, 50, "action_rate"), slot(sender, 50.1, "rating", 4.0),
                slot(sender, 50.2, "dissatisfaction", 0.7), action(sender, 51, "action_listen")]

    single = [*conversation("one-a"), *conversation("one-b")]
    batch = [event for pair in zip(conversation("batch-a"), conversation("batch-b"), strict=True) for event in pair]
    for event in sorted(single, key=lambda event: event["timestamp"]):
        _apply(database_url, [event])
    with transaction(database_url) as session:
        assert apply_events(session, batch + batch[:5], now=NOW) == len(batch)

    columns = [column.key for column in ConversationFact.__table__.columns if column.key not in ("conversation_id", "id")]
    for one, other in (("one-a", "batch-a"), ("one-b", "batch-b")):
        expected, got = _fact(database_url, one), _fact(database_url, other)
        assert {name: getattr(got, name) for name in columns} == {name: getattr(expected, name) for name in columns}
    assert _fact(database_url, "batch-a").outcome == "offer_accepted"
    with transaction(database_url) as session:
        texts = session.scalars(select(FallbackMessage.conversation_id).order_by(FallbackMessage.conversation_id))
        assert list(texts) == ["batch-a", "batch-b", "one-a", "one-b"]
