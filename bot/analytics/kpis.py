"""The dashboard's key figures for a period and channel, each with the period before: SQL aggregates over
conversation_facts: one scan over both periods, one over their accepted offers (save status, revenue), and
two small ones per period for the median handoff wait.

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
    revenue_if_held,
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


def _statistics(session: Session, periods: tuple[Period, ...], *, today: date, hold_days: int) -> list[dict]:
    """The sums behind the figures of adjacent `periods` (oldest first), in two scans over all of them: one over
    every conversation, one over the accepted offers only (index on outcome) for the save status and revenue."""
    fact = ConversationFact
    first, last = periods[0], periods[-1]
    span = (fact.started_at >= first.starts) & (fact.started_at < last.ends)
    if last.channel is not None:
        span = span & (fact.channel == last.channel)
    bucket = case(*[(fact.started_at >= period.starts, index) for index, period in reversed(list(enumerate(periods)))],
                  else_=0)

    def count_when(condition: object) -> object:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    found = {index: {"conversations": 0, "customers": 0, "intents": 0, "cost": 0, "cancellations": 0, "handoffs": 0,
                     "fallbacks": 0, "messages": 0, "rating": None, SAVE_HELD: 0, SAVE_PENDING: 0, SAVE_LOST: 0,
                     "revenue": 0} for index in range(len(periods))}
    for row in session.execute(select(
        bucket, func.count(fact.id), func.count(func.distinct(fact.customer_id)),
        count_when(fact.cancellation_intent.is_(True)),
        func.coalesce(func.sum(case((fact.outcome == "offer_accepted", fact.offer_cost_cents), else_=0)), 0),
        count_when(fact.cancelled_at.is_not(None) | (fact.outcome == "cancelled")),
        count_when(handed_off()), func.coalesce(func.sum(fact.fallbacks), 0),
        func.coalesce(func.sum(fact.messages), 0), func.avg(fact.rating),
    ).where(span).group_by(bucket)):
        found[int(row[0])].update(zip(("conversations", "customers", "intents", "cost", "cancellations", "handoffs",
                                        "fallbacks", "messages", "rating"), row[1:], strict=False))
    status = save_status_case(today=today, hold_days=hold_days)
    for index, save, count, revenue in session.execute(with_contract(select(
            bucket, status, func.count(fact.id),
            func.coalesce(func.sum(revenue_if_held(today=today)), 0)).select_from(fact))
            .where(span & (fact.outcome == "offer_accepted")).group_by(bucket, status)):
        if save is None:
            continue
        found[int(index)][save] = int(count)
        found[int(index)]["revenue"] += int(revenue) if save == SAVE_HELD else 0
    return [found[index] for index in range(len(periods))]


def _figures(session: Session, period: Period, sums: dict) -> Figures:
    conversations, intents = int(sums["conversations"]), int(sums["intents"])
    return Figures(
        conversations=conversations, customers=int(sums["customers"]), cancellation_intents=intents,
        saves_held=sums[SAVE_HELD], saves_pending=sums[SAVE_PENDING], saves_lost=sums[SAVE_LOST],
        save_rate=_ratio(sums[SAVE_HELD], intents), revenue_retained_cents=sums["revenue"],
        offer_cost_cents=int(sums["cost"]), cancellations=int(sums["cancellations"]),
        handoffs=int(sums["handoffs"]), handoff_rate=_ratio(sums["handoffs"], conversations),
        median_wait_seconds=median_wait_seconds(session, period) if sums["handoffs"] else None,
        fallback_rate=_ratio(sums["fallbacks"], sums["messages"]),
        average_rating=None if sums["rating"] is None else float(sums["rating"]))


def figures(session: Session, period: Period, *, today: date, hold_days: int) -> Figures:
    """The key figures of `period` (saves judged as of `today`)."""
    return _figures(session, period, _statistics(session, (period,), today=today, hold_days=hold_days)[0])


def kpis(session: Session, period: Period, *, today: date, hold_days: int) -> list[Kpi]:
    """Every key figure of `period` with the previous period's, in the dashboard's order."""
    previous = period.previous()
    before_sums, now_sums = _statistics(session, (previous, period), today=today, hold_days=hold_days)
    now, before = _figures(session, period, now_sums), _figures(session, previous, before_sums)
    return [Kpi(name, getattr(now, name), getattr(before, name)) for name in KPI_NAMES]
