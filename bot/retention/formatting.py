"""German formatting of money and dates for what the assistant says."""
from __future__ import annotations

from datetime import date


def euro(cents: int) -> str:
    """12345 -> '123,45 €'; thousands get a dot: '1.234,50 €'."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", ".") + f",{rest:02d} €"


def german_date(day: date) -> str:
    return day.strftime("%d.%m.%Y")
