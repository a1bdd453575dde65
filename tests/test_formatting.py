"""German money and date formatting."""
from __future__ import annotations

from datetime import date

import pytest

from bot.retention.formatting import euro, german_date


@pytest.mark.parametrize(
    ("cents", "expected"),
    [
        (0, "0,00 €"),
        (1, "0,01 €"),
        (10, "0,10 €"),
        (99, "0,99 €"),
        (100, "1,00 €"),
        (999, "9,99 €"),
        (1999, "19,99 €"),
        (2500, "25,00 €"),
        (99999, "999,99 €"),
        (100000, "1.000,00 €"),
        (123456, "1.234,56 €"),
        (150000, "1.500,00 €"),
        (100000000, "1.000.000,00 €"),
        (-1, "-0,01 €"),
        (-999, "-9,99 €"),
        (-123456, "-1.234,56 €"),
    ],
)
def test_euro(cents: int, expected: str) -> None:
    assert euro(cents) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 5), "05.01.2026"),
        (date(2026, 12, 31), "31.12.2026"),
        (date(2028, 2, 29), "29.02.2028"),
        (date(1985, 4, 12), "12.04.1985"),
    ],
)
def test_german_date(day: date, expected: str) -> None:
    assert german_date(day) == expected
