"""From Rasa events to the dashboard: three conversations (cancelled, saved, handed off) projected by PIPELINE's
`apply_event` with the records the actions write, then read by the dashboard's aggregates (SQLite, PostgreSQL)."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from bot.analytics import charts, drilldown, kpis
from bot.analytics.drilldown import Selection
from bot.analytics.period import Period
from bot.analytics.projection import apply_event, refresh_unfinished_handoffs
from bot.records.database import transaction
from bot.records.models import Cancellation, Contract, HandoffRequest, OfferDecision, RetentionOffer
from tests.analytics_events import action, at, slot, user
from tests.factories import add_customer

DAY = at(0).date()
PERIOD = Period(DAY, DAY)


def _apply(url: str, events: list[dict]) -> None:
    with transaction(url) as session:
        for event in events:
            apply_event(session, event, now=at(3600))


def _customer(url: str, number: str) -> tuple[int, int, str]:
    with transaction(url) as session:
        customer = add_customer(session, number=number, plan_code="MOBIL_M", segment="premium")
        contract = session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()
        return customer.id, contract.id, contract.contract_number


def _identified(sender: str, start: float, customer_id: int) -> list[dict]:
    return [user(sender, start, "K1", "identify"), slot(sender, start + 1, "verified_customer", float(customer_id))]


def test_cancelled_saved_and_handed_off_conversations_show_on_the_dashboard(database_url: str) -> None:
    leaving, leaving_contract, leaving_number = _customer(database_url, "K200001")
    staying, staying_contract, staying_number = _customer(database_url, "K200002")
    _apply(database_url, [user("c-cancel", 0, "Ich will kündigen", "cancel_contract"),
                          slot("c-cancel", 1, "cancellation_reason", "competitor"),
                          *_identified("c-cancel", 2, leaving)])
    with transaction(database_url) as session:
        session.add(Cancellation(contract_id=leaving_contract, customer_id=leaving, conversation_id="c-cancel",
                                 requested_at=at(20), effective_date=date(2026, 12, 31), reason="competitor",
                                 confirmation_number="KB-E2E00001"))
    _apply(database_url, [user("c-cancel", 19, "Jetzt kündigen", "cancel_now"), action("c-cancel", 20, "action_cancel"),
                          slot("c-cancel", 20.1, "contract_number", leaving_number)])

    _apply(database_url, [user("c-save", 100, "Kündigen bitte", "cancel_contract"), *_identified("c-save", 101, staying),
                          slot("c-save", 105, "cancellation_reason", "price"), action("c-save", 106, "action_serve_request"),
                          slot("c-save", 106.1, "offer_code", "DISCOUNT_20"),
                          slot("c-save", 106.2, "contract_number", staying_number)])
    with transaction(database_url) as session:
        offer_id = session.scalars(select(RetentionOffer.id).where(RetentionOffer.code == "DISCOUNT_20")).one()
        session.add(OfferDecision(conversation_id="c-save", customer_id=staying, contract_id=staying_contract,
                                  offer_id=offer_id, reason="price", outcome="accepted", cost_cents=2398,
                                  decided_at=at(110)))
    _apply(database_url, [user("c-save", 109, "Ja", "accept_offer"), action("c-save", 110, "action_accept_offer")])

    with transaction(database_url) as session:
        session.add(HandoffRequest(conversation_id="c-human", reason="request_human", created_at=at(201),
                                   status="open", channel="socketio"))
    _apply(database_url, [user("c-human", 200, "Ich will kündigen, aber mit einem Menschen", "cancel_contract"),
                          user("c-human", 201, "Mensch bitte", "request_human"), action("c-human", 202, "action_handoff")])
    with transaction(database_url) as session:
        handoff = session.scalars(select(HandoffRequest)).one()
        handoff.status, handoff.taken_at = "taken", at(261)
    with transaction(database_url) as session:
        refresh_unfinished_handoffs(session)

    soon, later = DAY + timedelta(days=1), DAY + timedelta(days=31)
    with transaction(database_url) as session:
        now = kpis.figures(session, PERIOD, today=soon, hold_days=30)
        held = kpis.figures(session, PERIOD, today=later, hold_days=30)
        funnel = {share.code: share.conversations for share in charts.funnel(session, PERIOD)}
        price, _ = drilldown.conversations(session, PERIOD, Selection("reason", "price"), today=soon, hold_days=30)
    assert (now.conversations, now.customers, now.cancellation_intents, now.cancellations) == (3, 2, 3, 1)
    assert (now.saves_held, now.saves_pending, now.saves_lost, now.offer_cost_cents) == (0, 1, 0, 2398)
    assert (held.saves_held, held.saves_pending, held.save_rate) == (1, 0, 1 / 3)
    assert now.handoff_rate == 1 / 3 and now.median_wait_seconds == 60
    assert funnel == {"intent": 3, "reason": 2, "offer": 1, "accepted": 1, "cancelled": 1, "handed_off": 1}
    assert [(row.conversation_id, row.save_status) for row in price] == [("c-save", "pending")]
