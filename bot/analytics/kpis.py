"""The dashboard's key figures for a period and channel, each with the period before: SQL aggregates over
conversation_facts (one query per period, plus two small ones for the median handoff wait).

Definitions (README "Marketing dashboard"):
- conversations: started in the period; customers: distinct verified customers among them;
- cancellation intents: conversations in which the customer wanted to cancel;
- save rate: held saves / cancellation intents (bot/analytics/dashboard_saves.py: held, pending, lost);
- offer cost: the cost of the offers accepted; revenue retained: of the held saves, net of their cost;
- cancellations processed: conversations that ended with a cancellation;
- handoff rate: conversations handed to a person / conversations; median wait: of those, seconds until taken;
- fallback rate: messages not understood / customer messages; average rating (1-5) of the rated ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from bot.analytics.dashboard_saves import (
    SAVE_HELD,
    SAVE_LOST,
    SAVE_PENDING,
    revenue_retained_case,
    save_status_case,
    with_contract,
)
from bot.analytics.period import Period
from bot.records.models import ConversationFact


@dataclass(frozen=True)
class Figures:
    """The key figures of one period (money in cents, rates as fractions, None where nothing to divide)."""

    conversations: int
    customers: int
    cancellation_intents: int
    saves_held: int
    saves_pending: int
    saves_lost: int
    save_rate: float | None
    revenue_retained_cents: int
    offer_cost_cents: int
    cancellations: int
    handoffs: int
    handoff_rate: float | None
    median_wait_seconds: float | None
    fallback_rate: float | None
    average_rating: float | None


@dataclass(frozen=True)
class Kpi:
    """One figure now and in the previous period, and the change."""

    name: str
    current: float | int | None
    previous: float | int | None

    @property
    def change(self) -> float | int | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous


KPI_NAMES = ("conversations", "customers", "cancellation_intents", "save_rate", "saves_held", "saves_pending",
             "saves_lost", "revenue_retained_cents", "offer_cost_cents", "cancellations", "handoff_rate",
             "median_wait_seconds", "fallback_rate", "average_rating")


def _ratio(part: int | float | None, whole_: int | float | None) -> float | None:
    return None if not whole_ else float(part or 0) / float(whole_)


def handed_off() -> object:
    fact = ConversationFact
    return or_(fact.handoff_wait_seconds.is_not(None), fact.outcome == "handed_off")


def median_wait_seconds(session: Session, period: Period) -> float | None:
    """The median handoff wait of the period (the middle one or two values, found by the database)."""
    fact = ConversationFact
    where = period.condition() & fact.handoff_wait_seconds.is_not(None)
    count = session.scalar(select(func.count()).select_from(fact).where(where)) or 0
    if count == 0:
        return None
    middle = session.scalars(select(fact.handoff_wait_seconds).where(where).order_by(fact.handoff_wait_seconds)
                             .offset((count - 1) // 2).limit(2 - count % 2)).all()
    return sum(middle) / len(middle)


def figures(session: Session, period: Period, *, today: date, hold_days: int) -> Figures:
    """The key figures of `period` (saves judged as of `today`)."""
    fact = ConversationFact
    status = save_status_case(today=today, hold_days=hold_days)

    def count_when(condition: object) -> object:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    statement = with_contract(select(
        func.count(fact.id),
        func.count(func.distinct(fact.customer_id)),
        count_when(fact.cancellation_intent.is_(True)),
        count_when(status == SAVE_HELD),
        count_when(status == SAVE_PENDING),
        count_when(status == SAVE_LOST),
        func.coalesce(func.sum(revenue_retained_case(today=today, hold_days=hold_days)), 0),
        func.coalesce(func.sum(case((fact.outcome == "offer_accepted", fact.offer_cost_cents), else_=0)), 0),
        count_when(fact.cancelled_at.is_not(None) | (fact.outcome == "cancelled")),
        count_when(handed_off()),
        func.coalesce(func.sum(fact.fallbacks), 0),
        func.coalesce(func.sum(fact.messages), 0),
        func.avg(fact.rating),
    ).select_from(fact)).where(period.condition())
    (conversations, customers, intents, held, pending, lost, revenue, cost, cancellations, handoffs, fallbacks,
     messages, rating) = session.execute(statement).one()
    return Figures(
        conversations=int(conversations), customers=int(customers), cancellation_intents=int(intents),
        saves_held=int(held), saves_pending=int(pending), saves_lost=int(lost), save_rate=_ratio(held, intents),
        revenue_retained_cents=int(revenue), offer_cost_cents=int(cost), cancellations=int(cancellations),
        handoffs=int(handoffs), handoff_rate=_ratio(handoffs, conversations),
        median_wait_seconds=median_wait_seconds(session, period), fallback_rate=_ratio(fallbacks, messages),
        average_rating=None if rating is None else float(rating))


def kpis(session: Session, period: Period, *, today: date, hold_days: int) -> list[Kpi]:
    """Every key figure of `period` with the previous period's, in the dashboard's order."""
    now = figures(session, period, today=today, hold_days=hold_days)
    before = figures(session, period.previous(), today=today, hold_days=hold_days)
    return [Kpi(name, getattr(now, name), getattr(before, name)) for name in KPI_NAMES]
