"""Calendar arithmetic for contracts: add_months, months_between and the effective cancellation date.

Plain functions over unsaved Contract objects; no database is needed.
"""
from __future__ import annotations

from datetime import date

import pytest

from bot.records.models import ACTIVE, CANCELLED, ENDED, PAUSED, Contract
from bot.retention.dates import (
    AlreadyCancelled,
    add_months,
    effective_cancellation_date,
    months_between,
    next_monthly_date,
)


def contract(*, minimum_term_end: date, notice: int = 1, status: str = ACTIVE,
             start: date = date(2024, 1, 1), cancellation_effective_date: date | None = None) -> Contract:
    """An unsaved contract; column defaults are not applied to transient objects, so set everything."""
    return Contract(
        id=1, contract_number="V12345601", customer_id=1, plan_id=1, monthly_price_cents=1999,
        start_date=start, minimum_term_end=minimum_term_end, notice_period_months=notice, status=status,
        paused_until=None, last_pause_end=None, discount_percent=0, discount_until=None,
        cancellation_effective_date=cancellation_effective_date,
    )


# --------------------------------------------------------------------------------------------- add_months


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 3, 15), 0, date(2026, 3, 15)),
        (date(2026, 3, 15), 1, date(2026, 4, 15)),
        (date(2026, 3, 15), 3, date(2026, 6, 15)),
        # short months clamp to their last day
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 1, 30), 1, date(2026, 2, 28)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 5, 31), 1, date(2026, 6, 30)),
        (date(2026, 3, 31), 3, date(2026, 6, 30)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),  # no carry-over of the clamping
        # year ends
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2025, 12, 31), 1, date(2026, 1, 31)),
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2025, 10, 31), 3, date(2026, 1, 31)),
        (date(2025, 6, 1), 12, date(2026, 6, 1)),
        (date(2025, 6, 1), 24, date(2027, 6, 1)),
        (date(2025, 12, 1), 25, date(2028, 1, 1)),
        # leap years
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2027, 2, 28), 12, date(2028, 2, 28)),
        (date(2027, 11, 29), 3, date(2028, 2, 29)),
        (date(2099, 12, 31), 2, date(2100, 2, 28)),  # 2100 is not a leap year
        (date(2399, 12, 31), 2, date(2400, 2, 29)),  # 2400 is
        # going back in time
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 3, 15), -12, date(2025, 3, 15)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


# ------------------------------------------------------------------------------------------ months_between


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2025, 3, 15), date(2025, 3, 15), 0),
        (date(2025, 3, 15), date(2025, 4, 14), 0),
        (date(2025, 3, 15), date(2025, 4, 15), 1),
        (date(2025, 3, 15), date(2026, 3, 14), 11),
        (date(2025, 3, 15), date(2026, 3, 15), 12),
        (date(2025, 3, 15), date(2026, 3, 16), 12),
        (date(2024, 12, 20), date(2025, 1, 19), 0),
        (date(2024, 12, 20), date(2025, 1, 20), 1),
        (date(2020, 1, 1), date(2026, 3, 15), 74),
        # end before start is never negative
        (date(2026, 3, 15), date(2026, 3, 14), 0),
        (date(2026, 3, 15), date(2025, 1, 1), 0),
    ],
)
def test_months_between(start: date, end: date, expected: int) -> None:
    assert months_between(start, end) == expected


@pytest.mark.parametrize(
    ("start", "months"),
    [(date(2025, 3, 15), 1), (date(2025, 3, 15), 12), (date(2025, 1, 28), 1), (date(2024, 2, 28), 12)],
)
def test_months_between_inverts_add_months_on_ordinary_days(start: date, months: int) -> None:
    assert months_between(start, add_months(start, months)) == months


@pytest.mark.parametrize(
    ("start", "months"),
    [(date(2026, 1, 31), 1), (date(2024, 2, 29), 12), (date(2025, 3, 31), 1), (date(2025, 8, 31), 6)],
)
def test_months_between_inverts_add_months_on_clamped_month_ends(start: date, months: int) -> None:
    assert months_between(start, add_months(start, months)) == months


# ---------------------------------------------------------------------------- effective_cancellation_date


