"""Save status and revenue retained as SQL expressions, for the dashboard's aggregates.

An accepted offer is a save only if the contract is still active `hold_days` after the acceptance, from the
records (contracts.status): `lost` when the contract has been cancelled or has ended since, `held` once
`hold_days` have passed without that, `pending` before. Revenue retained by a held save = monthly price ×
whole months (30 days) the contract has run beyond the date the cancellation would have taken effect (the
acceptance plus the notice period), minus the offer's cost.

Written against the issue-10 contract for bot/analytics/saves.py (save_status_sql) while that module was
being built in parallel; the lead replaces these expressions by saves.save_status_sql when merging.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from bot.analytics.sql import epoch_seconds, whole
from bot.records.models import CANCELLED, ENDED, Contract, ConversationFact

SAVE_HELD, SAVE_LOST, SAVE_PENDING = "held", "lost", "pending"
SAVE_STATUSES = (SAVE_HELD, SAVE_PENDING, SAVE_LOST)
DEFAULT_HOLD_DAYS = 30
MONTH_SECONDS = 30 * 86400


def accepted_at() -> ColumnElement:
    """When the offer was accepted (the facts keep when it was made; the conversation ended soon after)."""
    return func.coalesce(ConversationFact.offer_made_at, ConversationFact.ended_at)


def _start_of(today: date) -> datetime:
    return datetime.combine(today, time.min, tzinfo=timezone.utc)


def save_status_case(*, today: date, hold_days: int) -> ColumnElement:
    """held | lost | pending for conversations whose offer was accepted, else NULL (needs the outer join
    of contracts on conversation_facts.contract_id, see `with_contract`)."""
    fact = ConversationFact
    return case(
        (fact.outcome != "offer_accepted", None),
        (Contract.status.in_((CANCELLED, ENDED)), literal(SAVE_LOST)),
        (Contract.status.is_(None), literal(SAVE_PENDING)),
        (accepted_at() <= _start_of(today) - timedelta(days=hold_days), literal(SAVE_HELD)),
        else_=literal(SAVE_PENDING),
    )


def months_beyond_cancellation(*, today: date) -> ColumnElement:
    """Whole months the contract has run beyond the date the cancellation would have taken effect."""
    now_epoch = _start_of(today).timestamp()
    months = whole((literal(now_epoch) - epoch_seconds(accepted_at())) / MONTH_SECONDS)
    beyond = months - func.coalesce(Contract.notice_period_months, 1)
    return case((beyond > 0, beyond), else_=0)


def revenue_retained_case(*, today: date, hold_days: int) -> ColumnElement:
    """Revenue retained by one conversation in cents: for held saves price × months beyond − offer cost, else 0."""
    held = save_status_case(today=today, hold_days=hold_days) == SAVE_HELD
    earned = Contract.monthly_price_cents * months_beyond_cancellation(today=today) \
        - func.coalesce(ConversationFact.offer_cost_cents, 0)
    return case((held, earned), else_=0)


def with_contract(statement):  # type: ignore[no-untyped-def]
    """`statement` (selecting from conversation_facts) with the contract joined for the save status."""
    return statement.outerjoin(Contract, and_(Contract.id == ConversationFact.contract_id))
