"""One code path from Rasa's event stream to the conversation facts (both consumers call `apply_event`).

`apply_event` applies one event to its conversation's row in `conversation_facts`, inside the caller's
transaction, and remembers the event's stable key (bot.analytics.events) in `analytics_processed_events`:
an event delivered twice changes nothing the second time. What the events say (channel, times, intents,
slots) is combined with what the records say about the same conversation (offer_decisions, cancellations,
handoff_requests, satisfaction_ratings, conversation_insights), which the actions have committed before
Rasa publishes the turn's events.

The daily roll-up of the dashboard's additive figures (bot.analytics.rollup) follows every change of a fact made
here, in the same flush and transaction (ORM events on ConversationFact): a duplicate event changes no fact and
so no count; a fact whose start, channel or outcome changes moves its counts.

Message texts are not kept, except those the assistant did not understand (analytics_fallback_messages,
for "what to teach it next"); verification answers and callback numbers arrive already redacted
(bot.conversation_store) and are never stored here.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.analytics.events import RasaEvent, conversation_id, event_key, event_time, event_type, intent_name
from bot.records.models import (
    Cancellation,
    Contract,
    ConversationFact,
    ConversationInsight,
    Customer,
    FallbackMessage,
    HandoffRequest,
    OfferDecision,
    ProcessedEvent,
    RetentionOffer,
    SatisfactionRating,
)

OPEN, RESOLVED, OFFER_ACCEPTED, CANCELLED, HANDED_OFF, ABANDONED = (
    "open", "resolved", "offer_accepted", "cancelled", "handed_off", "abandoned")
CLOSED_BY_SILENCE = (RESOLVED, ABANDONED)
CANCELLATION_INTENTS = frozenset({"cancel_contract", "cancel_now"})
FALLBACK_INTENT = "nlu_fallback"
REDACTED_PREFIX = "[entfernt"  # bot.conversation_store's placeholders: never kept as a fallback message
MAX_FALLBACK_TEXT = 500
_RASA_ACTIONS = frozenset({"action_listen", "action_session_start", "action_restart", "action_back",
                           "action_unlikely_intent", "action_extract_slots"})
# Per-transaction caches in Session.info (apply_events): keys known to be new, facts already loaded, and what the
# records say per conversation (read once per batch: the actions commit their records before Rasa publishes the
# turn's events, so every record an event of the batch refers to is already there at the batch's first read).
_UNSEEN_KEYS, _FACTS, _RECORDS = "analytics_unseen_keys", "analytics_facts", "analytics_records"


def apply_event(session: Session, event: RasaEvent, *, now: datetime) -> bool:
    """Apply one Rasa event (as the brokers publish it) to the facts; False when its key was seen before.

    Raises bot.analytics.events.InvalidEvent for a message that is not a conversation event.
    """
    key = event_key(event)
    unseen: set[str] | None = session.info.get(_UNSEEN_KEYS)
    if unseen is not None:  # apply_events looked the batch's keys up in one query
        if key not in unseen:
            return False  # committed before, or a second copy in this batch
        unseen.discard(key)
    elif session.get(ProcessedEvent, key) is not None:
        return False
    sender, at, kind = conversation_id(event), event_time(event), event_type(event)
    session.add(ProcessedEvent(key=key, conversation_id=sender, processed_at=now))
    facts: dict[str, ConversationFact] = session.info.setdefault(_FACTS, {})
    fact = facts.get(sender)
    if fact is None:
        fact = session.scalar(select(ConversationFact).where(ConversationFact.conversation_id == sender))
    if fact is None:
        fact = ConversationFact(conversation_id=sender, started_at=at, ended_at=at, messages=0, intents="",
                                dissatisfaction_peak=0.0, cancellation_intent=False, outcome=OPEN, fallbacks=0,
                                updated_at=now)
        session.add(fact)
    facts[sender] = fact
    fact.started_at = min(fact.started_at, at)
    fact.ended_at = max(fact.ended_at, at)
    fact.updated_at = now
    if kind == "user":
        _apply_user_message(session, fact, event, at)
    elif kind == "slot":
        _apply_slot(session, fact, event.get("name"), event.get("value"), at)
    elif kind == "action" and _may_change_records(event.get("name")):
        refresh_from_records(session, fact)
    return True


def apply_events(session: Session, events: list[RasaEvent], *, now: datetime) -> int:
    """`apply_event` for several events in the caller's transaction, with the seen keys looked up in one query;
    returns how many were new. Raises InvalidEvent for a message that is not a conversation event."""
    keys = {event_key(event) for event in events}
    seen = set(session.scalars(select(ProcessedEvent.key).where(ProcessedEvent.key.in_(keys)))) if keys else set()
    session.info[_UNSEEN_KEYS] = keys - seen
    session.info[_RECORDS] = {}
    try:
        # No flush before every query (on PostgreSQL each is a round trip): the batch's new rows and changed facts
        # go out in one flush at the end. The queries in between read only the records (which the consumer never
        # writes) and facts not yet touched in this batch (those it touched are in the _FACTS cache).
        with session.no_autoflush:
            applied = sum(apply_event(session, event, now=now) for event in events)
        session.flush()
        return applied
    finally:
        session.info.pop(_UNSEEN_KEYS, None)
        session.info.pop(_FACTS, None)
        session.info.pop(_RECORDS, None)


def _may_change_records(action: object) -> bool:
    """Only actions of the project write records; Rasa's own and plain responses do not."""
    return isinstance(action, str) and action not in _RASA_ACTIONS and not action.startswith("utter_")


