"""Save validation (bot.analytics.saves): pending, held and lost after N days, the same in Python and in SQL on
SQLite and PostgreSQL; revenue retained."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.analytics.saves import (
    SAVE_HELD,
    SAVE_LOST,
    SAVE_PENDING,
    revenue_retained_cents,
    revenue_retained_for,
    save_status,
    save_status_sql,
)
from bot.records.database import transaction
from bot.records.models import Cancellation, Contract, ConversationFact
from tests.factories import add_customer

TODAY = date(2026, 12, 1)
MIDNIGHT = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _fact(outcome: str, accepted: datetime | None, contract_id: int | None = None, cost: int = 0,
          sender: str = "c") -> ConversationFact:
    return ConversationFact(conversation_id=sender, channel="socketio", started_at=accepted or MIDNIGHT,
                            ended_at=accepted or MIDNIGHT, outcome=outcome, offer_made_at=accepted,
                            contract_id=contract_id, offer_cost_cents=cost, updated_at=MIDNIGHT, messages=3,
                            intents="cancel_contract", dissatisfaction_peak=0.0, cancellation_intent=True,
                            fallbacks=0)


@pytest.mark.parametrize(("days_ago", "status", "cancelled_days_after", "expected"), [
    (10, "active", None, SAVE_PENDING),          # not 30 days yet
    (29, "paused", None, SAVE_PENDING),
    (30, "active", None, SAVE_HELD),             # 30 days and still a customer
    (200, "active", None, SAVE_HELD),
    (10, "cancelled", 5, SAVE_LOST),             # cancelled within 30 days: lost at once
    (40, "cancelled", 12, SAVE_LOST),            # a save lost after 30 days' wait
    (90, "cancelled", 45, SAVE_HELD),            # cancelled only after it had held 30 days
])
def test_save_status(days_ago: int, status: str, cancelled_days_after: int | None, expected: str) -> None:
    accepted = MIDNIGHT - timedelta(days=days_ago)
    cancelled = accepted + timedelta(days=cancelled_days_after) if cancelled_days_after is not None else None
    fact = _fact("offer_accepted", accepted)
    assert save_status(fact, status, today=TODAY, hold_days=30, cancelled_at=cancelled) == expected


def test_only_accepted_offers_are_saves_and_the_hold_is_configurable() -> None:
    for outcome in ("cancelled", "handed_off", "abandoned", "resolved", "open"):
        assert save_status(_fact(outcome, MIDNIGHT - timedelta(days=99)), "active", today=TODAY, hold_days=30) is None
    fact = _fact("offer_accepted", MIDNIGHT - timedelta(days=10))
    assert save_status(fact, "active", today=TODAY, hold_days=7) == SAVE_HELD
    assert save_status(fact, "cancelled", today=TODAY, hold_days=7) == SAVE_HELD  # cancelled today, after 10 days
    assert save_status(fact, "cancelled", today=TODAY, hold_days=30) == SAVE_LOST


def test_the_sql_expression_agrees_with_the_python_rule(database_url: str) -> None:
    cases = {  # conversation: (days since the offer was accepted, days after it the contract was cancelled)
        "pending": (10, None), "held": (45, None), "lost-early": (10, 3), "lost-after-wait": (40, 12),
        "held-then-cancelled": (90, 45)}
    with transaction(database_url) as session:
        for number, (sender, (days_ago, cancelled_after)) in enumerate(cases.items(), start=1):
            customer = add_customer(session, number=f"K10000{number}", plan_code="MOBIL_M")
            contract = session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()
            accepted = MIDNIGHT - timedelta(days=days_ago) + timedelta(hours=9)
            session.add(_fact("offer_accepted", accepted, contract.id, sender=sender))
            if cancelled_after is not None:
                contract.status = "cancelled"
                session.add(Cancellation(contract_id=contract.id, customer_id=customer.id, conversation_id="later",
                                         requested_at=accepted + timedelta(days=cancelled_after),
                                         effective_date=TODAY + timedelta(days=30), reason="price",
                                         confirmation_number=f"KB-{number}"))
        session.add(_fact("cancelled", MIDNIGHT - timedelta(days=50), sender="not-a-save"))
    with transaction(database_url) as session:
        rows = dict(session.execute(select(ConversationFact.conversation_id,
                                           save_status_sql(today=TODAY, hold_days=30))).all())
        python = {}
        for fact in session.scalars(select(ConversationFact)):
            contract = session.get(Contract, fact.contract_id) if fact.contract_id else None
            cancellation = session.scalars(select(Cancellation).where(
                Cancellation.contract_id == fact.contract_id)).first()
            python[fact.conversation_id] = save_status(
                fact, contract.status if contract else None, today=TODAY, hold_days=30,
                cancelled_at=cancellation.requested_at if cancellation else None)
    assert rows == {"pending": SAVE_PENDING, "held": SAVE_HELD, "lost-early": SAVE_LOST,
                    "lost-after-wait": SAVE_LOST, "held-then-cancelled": SAVE_HELD, "not-a-save": None}
    assert python == rows


def test_revenue_retained() -> None:
    # 20.00 EUR a month, would have ended 31 Jan, still running on 15 May: 3 whole months, minus the offer's cost.
    assert revenue_retained_cents(monthly_price_cents=2000, would_have_ended_on=date(2026, 1, 31),
                                  stayed_until=date(2026, 5, 15), offer_cost_cents=1500) == 3 * 2000 - 1500
    # Not yet beyond the date it would have ended: only the cost.
    assert revenue_retained_cents(monthly_price_cents=2000, would_have_ended_on=date(2026, 6, 30),
                                  stayed_until=date(2026, 5, 15), offer_cost_cents=1500) == -1500


def test_revenue_retained_for_a_held_save_from_its_contract(sqlite_database_url: str) -> None:
    with transaction(sqlite_database_url) as session:
        customer = add_customer(session, number="K100001", plan_code="MOBIL_M", minimum_term_end=date(2026, 1, 1),
                                notice_months=1)
        contract = session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()
        # Accepted on 10 March 2026: a cancellation then would have ended the contract on 10 April 2026.
        fact = _fact("offer_accepted", datetime(2026, 3, 10, 10, tzinfo=timezone.utc), contract.id, cost=999)
        assert revenue_retained_for(fact, contract, today=date(2026, 9, 15)) == 5 * contract.monthly_price_cents - 999
        contract.status, contract.cancellation_effective_date = "cancelled", date(2026, 7, 10)
        assert revenue_retained_for(fact, contract, today=date(2026, 9, 15)) == 3 * contract.monthly_price_cents - 999
