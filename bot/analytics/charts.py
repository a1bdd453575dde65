"""The series behind the dashboard's charts, aggregated in SQL over conversation_facts for a period.

Every series names its segments by the codes the drill-down takes (bot/analytics/drilldown.py), so a click
on a bar opens the conversations behind it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.analytics.dashboard_saves import SAVE_HELD, SAVE_LOST, SAVE_PENDING, save_status_case, with_contract
from bot.analytics.period import Period
from bot.analytics.sql import utc_day
from bot.records.models import ConversationFact, FallbackMessage

FUNNEL_STEPS = ("intent", "reason", "offer", "accepted", "cancelled", "handed_off")
SAVE_RATE_DIMENSIONS = ("offer_kind", "reason", "segment")
TOP_FALLBACKS = 10


@dataclass(frozen=True)
class DayPoint:
    day: date
    conversations: int
    cancellation_intents: int
    dissatisfaction: float | None  # the average dissatisfaction peak of the day's conversations


@dataclass(frozen=True)
class Share:
    """One segment of a grouped chart: its code, how many conversations, of which saves held/pending/lost."""

    code: str
    conversations: int
    held: int = 0
    pending: int = 0
    lost: int = 0

    @property
    def save_rate(self) -> float | None:
        return self.held / self.conversations if self.conversations else None


@dataclass(frozen=True)
class FallbackCount:
    text: str
    count: int


def _count_when(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def per_day(session: Session, period: Period) -> list[DayPoint]:
    """Conversations, cancellation intents and average dissatisfaction peak per UTC day (every day listed)."""
    fact = ConversationFact
    day = utc_day(fact.started_at)
    rows = session.execute(
        select(day, func.count(fact.id), _count_when(fact.cancellation_intent.is_(True)),
               func.avg(fact.dissatisfaction_peak))
        .where(period.condition()).group_by(day)).all()
    found = {str(row[0]): row for row in rows}
    points = []
    for offset in range(period.days):
        current = period.first + timedelta(days=offset)
        row = found.get(current.isoformat())
        points.append(DayPoint(current, int(row[1]), int(row[2]), float(row[3]) if row[3] is not None else None)
                      if row else DayPoint(current, 0, 0, None))
    return points


def reasons(session: Session, period: Period) -> list[Share]:
    """Cancellation conversations per stated reason, most frequent first ('none': no reason given)."""
    fact = ConversationFact
    code = func.coalesce(fact.reason, "none")
    rows = session.execute(select(code, func.count(fact.id))
                           .where(period.condition() & fact.cancellation_intent.is_(True))
                           .group_by(code).order_by(func.count(fact.id).desc(), code)).all()
    return [Share(str(reason), int(count)) for reason, count in rows]


def save_rate_by(session: Session, period: Period, dimension: str, *, today: date, hold_days: int) -> list[Share]:
    """Cancellation conversations per offer kind, reason or segment with their saves (held / pending / lost).

    By offer kind only conversations in which an offer was made count; by segment only verified customers.
    """
    if dimension not in SAVE_RATE_DIMENSIONS:
        raise ValueError(f"dimension must be one of {SAVE_RATE_DIMENSIONS}")
    fact = ConversationFact
    column = getattr(fact, dimension)
    status = save_status_case(today=today, hold_days=hold_days)
    statement = with_contract(select(column, func.count(fact.id), _count_when(status == SAVE_HELD),
                                     _count_when(status == SAVE_PENDING), _count_when(status == SAVE_LOST))
                              .select_from(fact))
    rows = session.execute(statement.where(period.condition() & fact.cancellation_intent.is_(True)
                                           & column.is_not(None))
                           .group_by(column).order_by(column)).all()
    return [Share(str(code), int(total), int(held), int(pending), int(lost))
            for code, total, held, pending, lost in rows]


def funnel(session: Session, period: Period) -> list[Share]:
    """Cancellation intent → reason given → offer made → accepted / cancelled / handed off."""
    fact = ConversationFact
    row = session.execute(select(
        func.count(fact.id),
        _count_when(fact.reason.is_not(None)),
        _count_when(fact.offer_made_at.is_not(None)),
        _count_when(fact.outcome == "offer_accepted"),
        _count_when(fact.outcome == "cancelled"),
        _count_when(fact.outcome == "handed_off"),
    ).where(period.condition() & fact.cancellation_intent.is_(True))).one()
    return [Share(step, int(count)) for step, count in zip(FUNNEL_STEPS, row)]


def top_fallbacks(session: Session, period: Period, *, mask: Callable[[str], str],
                  limit: int = TOP_FALLBACKS) -> list[FallbackCount]:
    """The messages most often not understood in the period (channel through their conversation), masked."""
    message = FallbackMessage
    statement = select(message.text, func.count(message.id)).where(
        (message.at >= period.starts) & (message.at < period.ends))
    if period.channel is not None:
        statement = statement.join(ConversationFact, ConversationFact.conversation_id == message.conversation_id) \
            .where(ConversationFact.channel == period.channel)
    rows = session.execute(statement.group_by(message.text)
                           .order_by(func.count(message.id).desc(), message.text).limit(limit)).all()
    return [FallbackCount(mask(str(text_value)), int(count)) for text_value, count in rows]
