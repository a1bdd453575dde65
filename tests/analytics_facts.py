"""A small fixed set of conversation facts whose dashboard figures are computed by hand in
tests/test_analytics_kpis.py (also used by the access and browser tests).

Judged on TODAY (2026-12-10), save hold period 30 days, period November 2026 (previous: 2 to 31 October).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.analytics.period import Period
from bot.records.models import Cancellation, Contract, ConversationFact, Customer, FallbackMessage
from tests.factories import add_customer

TODAY = date(2026, 12, 10)
HOLD_DAYS = 30
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
HOSTILE_INTENTS = "=HYPERLINK(\"http://evil.example\")"
FALLBACK_WITH_EMAIL = "Meine E-Mail ist erika.k100003@mail.example, bitte melden"


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Seeded:
    customer_ids: dict[str, int]


def fact(conversation_id: str, started: datetime, **values: object) -> ConversationFact:
    values.setdefault("channel", "socketio")
    values.setdefault("messages", 2)
    return ConversationFact(conversation_id=conversation_id, started_at=started,
                            ended_at=values.pop("ended_at", started), updated_at=started, **values)


def seed_facts(session: Session) -> Seeded:
    """The customers, contracts and facts of the hand-computed example."""
    customers = {
        "c1": add_customer(session, number="K100001", plan_code="MOBIL_M", notice_months=0),  # 19,99 €
        "c2": add_customer(session, number="K100002", plan_code="DSL_100", segment="premium"),  # 39,99 €
        "c3": add_customer(session, number="K100003", plan_code="MOBIL_S"),
        "c4": add_customer(session, number="K100004", plan_code="DSL_50", segment="business"),
    }
    contract = {key: session.scalars(select(Contract).where(Contract.customer_id == c.id)).one()
                for key, c in customers.items()}
    # The save of c2 was lost: the contract was cancelled 15 days after the offer had been accepted.
    contract["c2"].status = "cancelled"
    contract["c2"].cancellation_effective_date = date(2026, 12, 31)
    ids = {key: c.id for key, c in customers.items()}
    session.add(Cancellation(contract_id=contract["c2"].id, customer_id=ids["c2"], conversation_id="later",
                             requested_at=at(11, 20), effective_date=date(2026, 12, 31),
                             confirmation_number="KB-LOST0001"))
    session.add_all([
        # held save: accepted 2 Nov, contract still active on 10 Dec (37.6 days later); revenue 1999 × 1 − 1000
        fact("f1-held", at(11, 2), customer_id=ids["c1"], segment="standard", contract_id=contract["c1"].id,
             messages=6, intents="cancel_contract,inform_reason", cancellation_intent=True,
             cancellation_intent_at=at(11, 2, 10, 1), reason="price", offer_code="DISCOUNT_20", offer_kind="discount",
             offer_value_cents=400, offer_cost_cents=1000, offer_made_at=at(11, 2, 10, 5),
             outcome="offer_accepted", rating=5, dissatisfaction_peak=0.6),
        # lost save
        fact("f2-lost", at(11, 5, 9), channel="whatsapp", customer_id=ids["c2"], segment="premium",
             contract_id=contract["c2"].id, messages=4, cancellation_intent=True, reason="competitor",
             offer_code="PRICE_MATCH_25", offer_kind="price_match", offer_cost_cents=3000,
             offer_made_at=at(11, 5, 9, 3), outcome="offer_accepted", rating=3, dissatisfaction_peak=0.8),
        # pending save: accepted 25 Nov, only 14.5 days before TODAY
        fact("f3-pending", at(11, 25, 12), customer_id=ids["c3"], segment="standard", contract_id=contract["c3"].id,
             messages=5, cancellation_intent=True, reason="price", offer_code="DISCOUNT_10", offer_kind="discount",
             offer_cost_cents=500, offer_made_at=at(11, 25, 12, 2), outcome="offer_accepted"),
        # offer declined, cancelled
        fact("f4-cancelled", at(11, 10, 8), customer_id=ids["c4"], segment="business", contract_id=contract["c4"].id,
             messages=3, cancellation_intent=True, reason="technical", offer_code="GOODWILL_25",
             offer_kind="goodwill_credit", offer_cost_cents=2500, offer_made_at=at(11, 10, 8, 1),
             outcome="cancelled", cancelled_at=at(11, 10, 8, 5)),
        # handed off before giving a reason
        fact("f5-handoff", at(11, 12), cancellation_intent=True, outcome="handed_off", handoff_wait_seconds=120,
             fallbacks=1),
        fact("f6-rest", at(11, 15), channel="rest", customer_id=ids["c1"], segment="standard", messages=5,
             outcome="resolved", handoff_wait_seconds=60, rating=4, fallbacks=2),
        fact("f7-abandoned", at(11, 20), intents=HOSTILE_INTENTS, outcome="abandoned", fallbacks=1),
        # previous period (2 to 31 October): one cancellation
        fact("p1-cancelled", at(10, 20), cancellation_intent=True, reason="price", outcome="cancelled",
             cancelled_at=at(10, 20, 10, 9)),
        # outside both periods
        fact("x1-early", at(10, 1)),
        fact("x2-late", at(12, 1), cancellation_intent=True, reason="price"),
    ])
    session.add_all([
        FallbackMessage(conversation_id="f6-rest", text="Was kostet Roaming?", at=at(11, 15, 10, 1)),
        FallbackMessage(conversation_id="f7-abandoned", text="Was kostet Roaming?", at=at(11, 20, 10, 1)),
        FallbackMessage(conversation_id="f5-handoff", text=FALLBACK_WITH_EMAIL, at=at(11, 12, 10, 1)),
    ])
    session.flush()
    return Seeded(ids)


def customer_names(session: Session) -> list[str]:
    return [c.customer_number for c in session.scalars(select(Customer))]
