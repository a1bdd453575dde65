"""What the dashboard looks at: a period of UTC days, optionally one channel, and the period before it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy.sql.elements import ColumnElement

from bot.records.models import ConversationFact

CHANNELS = ("socketio", "rest", "whatsapp", "telegram")


class InvalidPeriod(ValueError):
    """The period asked for is not usable (end before start, too long, unknown channel)."""


@dataclass(frozen=True)
class Period:
    """Conversations started on the UTC days `first` to `last` (both included), on `channel` (None: all)."""

    first: date
    last: date
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidPeriod("Das Enddatum liegt vor dem Anfangsdatum.")
        if (self.last - self.first).days > 3660:
            raise InvalidPeriod("Der Zeitraum ist zu lang (höchstens zehn Jahre).")
        if self.channel is not None and self.channel not in CHANNELS:
            raise InvalidPeriod("Unbekannter Kanal.")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=timezone.utc)

    @property
    def ends(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=timezone.utc)

    def previous(self) -> Period:
        """The period of the same length directly before this one, same channel."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.channel)

    def condition(self) -> ColumnElement[bool]:
        """The WHERE condition on conversation_facts (served by the (channel, started_at) index)."""
        fact = ConversationFact
        started = (fact.started_at >= self.starts) & (fact.started_at < self.ends)
        return started if self.channel is None else started & (fact.channel == self.channel)


def last_days(today: date, days: int = 30, channel: str | None = None) -> Period:
    """The `days` days up to and including `today`."""
    return Period(today - timedelta(days=days - 1), today, channel)
