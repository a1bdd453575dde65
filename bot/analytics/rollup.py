"""The daily roll-up of the dashboard's additive figures (analytics_daily_figures): per UTC day of a conversation's
start and per channel, the sums the key figures and the days chart need, so that a year is 365 × 4 small rows
instead of a scan of every conversation fact.

What one fact adds to its day and channel is `contribution`; `FACT_SUMS` are the same rules as SQL aggregates
(to rebuild the roll-up from the facts), side by side so that they stay equal. A fact whose figures change (an
outcome decided later, a handoff taken, an earlier event that moves its start to the day before, another channel)
moves its counts: the old contribution is taken away and the new one added.

Kept in the same transaction as the facts: mapper events on ConversationFact note each inserted, changed or
deleted fact's change of contribution (old values from the attribute history, or read from the row when they
were never loaded); after the flush the session adds them to the roll-up in one
INSERT .. ON CONFLICT (day, channel) DO UPDATE SET x = x + excluded.x. That statement is atomic per row on
PostgreSQL, so concurrent consumers cannot lose each other's counts, and the keys go in sorted order, so two
transactions never lock them in opposite orders. The analytics consumers' projection (bot.analytics.projection)
changes facts only through the ORM; an event delivered twice changes no fact, so it changes no count either.

Bulk statements bypass the ORM events, so each says what it does to the roll-up: closing quiet conversations
(open → resolved/abandoned) changes no figure; the erasure removes only the customer and contract references,
which the roll-up does not hold; the retention purge deletes through `delete_facts`, which subtracts; inserts of
many facts at once (the benchmark's seeding) end with `rebuild` (also `python -m bot.cli analytics-rebuild-rollup`).

Not in the roll-up (bot/analytics/kpis.py keeps their own reads of the facts): distinct customers (a partial
index over the verified conversations), the median handoff wait (a partial index over the handed-off ones) and
the save status and revenue (judged against the contracts as of the day the dashboard is looked at).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import and_, case, delete, event, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, object_session
from sqlalchemy.sql.elements import ColumnElement

from bot.analytics.period import Period
from bot.analytics.sql import utc_day, whole
from bot.records.models import ConversationFact, DailyFigures

# The roll-up's figures, in this order everywhere (a contribution is a tuple of them).
FIGURES = ("conversations", "cancellation_intents", "accepted_offer_cost_cents", "cancellations", "handoffs",
           "handoff_waits", "fallbacks", "messages", "ratings", "rating_sum", "dissatisfaction_micros")
# The fact's columns a contribution depends on.
FACT_COLUMNS = ("started_at", "channel", "cancellation_intent", "outcome", "offer_cost_cents", "cancelled_at",
                "handoff_wait_seconds", "fallbacks", "messages", "rating", "dissatisfaction_peak")
MICROS = 1_000_000
ACCEPTED, CANCELLED, HANDED_OFF = "offer_accepted", "cancelled", "handed_off"
CHUNK = 500  # rows or keys per statement

Key = tuple[date, str]
Changes = dict[Key, list[int]]


class UnsupportedDatabase(RuntimeError):
    """The roll-up is maintained on SQLite and PostgreSQL only."""


def utc_date(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def micros(peak: float | None) -> int:
    """A dissatisfaction peak in millionths, rounded half up (as `FACT_SUMS` does in SQL; peaks are 0 to 1)."""
    return math.floor(peak * MICROS + 0.5) if peak is not None and peak > 0 else 0


def contribution(fact: Mapping[str, Any]) -> tuple[Key, tuple[int, ...]]:
    """The day and channel a fact (its FACT_COLUMNS) counts for and what it adds there, in FIGURES order.

    The rules are the dashboard's definitions (bot/analytics/kpis.py, README "Marketing dashboard"):
    cancellations are facts with a cancellation time or the outcome `cancelled`; handoffs those with a wait or
    the outcome `handed_off`; the offer cost counts for accepted offers only."""
    outcome, wait, rating = fact["outcome"], fact["handoff_wait_seconds"], fact["rating"]
    values = (
        1,
        1 if fact["cancellation_intent"] else 0,
        (fact["offer_cost_cents"] or 0) if outcome == ACCEPTED else 0,
        1 if fact["cancelled_at"] is not None or outcome == CANCELLED else 0,
        1 if wait is not None or outcome == HANDED_OFF else 0,
        1 if wait is not None else 0,
        fact["fallbacks"] or 0,
        fact["messages"] or 0,
        1 if rating is not None else 0,
        rating or 0,
        micros(fact["dissatisfaction_peak"]),
    )
    return (utc_date(fact["started_at"]), fact["channel"]), values


def _count_when(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _fact_sums() -> dict[str, ColumnElement]:
    fact = ConversationFact
    return {
        "conversations": func.count(),
        "cancellation_intents": _count_when(fact.cancellation_intent.is_(True)),
        "accepted_offer_cost_cents": func.coalesce(func.sum(
            case((fact.outcome == ACCEPTED, func.coalesce(fact.offer_cost_cents, 0)), else_=0)), 0),
        "cancellations": _count_when(fact.cancelled_at.is_not(None) | (fact.outcome == CANCELLED)),
        "handoffs": _count_when(fact.handoff_wait_seconds.is_not(None) | (fact.outcome == HANDED_OFF)),
        "handoff_waits": func.count(fact.handoff_wait_seconds),
        "fallbacks": func.coalesce(func.sum(fact.fallbacks), 0),
        "messages": func.coalesce(func.sum(fact.messages), 0),
        "ratings": func.count(fact.rating),
        "rating_sum": func.coalesce(func.sum(fact.rating), 0),
        "dissatisfaction_micros": func.coalesce(func.sum(case(
            (fact.dissatisfaction_peak > 0, whole(fact.dissatisfaction_peak * MICROS + 0.5)), else_=0)), 0),
    }


FACT_SUMS = _fact_sums()


def from_facts(condition: ColumnElement[bool] | None = None) -> Any:
    """SELECT day, channel, FIGURES... over the facts (matching `condition`), grouped by day and channel."""
    fact = ConversationFact
    day = utc_day(fact.started_at)
    statement = select(day.label("day"), fact.channel, *(FACT_SUMS[name].label(name) for name in FIGURES))
    if condition is not None:
        statement = statement.where(condition)
    return statement.group_by(day, fact.channel)


def _add(changes: Changes, found: tuple[Key, tuple[int, ...]], sign: int) -> None:
    key, values = found
    total = changes.setdefault(key, [0] * len(FIGURES))
    for index, value in enumerate(values):
        total[index] += sign * value


def _insert(connection: Connection) -> Any:
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise UnsupportedDatabase(f"the analytics roll-up needs SQLite or PostgreSQL, not {name}")


def apply_changes(connection: Connection, changes: Changes) -> None:
    """Add `changes` (per day and channel, in FIGURES order) to the roll-up; delete rows left without
    conversations. In statements of at most CHUNK rows (SQLite's limits on parameters and expression depth)."""
    table = DailyFigures.__table__
    rows = [{"day": day, "channel": channel, **dict(zip(FIGURES, values, strict=True))}
            for (day, channel), values in sorted(changes.items()) if any(values)]
    insert = _insert(connection)
    for start in range(0, len(rows), CHUNK):
        statement = insert(table).values(rows[start:start + CHUNK])
        connection.execute(statement.on_conflict_do_update(
            index_elements=[table.c.day, table.c.channel],
            set_={name: table.c[name] + statement.excluded[name] for name in FIGURES}))
    emptied = sorted({day for (day, _), values in changes.items() if values[0] < 0})
    for start in range(0, len(emptied), CHUNK):
        connection.execute(delete(table).where(table.c.conversations <= 0)
                           .where(table.c.day.in_(emptied[start:start + CHUNK])))


# Keeping the roll-up with every ORM write of a fact (see the module docstring).

_CHANGES = "analytics_rollup_changes"


def _pending(target: ConversationFact) -> Changes:
    session = object_session(target)
    if session is None:  # cannot happen during a flush; fail loudly rather than lose counts
        raise RuntimeError("a conversation fact was flushed without a session")
    return session.info.setdefault(_CHANGES, {})


def _stored_and_current(target: ConversationFact, connection: Connection) -> tuple[dict, dict]:
    """The fact's values as stored before this flush, and as they will be after it."""
    state = inspect(target)
    before: dict[str, Any] = {}
    unknown = False
    for name in FACT_COLUMNS:
        history = state.attrs[name].history
        if history.deleted:
            before[name] = history.deleted[0]
        elif history.unchanged:
            before[name] = history.unchanged[0]
        else:  # never loaded (or set without the old value loaded): read the row, which still holds it
            unknown = True
    if unknown:
        fact = ConversationFact
        row = connection.execute(select(*(getattr(fact, name) for name in FACT_COLUMNS))
                                 .where(fact.id == state.identity[0])).one()
        before = {**dict(row._mapping), **before}
    after = {name: state.dict.get(name, before[name]) for name in FACT_COLUMNS}
    return before, after


@event.listens_for(ConversationFact, "after_insert")
def _fact_inserted(_mapper: Any, _connection: Connection, target: ConversationFact) -> None:
    _add(_pending(target), contribution({name: getattr(target, name) for name in FACT_COLUMNS}), +1)


@event.listens_for(ConversationFact, "before_update")
def _fact_updated(_mapper: Any, connection: Connection, target: ConversationFact) -> None:
    before, after = _stored_and_current(target, connection)
    old, new = contribution(before), contribution(after)
    if old != new:
        changes = _pending(target)
        _add(changes, old, -1)
        _add(changes, new, +1)


@event.listens_for(ConversationFact, "before_delete")
def _fact_deleted(_mapper: Any, connection: Connection, target: ConversationFact) -> None:
    before, _ = _stored_and_current(target, connection)
    _add(_pending(target), contribution(before), -1)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    changes = session.info.pop(_CHANGES, None)
    if changes:
        apply_changes(session.connection(), changes)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGES, None)  # a failed flush's notes must not reach a later one


