"""The series behind the dashboard's charts, aggregated in SQL over conversation_facts for a period.

Every series names its segments by the codes the drill-down takes (bot/analytics/drilldown.py), so a click
on a bar opens the conversations behind it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.analytics import rollup
from bot.analytics.dashboard_saves import SAVE_HELD, SAVE_LOST, SAVE_PENDING, SaveGroup, saves_by_group
from bot.analytics.period import Period
from bot.analytics.sql import unindexed
from bot.records.models import ConversationFact, FallbackMessage

FUNNEL_STEPS = ("intent", "reason", "offer", "accepted", "cancelled", "handed_off")
SAVE_RATE_DIMENSIONS = ("offer_kind", "reason", "segment")
TOP_FALLBACKS = 10
TEXT_ORDER_SHARE = 6  # see _in_text_order


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


def per_day(session: Session, period: Period) -> list[DayPoint]:
    """Conversations, cancellation intents and average dissatisfaction peak per UTC day (every day listed), from
    the daily roll-up (bot/analytics/rollup.py)."""
    found = {day: (conversations, intents, dissatisfaction)
             for day, conversations, intents, dissatisfaction in rollup.per_day(session, period)}
    points = []
    for offset in range(period.days):
        current = period.first + timedelta(days=offset)
        if current in found:
            conversations, intents, dissatisfaction = found[current]
            points.append(DayPoint(current, conversations, intents, dissatisfaction / rollup.MICROS / conversations))
        else:
            points.append(DayPoint(current, 0, 0, None))
    return points


@dataclass(frozen=True)
class Breakdown:
    """The cancellation conversations of a period by reason, by funnel step and with their saves by offer kind,
    reason and segment."""

    reasons: list[Share]
    funnel: list[Share]
    save_rate: dict[str, list[Share]]


def breakdown(session: Session, period: Period, *, today: date, hold_days: int,
              saves: list[SaveGroup] | None = None) -> Breakdown:
    """Two grouped scans: the cancellation conversations by (reason, offer kind, segment, outcome) with how many
    were made an offer, and the period's accepted offers (index on outcome; `saves`, if already read for the
    page: dashboard_saves.saves_by_group) by (reason, offer kind, segment, save status); the charts are sums over
    those few groups.

    The first reads ix_conversation_facts_breakdown (cancellation_intent, reason, offer_kind, segment, outcome,
    started_at, ...): its rows come in group order, so SQLite (no hash aggregation) need not sort the period's
    rows; the period is a filter on the index entries (`unindexed`, else SQLite would seek the period on another
    index and sort). That reads every cancellation conversation ever, about half the facts: for a year of
    100,000 facts 7 ms instead of 40 to 70 ms."""
    fact = ConversationFact
    started = unindexed(fact.started_at)
    in_period = (started >= period.starts) & (started < period.ends)
    if period.channel is not None:
        in_period = in_period & (fact.channel == period.channel)
    offered = func.coalesce(func.sum(case((fact.offer_made_at.is_not(None), 1), else_=0)), 0)
    groups = session.execute(
        select(fact.reason, fact.offer_kind, fact.segment, fact.outcome, offered, func.count())
        .where(in_period & (fact.cancellation_intent == True))  # noqa: E712 - '= 1' uses the index, 'IS 1' not
        .group_by(fact.reason, fact.offer_kind, fact.segment, fact.outcome)).all()
    if saves is None:
        saves = saves_by_group(session, period, today=today, hold_days=hold_days)

    reason_counts: dict[str, int] = {}
    steps = dict.fromkeys(FUNNEL_STEPS, 0)
    totals: dict[str, dict[str, int]] = {dimension: {} for dimension in SAVE_RATE_DIMENSIONS}
    for reason, offer_kind, segment, outcome, made, count in groups:
        made = int(made)
        reason_counts[reason or "none"] = reason_counts.get(reason or "none", 0) + count
        steps["intent"] += count
        steps["reason"] += count if reason is not None else 0
        steps["offer"] += made
        for step, wanted in (("accepted", "offer_accepted"), ("cancelled", "cancelled"), ("handed_off", "handed_off")):
            steps[step] += count if outcome == wanted else 0
        for dimension, code in zip(SAVE_RATE_DIMENSIONS, (offer_kind, reason, segment), strict=False):
            if code is not None:
                totals[dimension][code] = totals[dimension].get(code, 0) + count
    statuses: dict[str, dict[str, dict[str, int]]] = {dimension: {} for dimension in SAVE_RATE_DIMENSIONS}
    for group in saves:
        if not group.cancellation_intent:
            continue
        for dimension, code in zip(SAVE_RATE_DIMENSIONS, (group.offer_kind, group.reason, group.segment),
                                   strict=False):
            if code is not None:
                per_code = statuses[dimension].setdefault(code, {})
                per_code[group.status] = per_code.get(group.status, 0) + group.count
    save_rate = {dimension: [Share(code, total, **{key: statuses[dimension].get(code, {}).get(value, 0)
                                                  for key, value in (("held", SAVE_HELD), ("pending", SAVE_PENDING),
                                                                     ("lost", SAVE_LOST))})
                             for code, total in sorted(totals[dimension].items())]
                 for dimension in SAVE_RATE_DIMENSIONS}
    return Breakdown(
        reasons=[Share(code, count) for code, count in sorted(reason_counts.items(), key=lambda item: (-item[1], item[0]))],
        funnel=[Share(step, steps[step]) for step in FUNNEL_STEPS],
        save_rate=save_rate)


def reasons(session: Session, period: Period) -> list[Share]:
    """Cancellation conversations per stated reason, most frequent first ('none': no reason given)."""
    return breakdown(session, period, today=period.last, hold_days=0).reasons


def save_rate_by(session: Session, period: Period, dimension: str, *, today: date, hold_days: int) -> list[Share]:
    """Cancellation conversations per offer kind, reason or segment with their saves (held / pending / lost).

    By offer kind only conversations in which an offer was made count; by segment only verified customers.
    """
    if dimension not in SAVE_RATE_DIMENSIONS:
        raise ValueError(f"dimension must be one of {SAVE_RATE_DIMENSIONS}")
    return breakdown(session, period, today=today, hold_days=hold_days).save_rate[dimension]


def funnel(session: Session, period: Period) -> list[Share]:
    """Cancellation intent → reason given → offer made → accepted / cancelled / handed off."""
    return breakdown(session, period, today=period.last, hold_days=0).funnel


def _in_text_order(session: Session, period: Period) -> bool:
    """Whether to group the not-understood messages by reading all of them in text order
    (ix_analytics_fallback_messages_text_at) instead of sorting the period's: on SQLite, which groups by sorting,
    when the period holds more than a sixth of them (a year of 60,000 messages: 5 ms instead of 29 ms; a month:
    3 ms instead of 1 ms). The shares come from the daily roll-up. PostgreSQL aggregates by hashing: never."""
    if period.channel is not None or session.get_bind().dialect.name != "sqlite":
        return False
    in_period = rollup.totals(session, period)["fallbacks"]
    return in_period * TEXT_ORDER_SHARE > rollup.total_fallbacks(session)


def top_fallbacks(session: Session, period: Period, *, mask: Callable[[str], str],
                  limit: int = TOP_FALLBACKS) -> list[FallbackCount]:
    """The messages most often not understood in the period (channel through their conversation), masked."""
    message = FallbackMessage
    # Only one of the two indexes may serve the query (`unindexed`: SQLite must not use it for that part).
    if _in_text_order(session, period):
        at, text = unindexed(message.at), message.text
    else:
        at, text = message.at, unindexed(message.text)
    statement = select(message.text, func.count(message.id)).where((at >= period.starts) & (at < period.ends))
    if period.channel is not None:
        statement = statement.join(ConversationFact, ConversationFact.conversation_id == message.conversation_id) \
            .where(ConversationFact.channel == period.channel)
    rows = session.execute(statement.group_by(text)
                           .order_by(func.count(message.id).desc(), message.text).limit(limit)).all()
    return [FallbackCount(mask(str(text_value)), int(count)) for text_value, count in rows]