def _apply_user_message(session: Session, fact: ConversationFact, event: RasaEvent, at: datetime) -> None:
    fact.messages = (fact.messages or 0) + 1
    channel = event.get("input_channel")
    if isinstance(channel, str) and channel:
        fact.channel = channel[:20]
    if fact.outcome in CLOSED_BY_SILENCE:  # the customer came back: the conversation is open again
        fact.outcome = OPEN
    intent = intent_name(event)
    if intent is None:
        return
    seen = [name for name in (fact.intents or "").split(",") if name]
    if intent not in seen:
        fact.intents = ",".join([*seen, intent])
    if intent in CANCELLATION_INTENTS and not fact.cancellation_intent:
        fact.cancellation_intent, fact.cancellation_intent_at = True, at
    if intent == FALLBACK_INTENT:
        fact.fallbacks = (fact.fallbacks or 0) + 1
        text = event.get("text")
        if isinstance(text, str) and text.strip() and not text.startswith(REDACTED_PREFIX):
            session.add(FallbackMessage(conversation_id=fact.conversation_id, text=text[:MAX_FALLBACK_TEXT], at=at))


def _apply_slot(session: Session, fact: ConversationFact, name: Any, value: Any, at: datetime) -> None:
    if name == "verified_customer" and isinstance(value, int | float) and not isinstance(value, bool):
        customer = session.get(Customer, int(value))
        if customer is not None:
            fact.customer_id, fact.segment = customer.id, customer.segment
    elif name == "cancellation_reason" and isinstance(value, str) and value:
        fact.reason = value[:40]
    elif name in ("dissatisfaction", "dissatisfaction_peak") and isinstance(value, int | float):
        fact.dissatisfaction_peak = max(fact.dissatisfaction_peak or 0.0, float(value))
    elif name == "rating" and isinstance(value, int | float) and not isinstance(value, bool):
        fact.rating = int(value)
    elif name == "offer_code" and isinstance(value, str) and value:
        if value != fact.offer_code:
            offer = session.scalar(select(RetentionOffer).where(RetentionOffer.code == value))
            fact.offer_code, fact.offer_made_at = value[:40], at
            fact.offer_kind = offer.kind if offer is not None else None
            fact.offer_value_cents = fact.offer_cost_cents = None
            _price_offer(session, fact)
    elif name == "contract_number" and isinstance(value, str) and value:
        contract = session.scalar(select(Contract).where(Contract.contract_number == value))
        if contract is not None and (fact.customer_id is None or contract.customer_id == fact.customer_id):
            fact.contract_id = contract.id
            _price_offer(session, fact)


def offer_value_cents(offer: RetentionOffer, monthly_price_cents: int | None) -> int | None:
    """What the offer is worth to the customer: per month for discounts and pauses, once for credits."""
    if offer.kind in ("discount", "price_match") and monthly_price_cents is not None:
        return monthly_price_cents * offer.discount_percent // 100
    if offer.credit_cents:
        return offer.credit_cents
    if offer.kind == "pause" and monthly_price_cents is not None:
        return monthly_price_cents
    return None


def _price_offer(session: Session, fact: ConversationFact) -> None:
    if fact.offer_code is None or fact.offer_value_cents is not None:
        return
    offer = session.scalar(select(RetentionOffer).where(RetentionOffer.code == fact.offer_code))
    if offer is None:
        return
    contract = session.get(Contract, fact.contract_id) if fact.contract_id is not None else None
    fact.offer_value_cents = offer_value_cents(offer, contract.monthly_price_cents if contract else None)


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else max(0, round((end - start).total_seconds()))