# What else changes the facts.

def delete_facts(session: Session, condition: ColumnElement[bool]) -> int:
    """Delete the facts matching `condition` and take them out of the roll-up, in the caller's transaction; how
    many were deleted. On PostgreSQL the rows are locked while read, so a consumer cannot change one between
    its subtraction and its deletion."""
    fact = ConversationFact
    rows = session.execute(select(fact.id, *(getattr(fact, name) for name in FACT_COLUMNS))
                           .where(condition).with_for_update()).all()
    changes: Changes = {}
    for row in rows:
        _add(changes, contribution(row._mapping), -1)
    ids = [row.id for row in rows]
    for start in range(0, len(ids), CHUNK):
        session.execute(delete(fact).where(fact.id.in_(ids[start:start + CHUNK]))
                        .execution_options(synchronize_session=False))
    apply_changes(session.connection(), changes)
    return len(ids)


def rebuild(session: Session) -> int:
    """Replace the roll-up by the sums over every fact (after bulk inserts, or to repair it); how many day and
    channel rows it has. On PostgreSQL the roll-up is locked for the transaction: a consumer's additions wait
    and then apply to the rebuilt rows, which do not include the facts that consumer has not committed yet."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"LOCK TABLE {DailyFigures.__tablename__} IN EXCLUSIVE MODE"))
    session.execute(DailyFigures.__table__.delete())
    rows = [dict(row._mapping) for row in session.execute(from_facts())]
    for row in rows:
        if isinstance(row["day"], str):
            row["day"] = date.fromisoformat(row["day"])
    if rows:
        session.execute(DailyFigures.__table__.insert(), rows)
    return len(rows)


# Reading.

def _in_period(period: Period) -> ColumnElement[bool]:
    figures = DailyFigures
    condition = (figures.day >= period.first) & (figures.day <= period.last)
    return condition if period.channel is None else condition & (figures.channel == period.channel)


def totals(session: Session, period: Period) -> dict[str, int]:
    """The sums of FIGURES over the period's days (and channel)."""
    row = session.execute(select(*(func.coalesce(func.sum(getattr(DailyFigures, name)), 0) for name in FIGURES))
                          .where(_in_period(period))).one()
    return {name: int(value) for name, value in zip(FIGURES, row, strict=True)}


