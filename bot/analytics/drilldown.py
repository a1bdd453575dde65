"""The conversations behind a chart segment: a reason, an offer kind, a segment, a funnel step or a day.

`Selection` names the segment as the charts do (bot/analytics/charts.py); `conversations` lists the matching
conversations of the period, newest first, a page at a time; `conversation_condition` is also what the CSV
export filters by.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.analytics.charts import FUNNEL_STEPS
from bot.analytics.dashboard_saves import save_status_case, with_contract
from bot.analytics.period import Period
from bot.records.models import ConversationFact

DIMENSIONS = ("reason", "offer_kind", "segment", "step", "day")
PAGE_SIZE = 50


class InvalidSelection(ValueError):
    """A drill-down asked for something the charts do not show."""


@dataclass(frozen=True)
class Selection:
    """A chart segment: `dimension` (one of DIMENSIONS) = `code`; no dimension: every conversation."""

    dimension: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if self.dimension is None:
            return
        if self.dimension not in DIMENSIONS or not self.code or len(self.code) > 40:
            raise InvalidSelection("Unbekannte Auswahl.")
        if self.dimension == "step" and self.code not in FUNNEL_STEPS:
            raise InvalidSelection("Unbekannter Schritt.")
        if self.dimension == "day":
            try:
                date.fromisoformat(self.code)
            except ValueError as error:
                raise InvalidSelection("Ungültiges Datum.") from error

    def condition(self) -> ColumnElement[bool] | None:
        fact = ConversationFact
        if self.dimension is None or self.code is None:
            return None
        if self.dimension == "reason":
            intent = fact.cancellation_intent.is_(True)
            return intent & (fact.reason.is_(None) if self.code == "none" else fact.reason == self.code)
        if self.dimension in ("offer_kind", "segment"):
            return fact.cancellation_intent.is_(True) & (getattr(fact, self.dimension) == self.code)
        if self.dimension == "day":
            starts = datetime.combine(date.fromisoformat(self.code), time.min, tzinfo=timezone.utc)
            return (fact.started_at >= starts) & (fact.started_at < starts + timedelta(days=1))
        return fact.cancellation_intent.is_(True) & _step_condition(self.code)


def _step_condition(step: str) -> ColumnElement[bool]:
    fact = ConversationFact
    return {
        "intent": fact.cancellation_intent.is_(True),
        "reason": fact.reason.is_not(None),
        "offer": fact.offer_made_at.is_not(None),
        "accepted": fact.outcome == "offer_accepted",
        "cancelled": fact.outcome == "cancelled",
        "handed_off": fact.outcome == "handed_off",
    }[step]


def conversation_condition(period: Period, selection: Selection) -> ColumnElement[bool]:
    extra = selection.condition()
    return period.condition() if extra is None else period.condition() & extra


@dataclass(frozen=True)
class ConversationRow:
    conversation_id: str
    started_at: datetime
    channel: str
    segment: str | None
    reason: str | None
    offer_kind: str | None
    outcome: str
    save_status: str | None
    dissatisfaction_peak: float
    rating: int | None


def conversations(session: Session, period: Period, selection: Selection, *, today: date, hold_days: int,
                  page: int = 1) -> tuple[list[ConversationRow], bool]:
    """One page of the selected conversations, newest first, and whether there is a next page."""
    fact = ConversationFact
    statement = with_contract(select(
        fact.conversation_id, fact.started_at, fact.channel, fact.segment, fact.reason, fact.offer_kind,
        fact.outcome, save_status_case(today=today, hold_days=hold_days), fact.dissatisfaction_peak, fact.rating,
    ).select_from(fact)).where(conversation_condition(period, selection)) \
        .order_by(fact.started_at.desc(), fact.id.desc()).offset((max(page, 1) - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    rows = [ConversationRow(*row) for row in session.execute(statement).all()]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def customer_of(session: Session, conversation_id: str) -> tuple[bool, int | None]:
    """Whether the conversation has facts, and its verified customer's id."""
    row = session.execute(select(ConversationFact.customer_id)
                          .where(ConversationFact.conversation_id == conversation_id)).first()
    return (False, None) if row is None else (True, row[0])