def _read_records(session: Session, sender: str) -> tuple:
    """The latest offer decision, latest cancellation, first handoff, latest rating and insight peak of a
    conversation."""
    decision = session.scalars(select(OfferDecision).where(OfferDecision.conversation_id == sender)
                               .order_by(OfferDecision.decided_at.desc(), OfferDecision.id.desc())).first()
    if decision is not None:
        _ = decision.offer  # loaded now, while the records are read
    cancellation = session.scalars(select(Cancellation).where(Cancellation.conversation_id == sender)
                                   .order_by(Cancellation.requested_at.desc())).first()
    handoff = session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id == sender)
                              .order_by(HandoffRequest.created_at)).first()
    rating = session.scalars(select(SatisfactionRating.rating).where(SatisfactionRating.conversation_id == sender)
                             .order_by(SatisfactionRating.created_at.desc())).first()
    peak = session.scalar(select(ConversationInsight.peak_dissatisfaction)
                          .where(ConversationInsight.conversation_id == sender))
    return decision, cancellation, handoff, rating, peak


def refresh_from_records(session: Session, fact: ConversationFact) -> None:
    """What the records say about this conversation: offer decision and cost, cancellation, handoff times,
    rating, dissatisfaction peak; and the outcome that follows from them."""
    sender = fact.conversation_id
    cache: dict[str, tuple] | None = session.info.get(_RECORDS)
    records = cache.get(sender) if cache is not None else None
    if records is None:
        records = _read_records(session, sender)
        if cache is not None:
            cache[sender] = records
    decision, cancellation, handoff, rating, peak = records
    if decision is not None:
        offer = decision.offer
        if fact.offer_code != offer.code:
            fact.offer_code, fact.offer_kind, fact.offer_value_cents = offer.code, offer.kind, None
            fact.offer_made_at = fact.offer_made_at or decision.decided_at
        fact.contract_id = decision.contract_id
        fact.offer_cost_cents = decision.cost_cents
        _price_offer(session, fact)
    if cancellation is not None:
        fact.cancelled_at = cancellation.requested_at
        if decision is None or decision.outcome != "accepted":
            fact.contract_id = cancellation.contract_id
    if handoff is not None:
        fact.handoff_wait_seconds = _seconds(handoff.created_at, handoff.taken_at)
        fact.handoff_handling_seconds = _seconds(handoff.taken_at, handoff.closed_at)
    if rating is not None:
        fact.rating = rating
    if peak is not None:
        fact.dissatisfaction_peak = max(fact.dissatisfaction_peak or 0.0, peak)

    accepted_at = decision.decided_at if decision is not None and decision.outcome == "accepted" else None
    if accepted_at is not None and (cancellation is None or accepted_at >= cancellation.requested_at):
        fact.outcome = OFFER_ACCEPTED
    elif cancellation is not None:
        fact.outcome = CANCELLED
    elif handoff is not None:
        fact.outcome = HANDED_OFF


def close_quiet_conversations(session: Session, *, now: datetime, idle_minutes: int) -> int:
    """Open conversations without an event for `idle_minutes`: abandoned when the customer came to cancel
    (or had an offer open) and left without a result, otherwise resolved. Returns how many were closed.
    A later message opens the conversation again. (Bulk updates bypass the daily roll-up's ORM events; open,
    resolved and abandoned count alike there, so it needs no change: bot.analytics.rollup.)"""
    cutoff = now - timedelta(minutes=idle_minutes)
    quiet = (ConversationFact.outcome == OPEN) & (ConversationFact.ended_at < cutoff)
    abandoned = session.execute(
        update(ConversationFact)
        .where(quiet & (ConversationFact.cancellation_intent.is_(True) | ConversationFact.offer_code.is_not(None)))
        .values(outcome=ABANDONED, updated_at=now).execution_options(synchronize_session=False)).rowcount
    resolved = session.execute(update(ConversationFact).where(quiet).values(outcome=RESOLVED, updated_at=now)
                               .execution_options(synchronize_session=False)).rowcount
    return (abandoned or 0) + (resolved or 0)


def refresh_unfinished_handoffs(session: Session, *, since: datetime | None = None) -> int:
    """Handoffs taken or closed by an agent after the conversation's last event: their wait and handling times
    (for conversations that ended after `since`, when given; a handoff never taken is not looked at forever)."""
    query = select(ConversationFact).where(ConversationFact.outcome == HANDED_OFF,
                                           ConversationFact.handoff_handling_seconds.is_(None))
    if since is not None:
        query = query.where(ConversationFact.ended_at >= since)
    facts = session.scalars(query).all()
    for fact in facts:
        refresh_from_records(session, fact)
    return len(facts)