def total_fallbacks(session: Session) -> int:
    """Not-understood messages of every conversation kept."""
    return int(session.scalar(select(func.coalesce(func.sum(DailyFigures.fallbacks), 0))) or 0)


def per_day(session: Session, period: Period) -> list[tuple[date, int, int, int]]:
    """(day, conversations, cancellation intents, dissatisfaction in millionths) of the period's days with
    conversations, in day order."""
    figures = DailyFigures
    rows = session.execute(select(figures.day, func.sum(figures.conversations), func.sum(figures.cancellation_intents),
                                  func.sum(figures.dissatisfaction_micros))
                           .where(_in_period(period)).group_by(figures.day).order_by(figures.day))
    return [(day, int(conversations), int(intents), int(dissatisfaction))
            for day, conversations, intents, dissatisfaction in rows if conversations]


def stored(session: Session) -> dict[Key, tuple[int, ...]]:
    """The whole roll-up, per day and channel (for checks and tests)."""
    return {(row.day, row.channel): tuple(getattr(row, name) for name in FIGURES)
            for row in session.scalars(select(DailyFigures))}


def recomputed(session: Session, conditions: Iterable[ColumnElement[bool]] = ()) -> dict[Key, tuple[int, ...]]:
    """What the roll-up should hold, summed over the facts in SQL (the same sums `rebuild` writes)."""
    condition = and_(*conditions) if conditions else None
    found = {}
    for row in session.execute(from_facts(condition)):
        day = date.fromisoformat(row.day) if isinstance(row.day, str) else row.day
        found[(day, row.channel)] = tuple(int(getattr(row, name)) for name in FIGURES)
    return found
