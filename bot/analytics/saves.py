"""Save validation: an accepted retention offer counts as a save only if the contract is still active N days
later (ANALYTICS_SAVE_HOLD_DAYS, default 30), from the records.

- pending: accepted less than N days ago and not cancelled since;
- lost: the contract was cancelled less than N days after the offer was accepted;
- held: N days have passed without such a cancellation.

Revenue retained by a held save = monthly price x whole months the contract stayed beyond the date it
would have ended had the customer cancelled, minus the offer's cost.

`save_status` decides for one conversation fact; `save_status_sql` is the same rule as an SQL CASE
expression over conversation_facts, for aggregate queries on SQLite and PostgreSQL.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Float, and_, case, exists, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from bot.records.models import ACTIVE, PAUSED, Cancellation, Contract, ConversationFact
from bot.retention.dates import effective_cancellation_date, months_between
from bot.retention.formatting import berlin_date

SAVE_HELD, SAVE_LOST, SAVE_PENDING = "held", "lost", "pending"
ACCEPTED_OUTCOME = "offer_accepted"
STILL_A_CUSTOMER = (ACTIVE, PAUSED)


def _accepted_at(fact: ConversationFact) -> datetime | None:
    return fact.offer_made_at or fact.ended_at


def save_status(fact: ConversationFact, contract_status_now: str | None, *, today: date, hold_days: int,
                cancelled_at: datetime | None = None) -> str | None:
    """held | lost | pending for a conversation that ended with an accepted offer; None for any other.

    `contract_status_now` is the contract's status today; `cancelled_at`, when the contract was cancelled,
    is when (cancellations.requested_at). A cancelled contract without that time counts as cancelled today.
    """
    if fact.outcome != ACCEPTED_OUTCOME:
        return None
    accepted = _accepted_at(fact)
    if accepted is None:
        return None
    hold_ends = accepted + timedelta(days=hold_days)
    if contract_status_now is not None and contract_status_now not in STILL_A_CUSTOMER:
        cancelled = cancelled_at or datetime.combine(today, time.min, tzinfo=timezone.utc)
        if cancelled < hold_ends:
            return SAVE_LOST
    return SAVE_PENDING if datetime.combine(today, time.min, tzinfo=timezone.utc) < hold_ends else SAVE_HELD


def revenue_retained_cents(*, monthly_price_cents: int, would_have_ended_on: date, stayed_until: date,
                           offer_cost_cents: int) -> int:
    """Monthly price x whole months the contract ran beyond the date it would have ended, minus the offer's cost.

    `stayed_until`: today for a contract still running, else the date it ended. Can be negative (the offer
    cost more than the months it bought).
    """
    months = months_between(would_have_ended_on, stayed_until) if stayed_until > would_have_ended_on else 0
    return monthly_price_cents * months - offer_cost_cents


def revenue_retained_for(fact: ConversationFact, contract: Contract, *, today: date) -> int:
    """`revenue_retained_cents` for a held save: the contract would have ended at the effective date of a
    cancellation requested when the offer was accepted; it stayed until today or its actual end."""
    accepted = _accepted_at(fact)
    if accepted is None:
        return 0
    as_if_active = SimpleNamespace(status=ACTIVE, minimum_term_end=contract.minimum_term_end,
                                   notice_period_months=contract.notice_period_months)
    would_have_ended = effective_cancellation_date(as_if_active, berlin_date(accepted))  # type: ignore[arg-type]
    ended = contract.cancellation_effective_date if contract.status not in STILL_A_CUSTOMER else None
    stayed_until = min(today, ended) if ended is not None else today
    return revenue_retained_cents(monthly_price_cents=contract.monthly_price_cents,
                                  would_have_ended_on=would_have_ended, stayed_until=stayed_until,
                                  offer_cost_cents=fact.offer_cost_cents or 0)


class days_between(FunctionElement):  # noqa: N801 - used like an SQL function
    """(end - start) in days, as a float, for two timestamp columns, on SQLite and PostgreSQL."""

    type = Float()
    name = "days_between"
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)})) / 86400.0)"


def save_status_sql(*, today: date, hold_days: int, fact: Any = ConversationFact) -> ColumnElement:
    """`save_status` as an SQL CASE over conversation_facts (or an alias of it passed as `fact`):
    'held' | 'lost' | 'pending', NULL for conversations without an accepted offer.

    Lost: a cancellation of the fact's contract requested within hold_days after the offer was accepted.
    Use it in a select over conversation_facts, e.g.
    `select(save_status_sql(today=..., hold_days=30).label("save"), func.count()).group_by("save")`.
    """
    accepted = fact.offer_made_at
    hold_started_before = datetime.combine(today, time.min, tzinfo=timezone.utc) - timedelta(days=hold_days)
    lost = exists(select(literal(1)).where(and_(
        Cancellation.contract_id == fact.contract_id,
        Cancellation.requested_at >= accepted,
        days_between(accepted, Cancellation.requested_at) < hold_days)))
    return case(
        (fact.outcome != ACCEPTED_OUTCOME, None),
        (accepted.is_(None), None),
        (lost, SAVE_LOST),
        (accepted > hold_started_before, SAVE_PENDING),
        else_=SAVE_HELD)