@pytest.mark.parametrize(
    ("minimum_term_end", "notice", "requested_on", "expected"),
    [
        # minimum term not yet reached and the notice fits: the contract ends with the minimum term
        pytest.param(date(2026, 12, 31), 1, date(2026, 3, 15), date(2026, 12, 31), id="notice-1-fits-early"),
        pytest.param(date(2026, 12, 31), 3, date(2026, 3, 15), date(2026, 12, 31), id="notice-3-fits-early"),
        pytest.param(date(2026, 6, 30), 3, date(2026, 3, 30), date(2026, 6, 30), id="notice-3-day-before-deadline"),
        pytest.param(date(2026, 6, 30), 3, date(2026, 3, 31), date(2026, 6, 30), id="notice-3-on-deadline-month-end"),
        pytest.param(date(2026, 6, 15), 3, date(2026, 3, 14), date(2026, 6, 15), id="notice-3-day-before-deadline-mid"),
        pytest.param(date(2026, 6, 15), 3, date(2026, 3, 15), date(2026, 6, 15), id="notice-3-on-deadline-mid"),
        pytest.param(date(2026, 6, 15), 1, date(2026, 5, 14), date(2026, 6, 15), id="notice-1-day-before-deadline"),
        pytest.param(date(2026, 6, 15), 1, date(2026, 5, 15), date(2026, 6, 15), id="notice-1-on-deadline"),
        pytest.param(date(2026, 6, 30), 1, date(2026, 5, 31), date(2026, 6, 30), id="notice-1-on-deadline-month-end"),
        pytest.param(date(2026, 2, 28), 1, date(2026, 1, 28), date(2026, 2, 28), id="notice-1-deadline-into-february"),
        pytest.param(date(2026, 2, 28), 1, date(2026, 1, 31), date(2026, 2, 28), id="31-jan-plus-1-is-28-feb"),
        # deadline missed: one month after the request ...
        pytest.param(date(2026, 6, 15), 1, date(2026, 5, 16), date(2026, 6, 16), id="notice-1-day-after-deadline"),
        pytest.param(date(2026, 6, 30), 1, date(2026, 6, 1), date(2026, 7, 1), id="notice-1-missed-month-end"),
        pytest.param(date(2026, 6, 15), 1, date(2026, 6, 15), date(2026, 7, 15), id="request-on-minimum-term-end"),
        pytest.param(date(2026, 6, 15), 3, date(2026, 5, 20), date(2026, 6, 20), id="notice-3-missed-last-month"),
        pytest.param(date(2026, 6, 15), 3, date(2026, 6, 14), date(2026, 7, 14), id="notice-3-missed-day-before-end"),
        # ... but never before the minimum term ends (the 3-month notice is capped at one month)
        pytest.param(date(2026, 6, 15), 3, date(2026, 3, 16), date(2026, 6, 15), id="notice-3-missed-day-after"),
        pytest.param(date(2026, 6, 30), 3, date(2026, 4, 15), date(2026, 6, 30), id="notice-3-missed-two-months"),
        pytest.param(date(2026, 6, 30), 3, date(2026, 5, 30), date(2026, 6, 30), id="notice-3-missed-one-month-fits"),
        pytest.param(date(2026, 6, 30), 3, date(2026, 5, 31), date(2026, 6, 30), id="notice-3-missed-clamped-fits"),
        pytest.param(date(2026, 6, 30), 3, date(2026, 6, 1), date(2026, 7, 1), id="notice-3-missed-one-month-late"),
        # minimum term already over: monthly cancellation, whatever the notice period says
        pytest.param(date(2024, 1, 1), 1, date(2026, 3, 15), date(2026, 4, 15), id="monthly-notice-1"),
        pytest.param(date(2024, 1, 1), 3, date(2026, 3, 15), date(2026, 4, 15), id="monthly-notice-3-capped"),
        pytest.param(date(2024, 1, 1), 1, date(2026, 1, 31), date(2026, 2, 28), id="monthly-31-jan"),
        pytest.param(date(2024, 1, 1), 3, date(2026, 1, 31), date(2026, 2, 28), id="monthly-31-jan-notice-3"),
        pytest.param(date(2024, 1, 1), 1, date(2026, 3, 31), date(2026, 4, 30), id="monthly-31-mar"),
        pytest.param(date(2024, 1, 1), 1, date(2025, 12, 15), date(2026, 1, 15), id="monthly-year-end"),
        pytest.param(date(2024, 1, 1), 3, date(2025, 12, 31), date(2026, 1, 31), id="monthly-new-years-eve"),
        pytest.param(date(2024, 1, 1), 1, date(2028, 1, 31), date(2028, 2, 29), id="monthly-leap-year"),
        pytest.param(date(2024, 1, 1), 1, date(2028, 1, 29), date(2028, 2, 29), id="monthly-leap-day-exact"),
        pytest.param(date(2024, 1, 1), 1, date(2028, 2, 29), date(2028, 3, 29), id="monthly-from-leap-day"),
        pytest.param(date(2026, 3, 14), 1, date(2026, 3, 15), date(2026, 4, 15), id="minimum-term-ended-yesterday"),
        # minimum term ending on a leap day / year end
        pytest.param(date(2028, 2, 29), 1, date(2028, 1, 29), date(2028, 2, 29), id="min-end-leap-day-deadline"),
        pytest.param(date(2028, 2, 29), 1, date(2028, 1, 31), date(2028, 2, 29), id="min-end-leap-day-31-jan"),
        pytest.param(date(2028, 2, 29), 1, date(2028, 2, 1), date(2028, 3, 1), id="min-end-leap-day-missed"),
        pytest.param(date(2029, 2, 28), 12, date(2028, 2, 29), date(2029, 2, 28), id="leap-day-plus-12-months"),
        pytest.param(date(2026, 12, 31), 3, date(2026, 9, 30), date(2026, 12, 31), id="year-end-deadline"),
        pytest.param(date(2026, 12, 31), 1, date(2026, 12, 15), date(2027, 1, 15), id="year-end-missed"),
    ],
)
def test_effective_cancellation_date(minimum_term_end: date, notice: int, requested_on: date,
                                     expected: date) -> None:
    assert effective_cancellation_date(contract(minimum_term_end=minimum_term_end, notice=notice),
                                       requested_on) == expected


