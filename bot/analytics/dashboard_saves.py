"""Save status and revenue retained as SQL expressions for the dashboard's aggregates.

The status is PIPELINE's rule (bot/analytics/saves.py, `save_status_sql`): held, pending or lost (a cancellation
of the contract requested within `hold_days` after the offer was accepted). Revenue retained by a held save is
`saves.revenue_retained_for` in SQL: monthly price × whole months the contract ran beyond the date it would have
ended had the customer cancelled when accepting (the minimum term end, or one notice month later, as
bot.retention.dates.effective_cancellation_date), until today or its actual end, minus the offer's cost. In
SQL a month is the average Gregorian month (30.436875 days), so a figure can differ from the calendar-month
count by one month at a boundary day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.analytics.period import Period
from bot.analytics.saves import SAVE_HELD, SAVE_LOST, SAVE_PENDING, STILL_A_CUSTOMER, save_status_sql
from bot.analytics.sql import epoch_seconds, whole
from bot.records.models import Contract, ConversationFact

__all__ = ["SAVE_HELD", "SAVE_LOST", "SAVE_PENDING", "DEFAULT_HOLD_DAYS", "save_status_case",
           "revenue_retained_case", "revenue_if_held", "with_contract", "SaveGroup", "saves_by_group"]

DEFAULT_HOLD_DAYS = 30
MONTH_SECONDS = 30.436875 * 86400


def save_status_case(*, today: date, hold_days: int) -> ColumnElement:
    """held | lost | pending for conversations whose offer was accepted, else NULL."""
    return save_status_sql(today=today, hold_days=hold_days)


def _would_have_ended() -> ColumnElement:
    """Epoch seconds of the day a cancellation requested at the acceptance would have ended the contract."""
    accepted = epoch_seconds(ConversationFact.offer_made_at)
    term_end = epoch_seconds(Contract.minimum_term_end)
    notice = func.coalesce(Contract.notice_period_months, 1)
    one_notice_month = accepted + case((notice < 1, notice), else_=1) * MONTH_SECONDS
    return case((accepted + notice * MONTH_SECONDS <= term_end, term_end),
                (one_notice_month > term_end, one_notice_month), else_=term_end)


def revenue_retained_case(*, today: date, hold_days: int) -> ColumnElement:
    """Revenue retained by one conversation in cents (held saves only; needs `with_contract`)."""
    held = save_status_case(today=today, hold_days=hold_days) == SAVE_HELD
    return case((held, revenue_if_held(today=today)), else_=0)


def revenue_if_held(*, today: date) -> ColumnElement:
    """What one conversation's accepted offer earned if its save is held (sum it over the held ones only, e.g.
    grouped by the save status: cheaper than `revenue_retained_case`, which decides the status again)."""
    now = literal(datetime.combine(today, time.min, tzinfo=timezone.utc).timestamp())
    ended = epoch_seconds(Contract.cancellation_effective_date)
    stayed_until = case((Contract.status.in_(STILL_A_CUSTOMER), now), (ended < now, ended), else_=now)
    beyond = stayed_until - _would_have_ended()
    months = case((beyond > 0, whole(beyond / MONTH_SECONDS)), else_=0)
    earned = Contract.monthly_price_cents * months - func.coalesce(ConversationFact.offer_cost_cents, 0)
    return case((Contract.id.is_not(None), earned), else_=0)


def with_contract(statement):  # type: ignore[no-untyped-def]
    """`statement` (selecting from conversation_facts) with the fact's contract joined (for the revenue)."""
    return statement.outerjoin(Contract, and_(Contract.id == ConversationFact.contract_id))


@dataclass(frozen=True)
class SaveGroup:
    """The period's accepted offers of one kind of conversation (cancellation intent, reason, offer kind, segment)
    with one save status: how many, and what they earned if held (revenue_if_held summed)."""

    cancellation_intent: bool
    reason: str | None
    offer_kind: str | None
    segment: str | None
    status: str
    count: int
    revenue_if_held: int


def saves_by_group(session: Session, period: Period, *, today: date, hold_days: int) -> list[SaveGroup]:
    """The period's accepted offers grouped for both the key figures (bot.analytics.kpis: per status, revenue of the
    held ones) and the save charts (bot.analytics.charts.breakdown: the cancellation conversations per reason,
    offer kind and segment): one read of them (index on outcome) per dashboard page instead of two."""
    fact = ConversationFact
    status = save_status_case(today=today, hold_days=hold_days)
    keys = (fact.cancellation_intent, fact.reason, fact.offer_kind, fact.segment, status)
    rows = session.execute(with_contract(
        select(*keys, func.count(fact.id), func.coalesce(func.sum(revenue_if_held(today=today)), 0))
        .select_from(fact)).where(period.condition() & (fact.outcome == "offer_accepted")).group_by(*keys))
    return [SaveGroup(bool(intent), reason, offer_kind, segment, save, int(count), int(revenue))
            for intent, reason, offer_kind, segment, save, count, revenue in rows if save is not None]
