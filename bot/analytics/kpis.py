"""The dashboard's key figures for a period and channel, each with the period before. Per period: the additive
figures from the daily roll-up (bot/analytics/rollup.py: at most one small row per day and channel), and from
the facts what cannot be added up day by day: the distinct customers (partial index over the verified
conversations), the save status and revenue of the accepted offers (judged against the contracts today; index
on outcome) and the median handoff wait (partial index over the handed-off conversations).

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

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.analytics import rollup
from bot.analytics.dashboard_saves import SAVE_HELD, SAVE_LOST, SAVE_PENDING, SaveGroup, saves_by_group
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


def median_wait_seconds(session: Session, period: Period, *, count: int | None = None) -> float | None:
    """The median handoff wait of the period (the middle one or two values, found by the database; `count`: how
    many waits the period has, if known). Both reads use the partial index over the handed-off conversations."""
    fact = ConversationFact
    where = period.condition() & fact.handoff_wait_seconds.is_not(None)
    if count is None:
        count = session.scalar(select(func.count()).select_from(fact).where(where)) or 0
    if count == 0:
        return None
    middle = session.scalars(select(fact.handoff_wait_seconds).where(where).order_by(fact.handoff_wait_seconds)
                             .offset((count - 1) // 2).limit(2 - count % 2)).all()
    return sum(middle) / len(middle)


def distinct_customers(session: Session, period: Period) -> int:
    """How many verified customers had a conversation in the period: read from the partial index
    ix_conversation_facts_customers (started_at, channel, customer_id; verified conversations only)."""
    fact = ConversationFact
    return int(session.scalar(select(func.count(func.distinct(fact.customer_id)))
                              .where(period.condition() & fact.customer_id.is_not(None))) or 0)


def _statistics(session: Session, periods: tuple[Period, ...], *, today: date, hold_days: int,
                known_saves: dict[Period, list[SaveGroup]] | None = None) -> list[dict]:
    """The sums behind the figures of each of `periods`: the roll-up's sums, the distinct customers, and one scan
    over the period's accepted offers only (index on outcome) for the save status and revenue, unless
    `known_saves` has them (dashboard_saves.saves_by_group, read once for the page)."""
    found = []
    for period in periods:
        sums = rollup.totals(session, period)
        values: dict = {
            "conversations": sums["conversations"], "customers": distinct_customers(session, period),
            "intents": sums["cancellation_intents"], "cost": sums["accepted_offer_cost_cents"],
            "cancellations": sums["cancellations"], "handoffs": sums["handoffs"], "waits": sums["handoff_waits"],
            "fallbacks": sums["fallbacks"], "messages": sums["messages"],
            "rating": sums["rating_sum"] / sums["ratings"] if sums["ratings"] else None}
        values |= {SAVE_HELD: 0, SAVE_PENDING: 0, SAVE_LOST: 0, "revenue": 0}
        groups = (known_saves or {}).get(period)
        if groups is None:
            groups = saves_by_group(session, period, today=today, hold_days=hold_days)
        for group in groups:
            values[group.status] += group.count
            values["revenue"] += group.revenue_if_held if group.status == SAVE_HELD else 0
        found.append(values)
    return found


def _figures(session: Session, period: Period, sums: dict) -> Figures:
    conversations, intents = int(sums["conversations"]), int(sums["intents"])
    return Figures(
        conversations=conversations, customers=int(sums["customers"]), cancellation_intents=intents,
        saves_held=sums[SAVE_HELD], saves_pending=sums[SAVE_PENDING], saves_lost=sums[SAVE_LOST],
        save_rate=_ratio(sums[SAVE_HELD], intents), revenue_retained_cents=sums["revenue"],
        offer_cost_cents=int(sums["cost"]), cancellations=int(sums["cancellations"]),
        handoffs=int(sums["handoffs"]), handoff_rate=_ratio(sums["handoffs"], conversations),
        median_wait_seconds=median_wait_seconds(session, period, count=int(sums["waits"] or 0)),
        fallback_rate=_ratio(sums["fallbacks"], sums["messages"]),
        average_rating=None if sums["rating"] is None else float(sums["rating"]))


def figures(session: Session, period: Period, *, today: date, hold_days: int) -> Figures:
    """The key figures of `period` (saves judged as of `today`)."""
    return _figures(session, period, _statistics(session, (period,), today=today, hold_days=hold_days)[0])


def kpis(session: Session, period: Period, *, today: date, hold_days: int,
         saves: list[SaveGroup] | None = None) -> list[Kpi]:
    """Every key figure of `period` with the previous period's, in the dashboard's order (`saves`: the period's
    saves_by_group, if already read)."""
    previous = period.previous()
    before_sums, now_sums = _statistics(session, (previous, period), today=today, hold_days=hold_days,
                                        known_saves=None if saves is None else {period: saves})
    now, before = _figures(session, period, now_sums), _figures(session, previous, before_sums)
    return [Kpi(name, getattr(now, name), getattr(before, name)) for name in KPI_NAMES]
