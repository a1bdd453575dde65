"""German formatting of money, dates and times for what the assistant says.

Times are stored in UTC (`bot.records.types.UtcDateTime`) and shown in the customer's time zone,
Europe/Berlin (CET/CEST). "Today" for a customer is the Berlin date: 23:30 UTC on 31 March is
already 1 April in Berlin.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def euro(cents: int) -> str:
    """12345 -> '123,45 €'; thousands get a dot: '1.234,50 €'."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", ".") + f",{rest:02d} €"


def german_date(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware time is needed (whose local time is {moment!r}?)")


def berlin_time(moment: datetime) -> datetime:
    """The aware `moment` as Berlin wall time."""
    _require_aware(moment)
    return moment.astimezone(BERLIN)


def berlin_date(moment: datetime) -> date:
    """The calendar day in Berlin at the aware `moment` (the customer's "today")."""
    return berlin_time(moment).date()


def german_datetime(moment: datetime) -> str:
    """An aware time in Berlin: '01.12.2026 um 13:45 Uhr'."""
    local = berlin_time(moment)
    return f"{local:%d.%m.%Y} um {local:%H:%M} Uhr"