@pytest.mark.parametrize("notice", [1, 3])
@pytest.mark.parametrize(
    "requested_on",
    [date(2025, 1, 1), date(2026, 2, 27), date(2026, 3, 31), date(2026, 5, 31), date(2026, 6, 29),
     date(2026, 6, 30), date(2026, 7, 1), date(2027, 12, 31), date(2028, 1, 31)],
)
def test_effective_date_is_never_before_minimum_term_end_nor_later_than_a_month(notice: int,
                                                                                requested_on: date) -> None:
    minimum_term_end = date(2026, 6, 30)
    effective = effective_cancellation_date(contract(minimum_term_end=minimum_term_end, notice=notice), requested_on)
    assert effective >= minimum_term_end
    assert effective > requested_on
    assert effective == max(minimum_term_end, add_months(requested_on, 1))


def test_paused_contract_can_still_be_cancelled() -> None:
    paused = contract(minimum_term_end=date(2024, 1, 1), status=PAUSED)
    assert effective_cancellation_date(paused, date(2026, 3, 15)) == date(2026, 4, 15)


@pytest.mark.parametrize("status", [CANCELLED, ENDED])
@pytest.mark.parametrize(
    "known_effective_date",
    [date(2026, 4, 30), date(2028, 2, 29), None],
)
def test_already_cancelled_or_ended_contract_raises_with_known_date(status: str,
                                                                    known_effective_date: date | None) -> None:
    done = contract(minimum_term_end=date(2026, 12, 31), status=status,
                    cancellation_effective_date=known_effective_date)
    with pytest.raises(AlreadyCancelled) as raised:
        effective_cancellation_date(done, date(2026, 3, 15))
    assert raised.value.effective_date == known_effective_date
    assert str(known_effective_date) in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_already_cancelled_is_raised_even_after_the_minimum_term() -> None:
    done = contract(minimum_term_end=date(2024, 1, 1), status=CANCELLED,
                    cancellation_effective_date=date(2026, 4, 15))
    with pytest.raises(AlreadyCancelled) as raised:
        effective_cancellation_date(done, date(2026, 4, 1))
    assert raised.value.effective_date == date(2026, 4, 15)


# -------------------------------------------------------------------------------------- next_monthly_date


@pytest.mark.parametrize(
    ("day_of_month", "not_before", "expected"),
    [
        (15, date(2026, 3, 10), date(2026, 3, 15)),
        (15, date(2026, 3, 15), date(2026, 3, 15)),  # due today is still to come
        (15, date(2026, 3, 16), date(2026, 4, 15)),
        (15, date(2026, 12, 20), date(2027, 1, 15)),  # year end
        # the 31st in short months, and back on the 31st afterwards
        (31, date(2026, 2, 1), date(2026, 2, 28)),
        (31, date(2026, 2, 28), date(2026, 2, 28)),
        (31, date(2026, 3, 1), date(2026, 3, 31)),
        (31, date(2026, 4, 1), date(2026, 4, 30)),
        (31, date(2026, 4, 30), date(2026, 4, 30)),
        (31, date(2026, 5, 1), date(2026, 5, 31)),
        (31, date(2026, 12, 31), date(2026, 12, 31)),
        (30, date(2026, 1, 31), date(2026, 2, 28)),
        (29, date(2026, 2, 1), date(2026, 2, 28)),
        (29, date(2028, 2, 1), date(2028, 2, 29)),  # leap year
        (29, date(2028, 3, 1), date(2028, 3, 29)),
        (1, date(2026, 1, 31), date(2026, 2, 1)),
        (1, date(2026, 12, 2), date(2027, 1, 1)),
    ],
)
def test_next_monthly_date_is_never_in_the_past(day_of_month: int, not_before: date, expected: date) -> None:
    assert next_monthly_date(day_of_month, not_before=not_before) == expected

